package app

import (
	"context"
	"net/url"

	"provisioner"
)

// The provisioner's own dashboard as a client of its authorization
// server: "Sign in with GitHub" (docs/dashboard.md).
//
// The dashboard is a built-in client rather than a registered one: its
// record is made from the configuration (the issuer and
// OAuthConfig.DashboardCallback) whenever it is asked for, never stored.
// So it never expires, costs no registration, and every process agrees on
// it, the Lambda's instances included: a login started on one instance
// and finished on another names the same client.

// DashboardClientID is the dashboard's client_id. Registered clients'
// ids are UUIDs, so none can take it.
const DashboardClientID = "provisioner-dashboard"

// dashboardScope is what the dashboard asks for: this API, nothing else.
// Its access token lives in a cookie of the provisioner's host that no
// cluster sees, so cluster audiences would only widen what a stolen token
// opens. As for every web client, production's rules apply: a member or an
// affiliate allowed provisioner:access gets "provisioner", anyone else has
// no audience and is refused (access_denied), and an owner is a member
// (owner tokens need sliderule:admin, which the web flow never grants).
const dashboardScope = provisioner.ScopeProvisioner

// dashboardClient is the dashboard's client record, when the server and
// the dashboard's callback are configured. It registers no refresh grant:
// the browser session is the access token's life (the jwt_user's TTL),
// and a refresh token would be one more secret to keep in the browser.
func (a *App) dashboardClient() (provisioner.OAuthClient, bool) {
	c := a.oauth.cfg
	if c.Upstream == nil || c.DashboardCallback == "" {
		return provisioner.OAuthClient{}, false
	}
	return provisioner.OAuthClient{ID: DashboardClientID, Name: "SlideRule Provisioner dashboard",
		RedirectURIs: []string{c.Issuer + c.DashboardCallback}, GrantTypes: []string{"authorization_code"},
		ResponseTypes: []string{"code"}, AuthMethod: "none", ChallengeMethod: "S256", Scope: dashboardScope}, true
}

// DashboardSignIn is the dashboard's "Sign in with GitHub" over the
// authorization server (web.SignIn): the authorization URL of the
// built-in client, and the code exchange at the token endpoint, in
// process. The browser goes through the same endpoints any web client's
// does (authorization, GitHub, callback), with the same checks.
type DashboardSignIn struct{ a *App }

// DashboardSignIn returns the dashboard's sign-in, nil when the
// authorization server is off or no DashboardCallback is configured.
func (a *App) DashboardSignIn() *DashboardSignIn {
	if _, ok := a.dashboardClient(); !ok {
		return nil
	}
	return &DashboardSignIn{a: a}
}

// RedirectURI is the dashboard's one redirect URI.
func (d *DashboardSignIn) RedirectURI() string {
	cl, _ := d.a.dashboardClient()
	return cl.RedirectURIs[0]
}

// AuthorizeURL is the authorization endpoint's URL for a sign-in started
// at redirectURI, which must be the dashboard's own (the issuer's origin):
// a page reached by another name (localhost for 127.0.0.1, another host
// name) is told where to sign in instead.
func (d *DashboardSignIn) AuthorizeURL(_ context.Context, redirectURI, state, challenge string) (string, error) {
	cl, ok := d.a.dashboardClient()
	if !ok {
		return "", provisioner.Errorf(provisioner.ENOTFOUND, "sign in with GitHub is not configured on this provisioner")
	}
	if redirectURI != cl.RedirectURIs[0] {
		return "", provisioner.Errorf(provisioner.EINVALID, "sign in with GitHub works at %s/ only: open the dashboard there", d.a.oauth.cfg.Issuer)
	}
	q := url.Values{"response_type": {"code"}, "client_id": {cl.ID}, "redirect_uri": {redirectURI}, "state": {state},
		"scope": {cl.Scope}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	return d.a.oauth.cfg.Issuer + OAuthAuthorizePath + "?" + q.Encode(), nil
}

// Exchange redeems the code the dashboard's callback got, as the token
// endpoint does (PKCE, single use, bound to the client and redirect URI,
// login limits for src, audited login.oauth), and returns the LOGIN: a
// jwt_user with its session, which the grant's revocation ends and whose
// logout revokes the grant.
func (d *DashboardSignIn) Exchange(ctx context.Context, src, code, verifier, redirectURI string) (Login, error) {
	res, err := d.a.Token(ctx, src, TokenRequest{GrantType: "authorization_code", ClientID: DashboardClientID,
		Code: code, RedirectURI: redirectURI, CodeVerifier: verifier})
	if err != nil {
		return Login{}, err
	}
	return res.Login, nil
}
