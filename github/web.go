package github

import (
	"context"
	"net/url"

	"provisioner"
)

var _ provisioner.WebFlow = (*Provider)(nil)

// webScope lets the token read org and team memberships, as production's
// login service asks for.
const webScope = "read:org"

// maxWebCodeLen bounds the code GitHub's redirect hands us; GitHub's are
// 20 characters.
const maxWebCodeLen = 256

// WebConfigured tells whether the web application flow can run: it needs
// the OAuth app's client id and secret.
func (c Config) WebConfigured() bool { return c.ClientID != "" && c.ClientSecret != "" }

func (p *Provider) webConfigured() error {
	if !p.cfg.WebConfigured() {
		return provisioner.Errorf(provisioner.ENOTFOUND, "GitHub web login is not configured: set --github-client-id and --github-client-secret")
	}
	return nil
}

// AuthorizeURL is GitHub's authorize page for the provisioner's OAuth app:
// the user signs in there, and GitHub sends the browser to callback with a
// code and state.
func (p *Provider) AuthorizeURL(state, callback string) (string, error) {
	if err := p.webConfigured(); err != nil {
		return "", err
	}
	q := url.Values{"client_id": {p.cfg.ClientID}, "redirect_uri": {callback}, "scope": {webScope}, "state": {state}}
	return p.cfg.WebURL + "/login/oauth/authorize?" + q.Encode(), nil
}

// ExchangeWeb trades GitHub's code for the user's token, then resolves the
// user (Via "oauth") as a PAT login does. The token is used for the
// lookups and dropped: the membership re-checks use the operator's token.
func (p *Provider) ExchangeWeb(ctx context.Context, code, callback string) (provisioner.User, error) {
	if err := p.webConfigured(); err != nil {
		return provisioner.User{}, err
	}
	if code == "" || len(code) > maxWebCodeLen {
		return provisioner.User{}, provisioner.Errorf(provisioner.EUNAUTHORIZED, "invalid GitHub code")
	}
	for i := 0; i < len(code); i++ {
		if code[i] < 0x21 || code[i] > 0x7e {
			return provisioner.User{}, provisioner.Errorf(provisioner.EUNAUTHORIZED, "invalid GitHub code")
		}
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	a, err := p.postForm(ctx, "/login/oauth/access_token", url.Values{
		"client_id":     {p.cfg.ClientID},
		"client_secret": {p.cfg.ClientSecret},
		"code":          {code},
		"redirect_uri":  {callback},
	})
	if err != nil {
		return provisioner.User{}, err
	}
	switch a.Error {
	case "":
	case "bad_verification_code":
		return provisioner.User{}, provisioner.Errorf(provisioner.EUNAUTHORIZED, "GitHub refused the code: expired or used")
	case "incorrect_client_credentials", "redirect_uri_mismatch", "unverified_user_email", "unsupported_grant_type":
		// Our configuration (or the user's account), not the caller.
		return provisioner.User{}, provisioner.Errorf(provisioner.EUNAVAILABLE, "GitHub refused the provisioner's OAuth app (%s); check --github-client-id, --github-client-secret and the app's callback URL", truncate(a.Error, 64))
	default:
		return provisioner.User{}, provisioner.Errorf(provisioner.EUNAUTHORIZED, "GitHub refused the login (%s)", truncate(a.Error, 64))
	}
	if a.AccessToken == "" {
		return provisioner.User{}, provisioner.Errorf(provisioner.EUNAVAILABLE, "GitHub answered the code exchange without a token")
	}
	return p.resolve(ctx, a.AccessToken, "oauth")
}
