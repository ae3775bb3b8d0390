package github_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"provisioner"
	"provisioner/github"
	"provisioner/github/githubtest"
)

const (
	secret   = "s3cret"
	callback = "https://login.example.org/auth/github/callback"
)

// authorize visits the fake's authorize page as a browser would and
// returns the query GitHub redirected back with.
func authorize(t *testing.T, srv *githubtest.Server, p *github.Provider, state string) url.Values {
	t.Helper()
	u, err := p.AuthorizeURL(state, callback)
	if err != nil {
		t.Fatal(err)
	}
	c := srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil || !strings.HasPrefix(loc.String(), callback+"?") {
		t.Fatalf("authorize: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return loc.Query()
}

// TestWebFlow: the authorize URL carries the app, callback, read:org and
// state; the code GitHub returns exchanges, once, for the signed-in user,
// resolved with a level like any login.
func TestWebFlow(t *testing.T) {
	srv := githubtest.New(t)
	srv.AddUser("tok-ada", "ada", 3)
	srv.SetOrgMembership("ada", org, "active", "admin")
	srv.SetOAuthApp(clientID, secret)
	p := newProvider(t, srv, func(c *github.Config) { c.ClientSecret = secret })
	ctx := context.Background()

	u, err := p.AuthorizeURL("st-1", callback)
	if err != nil {
		t.Fatal(err)
	}
	pu, _ := url.Parse(u)
	if q := pu.Query(); pu.Path != "/login/oauth/authorize" || q.Get("client_id") != clientID || q.Get("redirect_uri") != callback ||
		q.Get("scope") != "read:org" || q.Get("state") != "st-1" {
		t.Fatalf("AuthorizeURL = %s", u)
	}

	srv.SignInWeb("tok-ada")
	q := authorize(t, srv, p, "st-1")
	if q.Get("state") != "st-1" || q.Get("code") == "" {
		t.Fatalf("GitHub redirected with %v", q)
	}
	user, err := p.ExchangeWeb(ctx, q.Get("code"), callback)
	if err != nil {
		t.Fatal(err)
	}
	if user.Login != "ada" || user.ID != 3 || user.Level != provisioner.LevelAdmin || user.Via != "oauth" {
		t.Fatalf("user = %+v", user)
	}
	if f := srv.LastForm("/login/oauth/access_token"); f.Get("client_secret") != secret || f.Get("redirect_uri") != callback {
		t.Fatalf("exchange form = %v", f)
	}
	_, err = p.ExchangeWeb(ctx, q.Get("code"), callback)
	wantCode(t, err, provisioner.EUNAUTHORIZED) // used

	// A code for another callback, a wrong secret, junk and GitHub down.
	q = authorize(t, srv, p, "st-2")
	_, err = p.ExchangeWeb(ctx, q.Get("code"), "https://elsewhere.example.org/cb")
	wantCode(t, err, provisioner.EUNAVAILABLE)
	wrong := newProvider(t, srv, func(c *github.Config) { c.ClientSecret = "wrong" })
	q = authorize(t, srv, p, "st-3")
	_, err = wrong.ExchangeWeb(ctx, q.Get("code"), callback)
	wantCode(t, err, provisioner.EUNAVAILABLE)
	for _, bad := range []string{"", "a b", strings.Repeat("x", 300)} {
		_, err = p.ExchangeWeb(ctx, bad, callback)
		wantCode(t, err, provisioner.EUNAUTHORIZED)
	}
	srv.Fail(http.StatusBadGateway)
	_, err = p.ExchangeWeb(ctx, "abc", callback)
	wantCode(t, err, provisioner.EUNAVAILABLE)
	srv.Fail(0)

	// The user refuses the app.
	srv.DenyWeb()
	if q := authorize(t, srv, p, "st-4"); q.Get("error") != "access_denied" || q.Get("state") != "st-4" || q.Get("code") != "" {
		t.Fatalf("denied: %v", q)
	}
}

// TestWebFlowNeedsSecret: without the app's secret there is no web flow,
// and a secret without a client id is a configuration error.
func TestWebFlowNeedsSecret(t *testing.T) {
	srv := githubtest.New(t)
	p := newProvider(t, srv, nil)
	_, err := p.AuthorizeURL("s", callback)
	wantCode(t, err, provisioner.ENOTFOUND)
	_, err = p.ExchangeWeb(context.Background(), "c", callback)
	wantCode(t, err, provisioner.ENOTFOUND)
	for _, c := range []github.Config{{ClientSecret: "x"}, {ClientID: "id", ClientSecret: "a b"}} {
		if _, err := github.New(c); err == nil {
			t.Errorf("New(%+v) accepted", c)
		}
	}
}
