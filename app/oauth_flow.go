package app

import (
	"context"
	"crypto/subtle"
	"net/url"
	"slices"
	"strings"
	"time"

	"provisioner"
)

// The browser side of the authorization server: the authorization
// endpoint, the basic login, and GitHub's callback.

// AuthorizeRequest is the query of the authorization endpoint
// (GET /auth/github/login), production's parameters.
type AuthorizeRequest struct {
	ResponseType, ClientID, RedirectURI, State, Scope string
	CodeChallenge, ChallengeMethod, Resource          string
}

// Redirect is where a step of the flow sends the browser.
type Redirect struct {
	URL string
	// Browser, when set, is the browser-binding cookie's value to set:
	// the callback accepts a request only from the browser that made it.
	Browser string
	// Token, when set, is the basic login's token, for the token cookie.
	Token *Login
}

// browserLen is the length of a browser-binding value (256 bits).
const browserLen = 43

// maxState bounds the client's state we carry.
const maxState = 1024

// oauthRedirect is the client's redirect URI with params added to its
// query, which RFC 6749 §3.1.2 says to keep.
func oauthRedirect(uri string, params url.Values) string {
	u, err := url.Parse(uri)
	if err != nil {
		return uri // stored and checked at registration; never reached
	}
	q := u.Query()
	for k, vs := range params {
		for _, v := range vs {
			if v != "" {
				q.Add(k, v)
			}
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// errorRedirect sends the browser back to a client's (valid) redirect URI
// with an RFC 6749 error.
func errorRedirect(uri, state string, err error) Redirect {
	code := provisioner.ErrorCode(err)
	switch code {
	case provisioner.EINVALID, provisioner.EDENIED, provisioner.EUNAUTHCLIENT, provisioner.EUNSUPPORTEDRESPONSE, provisioner.EINVALIDSCOPE:
	case provisioner.EUNAVAILABLE, provisioner.ERATELIMITED:
		code = "temporarily_unavailable"
	case provisioner.EUNAUTHORIZED, provisioner.EFORBIDDEN:
		code = provisioner.EDENIED
	default:
		code = "server_error"
	}
	desc := provisioner.ErrorMessage(err)
	return Redirect{URL: oauthRedirect(uri, url.Values{"error": {code}, "error_description": {desc}, "state": {state}})}
}

// browserBinding returns the browser's binding value: the one it holds
// if well formed, else a new one.
func browserBinding(held string) string {
	if len(held) == browserLen && strings.Trim(held, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == "" {
		return held
	}
	return randomToken(32)
}

// Authorize is the authorization endpoint: it checks the request and
// sends the browser to GitHub. An unknown client, or a redirect URI that
// is not exactly one the client registered on an allowed host, is an
// error answered to the browser (never a redirect there); other errors go
// back to the client's redirect URI (Redirect with error=). browser is the
// browser-binding cookie's value, if any.
func (a *App) Authorize(ctx context.Context, src string, r AuthorizeRequest, browser string) (Redirect, error) {
	now, release, err := a.oauthBegin(src)
	if err != nil {
		return Redirect{}, err
	}
	defer release()
	cl, err := a.oauthClient(ctx, r.ClientID)
	if err != nil {
		return Redirect{}, provisioner.Errorf(provisioner.EINVALID, "%s", provisioner.ErrorMessage(err))
	}
	if !slices.Contains(cl.RedirectURIs, r.RedirectURI) {
		return Redirect{}, provisioner.Errorf(provisioner.EINVALID, "redirect_uri is not one the client registered")
	}
	if err := a.allowedRedirect(r.RedirectURI); err != nil {
		return Redirect{}, err
	}
	fail := func(err error) (Redirect, error) { return errorRedirect(r.RedirectURI, r.State, err), nil }
	switch {
	case r.ResponseType != "code" || !slices.Contains(cl.ResponseTypes, "code"):
		return fail(provisioner.Errorf(provisioner.EUNSUPPORTEDRESPONSE, "response_type must be code"))
	case r.ChallengeMethod != "S256":
		return fail(provisioner.Errorf(provisioner.EINVALID, "PKCE is required: code_challenge_method must be S256"))
	case !validChallenge(r.CodeChallenge):
		return fail(provisioner.Errorf(provisioner.EINVALID, "code_challenge must be BASE64URL(SHA256(code_verifier)), 43 characters"))
	case r.State == "" || len(r.State) > maxState:
		return fail(provisioner.Errorf(provisioner.EINVALID, "state is required (at most %d characters)", maxState))
	}
	registered := strings.Fields(cl.Scope)
	scope := strings.Fields(r.Scope)
	if len(scope) == 0 {
		scope = registered
	}
	for _, s := range scope {
		if !slices.Contains(registered, s) {
			return fail(provisioner.Errorf(provisioner.EINVALIDSCOPE, "scope %q was not registered by the client", s))
		}
	}
	if r.Resource != "" {
		if err := a.checkResource(r.Resource); err != nil {
			return fail(err)
		}
	}
	b := browserBinding(browser)
	req := provisioner.OAuthRequest{ID: randomToken(32), Browser: secretHash(b), ClientID: cl.ID, RedirectURI: r.RedirectURI,
		State: r.State, Scope: scope, CodeChallenge: r.CodeChallenge, Resource: r.Resource, Created: now, Expires: now.Add(a.oauth.cfg.RequestTTL)}
	return a.toGitHub(ctx, req, b)
}

// BasicLogin starts production's basic login: for trusted internal
// services (a cluster's ILB, Grafana), whose token comes back in a cookie
// at redirectURI, which must be on a trusted host.
func (a *App) BasicLogin(ctx context.Context, src, redirectURI, browser string) (Redirect, error) {
	now, release, err := a.oauthBegin(src)
	if err != nil {
		return Redirect{}, err
	}
	defer release()
	if err := checkRedirectURI(redirectURI); err != nil {
		return Redirect{}, provisioner.Errorf(provisioner.EINVALID, "%s", provisioner.ErrorMessage(err))
	}
	if !a.firstParty(redirectURI) {
		return Redirect{}, provisioner.Errorf(provisioner.EINVALID, "redirect_uri is not on a trusted host")
	}
	b := browserBinding(browser)
	req := provisioner.OAuthRequest{ID: randomToken(32), Browser: secretHash(b), ClientID: provisioner.BasicClientID,
		RedirectURI: redirectURI, Created: now, Expires: now.Add(a.oauth.cfg.RequestTTL)}
	return a.toGitHub(ctx, req, b)
}

func (a *App) toGitHub(ctx context.Context, req provisioner.OAuthRequest, browser string) (Redirect, error) {
	u, err := a.oauth.cfg.Upstream.AuthorizeURL(req.ID, a.oauth.cfg.Issuer+OAuthCallbackPath)
	if err != nil {
		return Redirect{}, err
	}
	if err := a.store.CreateOAuthRequest(ctx, req); err != nil {
		return Redirect{}, err
	}
	return Redirect{URL: u, Browser: browser}, nil
}

// allowedRedirect refuses a redirect URI on neither the trusted nor the
// third-party hosts: production completes no login there.
func (a *App) allowedRedirect(uri string) error {
	if err := checkRedirectURI(uri); err != nil {
		return provisioner.Errorf(provisioner.EINVALID, "%s", provisioner.ErrorMessage(err))
	}
	if !a.firstParty(uri) && !hostIn(uri, a.oauth.cfg.ThirdPartyHosts) {
		return provisioner.Errorf(provisioner.EINVALID, "redirect_uri's host is neither a trusted nor a third-party redirect host of this provisioner")
	}
	return nil
}

// checkResource is production's check of a resource indicator (RFC
// 8707): https, on a host directly under the domain.
func (a *App) checkResource(resource string) error {
	u, err := url.Parse(resource)
	if err != nil || u.Scheme != "https" || u.Hostname() == "" || len(resource) > maxURI {
		return provisioner.Errorf(provisioner.EINVALID, "resource must be an https URL")
	}
	_, parent, _ := strings.Cut(strings.ToLower(u.Hostname()), ".")
	if parent != a.oauth.cfg.Domain {
		return provisioner.Errorf(provisioner.EINVALID, "resource must be on a host of %s", a.oauth.cfg.Domain)
	}
	return nil
}

// validChallenge: a S256 challenge is 32 bytes, base64url without padding.
func validChallenge(c string) bool {
	return len(c) == browserLen && strings.Trim(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == ""
}

// oauthClient returns a registered client that has not expired.
func (a *App) oauthClient(ctx context.Context, id string) (provisioner.OAuthClient, error) {
	if id == "" {
		return provisioner.OAuthClient{}, provisioner.Errorf(provisioner.EINVALIDCLIENT, "client_id is required")
	}
	if id == DashboardClientID {
		if cl, ok := a.dashboardClient(); ok {
			return cl, nil
		}
		return provisioner.OAuthClient{}, provisioner.Errorf(provisioner.EINVALIDCLIENT, "this provisioner's dashboard signs in with a token only")
	}
	cl, err := a.store.GetOAuthClient(ctx, id)
	if provisioner.ErrorCode(err) == provisioner.ENOTFOUND || (err == nil && !a.now().Before(cl.Expires)) {
		return provisioner.OAuthClient{}, provisioner.Errorf(provisioner.EINVALIDCLIENT, "unknown or expired client_id; register again")
	}
	return cl, err
}

// CallbackRequest is GitHub's redirect to the callback.
type CallbackRequest struct {
	Code, State, Error, ErrorDescription string
}

// Callback completes the GitHub leg: it takes the pending request the
// state names (only from the browser that made it), exchanges GitHub's
// code for the user, and sends the browser back to the client with a
// one-time code (or, for the basic login, with the token cookie). A state
// that is unknown, used, expired or from another browser is an error
// answered to the browser: nothing says where to send it.
func (a *App) Callback(ctx context.Context, src string, cb CallbackRequest, browser string) (Redirect, error) {
	now, release, err := a.oauthBegin(src)
	if err != nil {
		return Redirect{}, err
	}
	defer release()
	lost := provisioner.Errorf(provisioner.EINVALID, "this login is unknown, used, expired or was started in another browser; start again")
	if cb.State == "" || len(cb.State) > 64 || len(browser) != browserLen {
		return Redirect{}, lost
	}
	r, err := a.store.TakeOAuthRequest(ctx, cb.State)
	if provisioner.ErrorCode(err) == provisioner.ENOTFOUND {
		return Redirect{}, lost
	}
	if err != nil {
		return Redirect{}, err
	}
	if subtle.ConstantTimeCompare([]byte(secretHash(browser)), []byte(r.Browser)) != 1 || !now.Before(r.Expires) {
		return Redirect{}, lost
	}
	basic := r.ClientID == provisioner.BasicClientID
	c := Caller{Source: src}
	action := "oauth.authorize"
	if basic {
		action = "login.basic"
	}
	var u provisioner.User
	switch {
	case cb.Error != "":
		err = provisioner.Errorf(provisioner.EDENIED, "GitHub: %s", truncate(firstOf(cb.ErrorDescription, cb.Error), 200))
	case cb.Code == "":
		err = provisioner.Errorf(provisioner.EDENIED, "GitHub returned no code")
	default:
		u, err = a.oauth.cfg.Upstream.ExchangeWeb(ctx, cb.Code, a.oauth.cfg.Issuer+OAuthCallbackPath)
		c.User = u
	}
	if err == nil && basic {
		var l Login
		if l, _, err = a.oauthToken(ctx, u, guestScopes); err == nil {
			_, err = a.endLogin(ctx, c, src, action, now, l, nil)
		}
		if err == nil {
			return Redirect{URL: r.RedirectURI, Token: &l}, nil
		}
	}
	if err == nil {
		var code string
		if code, err = a.issueCode(ctx, r, u, now); err == nil {
			if err = a.audit(ctx, c, action, r.ClientID, nil, ""); err == nil {
				return Redirect{URL: oauthRedirect(r.RedirectURI, url.Values{"code": {code}, "state": {r.State}})}, nil
			}
		}
	}
	a.endLogin(ctx, c, src, action, now, Login{}, err)
	if basic {
		return Redirect{}, err
	}
	return errorRedirect(r.RedirectURI, r.State, err), nil
}

// issueCode applies production's scope rules to a request GitHub vouched
// for and stores a one-time code for it. The scope: the requested (else
// registered) one, plus the MCP scopes for a resource on the MCP host;
// a client redirecting to a third-party host keeps the MCP scopes only
// (production's reduced audience). A scope that gives the user no
// audience is refused now rather than at the token endpoint.
func (a *App) issueCode(ctx context.Context, r provisioner.OAuthRequest, u provisioner.User, now time.Time) (string, error) {
	scope := slices.Clone(r.Scope)
	if ru, err := url.Parse(r.Resource); err == nil && r.Resource != "" && strings.EqualFold(ru.Hostname(), "mcp."+a.oauth.cfg.Domain) {
		for _, s := range thirdPartyScopes {
			if !slices.Contains(scope, s) {
				scope = append(scope, s)
			}
		}
	}
	if hostIn(r.RedirectURI, a.oauth.cfg.ThirdPartyHosts) {
		scope = slices.DeleteFunc(scope, func(s string) bool { return !slices.Contains(thirdPartyScopes, s) })
	}
	if len(scope) == 0 {
		return "", provisioner.Errorf(provisioner.EINVALIDSCOPE, "no scope this client may be granted: a third-party client gets the MCP scopes only (%s)", strings.Join(thirdPartyScopes, " "))
	}
	if _, _, _, err := a.scoped(ctx, u, scope); err != nil {
		return "", err
	}
	code := randomToken(32)
	err := a.store.CreateOAuthCode(ctx, provisioner.OAuthCode{Hash: secretHash(code), ClientID: r.ClientID, RedirectURI: r.RedirectURI,
		CodeChallenge: r.CodeChallenge, Scope: scope, User: u, Created: now, Expires: now.Add(a.oauth.cfg.CodeTTL)})
	return code, err
}

func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
