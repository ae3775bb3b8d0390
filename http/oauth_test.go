package http_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"provisioner"
	"provisioner/app"
	phttp "provisioner/http"
	"provisioner/ratelimit"
	"provisioner/testkit"
)

// The OAuth tests drive the authorization server the way its clients do:
// a standard client library (golang.org/x/oauth2) for registration's
// client, the code exchange and refreshes, and a cookie-keeping "browser"
// through /auth/github/login, the fake GitHub's authorize page and the
// callback. Every answer is checked against api/openapi.yaml, and those
// at production's paths against production's authenticator spec.

const (
	webRedirect = "https://app.example.org/callback"
	mcpRedirect = "https://claude.ai/api/mcp/auth_callback"
)

type oauthEnv struct {
	*env
	clock   *testkit.Clock
	browser *http.Client
}

// newOAuthEnv is the service with the authorization server on: trusted
// redirect host app.example.org, third-party claude.ai, domain example.org,
// the membership re-check on; its app clock can be moved.
func newOAuthEnv(t *testing.T, opts ...func(*app.Config)) *oauthEnv {
	t.Helper()
	clock := testkit.NewLiveClock()
	e := newEnv(t, func(a *app.Config, h *phttp.Config) {
		a.Now = clock.Now
		a.OAuth = app.OAuthConfig{Upstream: a.Identity.(provisioner.WebFlow), Issuer: h.Issuer, Domain: "example.org",
			TrustedHosts: []string{"app.example.org", "example.org"}, ThirdPartyHosts: []string{"claude.ai"}}
		a.Membership = a.Identity.(provisioner.MembershipChecker)
		for _, o := range opts {
			o(a)
		}
	})
	jar, _ := cookiejar.New(nil)
	// The browser follows redirects between the provisioner and GitHub and
	// stops at any other host: the client's redirect URI.
	srv, gh := e.srv.URL, e.gh.URL()
	browser := &http.Client{Jar: jar, Transport: e.srv.Client().Transport, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if u := req.URL.Scheme + "://" + req.URL.Host; u != srv && u != gh {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	return &oauthEnv{env: e, clock: clock, browser: browser}
}

// registerClient registers a client and returns its id.
func (e *oauthEnv) registerClient(redirect string, grants []string, scope string) string {
	e.t.Helper()
	body := map[string]any{"redirect_uris": []string{redirect}, "client_name": "test client", "logo_uri": "https://app.example.org/logo.png"}
	if grants != nil {
		body["grant_types"] = grants
	}
	if scope != "" {
		body["scope"] = scope
	}
	r := e.do("POST", "/auth/github/register", "", body)
	if r.status != http.StatusCreated || r.str("client_id") == "" {
		e.t.Fatalf("register: %d %s", r.status, r.raw)
	}
	return r.str("client_id")
}

// config is the client's x/oauth2 configuration.
func (e *oauthEnv) config(clientID, redirect string, scopes ...string) *oauth2.Config {
	return &oauth2.Config{ClientID: clientID, RedirectURL: redirect, Scopes: scopes,
		Endpoint: oauth2.Endpoint{AuthURL: e.srv.URL + "/auth/github/login", TokenURL: e.srv.URL + "/auth/github/token",
			AuthStyle: oauth2.AuthStyleInParams}}
}

func (e *oauthEnv) ctx() context.Context {
	return context.WithValue(context.Background(), oauth2.HTTPClient, e.srv.Client())
}

// browse opens u in the browser and returns where it was sent at the end
// (the Location of the last redirect) and the last answer.
func (e *oauthEnv) browse(u string) (*url.URL, *http.Response) {
	e.t.Helper()
	resp, err := e.browser.Get(u)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := resp.Location()
	return loc, resp
}

// authorize runs the browser part of a login and returns the query the
// client's redirect URI got.
func (e *oauthEnv) authorize(conf *oauth2.Config, state string, opts ...oauth2.AuthCodeOption) url.Values {
	e.t.Helper()
	loc, resp := e.browse(conf.AuthCodeURL(state, opts...))
	if loc == nil || !strings.HasPrefix(loc.String(), conf.RedirectURL+"?") {
		e.t.Fatalf("authorization ended with %d at %v", resp.StatusCode, loc)
	}
	return loc.Query()
}

// login runs a whole login as the owner of ghToken and returns the tokens.
func (e *oauthEnv) login(conf *oauth2.Config, ghToken string, opts ...oauth2.AuthCodeOption) *oauth2.Token {
	e.t.Helper()
	e.gh.SignInWeb(ghToken)
	verifier := oauth2.GenerateVerifier()
	q := e.authorize(conf, "st-"+ghToken, append(opts, oauth2.S256ChallengeOption(verifier))...)
	if q.Get("state") != "st-"+ghToken || q.Get("code") == "" {
		e.t.Fatalf("redirected with %v", q)
	}
	tok, err := conf.Exchange(e.ctx(), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		e.t.Fatalf("exchange: %v", err)
	}
	return tok
}

// claims decodes a token's payload (already verified by the server).
func claims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func strs(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

// wantGrantError fails unless err is the token endpoint's RFC 6749 error code.
func wantGrantError(t *testing.T, err error, code string) {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != code || re.ErrorDescription == "" {
		t.Fatalf("err = %v, want the token endpoint's %s", err, code)
	}
}

func (e *oauthEnv) whoami(tok string) int {
	e.t.Helper()
	return e.do("GET", "/auth/whoami", tok, nil).status
}

// TestOAuthConformance is the web client's whole life: discovery,
// registration, login through GitHub, code, token, refresh, reuse
// detection, revocation by logout and by RFC 7009.
func TestOAuthConformance(t *testing.T) {
	e := newOAuthEnv(t)
	e.register("pub1", true)

	md := e.do("GET", "/.well-known/oauth-authorization-server", "", nil)
	if md.status != 200 || md.str("issuer") != e.srv.URL || md.str("authorization_endpoint") != e.srv.URL+"/auth/github/login" ||
		md.str("token_endpoint") != e.srv.URL+"/auth/github/token" || md.str("registration_endpoint") != e.srv.URL+"/auth/github/register" ||
		!slices.Equal(strs(md.body["code_challenge_methods_supported"]), []string{"S256"}) ||
		!slices.Equal(strs(md.body["grant_types_supported"]), []string{"authorization_code", "refresh_token"}) {
		t.Fatalf("metadata: %d %s", md.status, md.raw)
	}

	id := e.registerClient(webRedirect, []string{"authorization_code", "refresh_token"}, "sliderule:access provisioner:access monitor:access runner:access")
	conf := e.config(id, webRedirect, "provisioner:access", "sliderule:access")
	tok := e.login(conf, "tok-org")
	c := claims(t, tok.AccessToken)
	if c["sub"] != "otto" || !slices.Equal(strs(c["aud"]), []string{"provisioner", "pub1"}) || !slices.Equal(strs(c["org_roles"]), []string{"member"}) {
		t.Fatalf("access token claims %v", c)
	}
	if tok.RefreshToken == "" || tok.TokenType != "Bearer" || tok.Extra("scope") != "provisioner:access sliderule:access" || tok.Expiry.IsZero() {
		t.Fatalf("token %+v scope %v", tok, tok.Extra("scope"))
	}
	if info, _ := tok.Extra("info").(map[string]any); info["username"] != "otto" || info["isOrgMember"] != "true" || info["isOrgOwner"] != "false" {
		t.Fatalf("info %v", tok.Extra("info"))
	}
	if s := e.whoami(tok.AccessToken); s != 200 {
		t.Fatalf("whoami with the access token: %d", s)
	}

	// Refresh: a new access token and a new refresh token.
	expired := &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Minute)}
	tok2, err := conf.TokenSource(e.ctx(), expired).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if tok2.AccessToken == tok.AccessToken || tok2.RefreshToken == tok.RefreshToken || tok2.RefreshToken == "" || e.whoami(tok2.AccessToken) != 200 {
		t.Fatalf("refreshed token %+v", tok2)
	}

	// Reuse of the first refresh token: refused, and the grant is gone:
	// the current refresh token and its access token stop working too.
	_, err = conf.TokenSource(e.ctx(), expired).Token()
	wantGrantError(t, err, "invalid_grant")
	_, err = conf.TokenSource(e.ctx(), &oauth2.Token{RefreshToken: tok2.RefreshToken}).Token()
	wantGrantError(t, err, "invalid_grant")
	if s := e.whoami(tok2.AccessToken); s != 401 {
		t.Fatalf("access token of a reused grant: whoami %d, want 401", s)
	}
	if a, _ := e.store.ListAudit(context.Background(), provisioner.AuditFilter{Action: "oauth.refresh.reuse"}); len(a) != 1 || a[0].Actor != "otto" {
		t.Fatalf("reuse audit: %+v", a)
	}
	for _, action := range []string{"oauth.register", "oauth.authorize", "login.oauth", "oauth.refresh"} {
		a, _ := e.store.ListAudit(context.Background(), provisioner.AuditFilter{Action: action})
		if !slices.ContainsFunc(a, func(a provisioner.AuditEntry) bool {
			return a.Result == "success" && a.Actor != "" || action == "oauth.register"
		}) {
			t.Errorf("no successful %s in the audit trail: %+v", action, a)
		}
	}

	// Logout ends the grant: its refresh token is refused.
	tok3 := e.login(conf, "tok-org")
	if r := e.do("POST", "/auth/logout", tok3.AccessToken, nil); r.status != 200 {
		t.Fatalf("logout: %d %s", r.status, r.raw)
	}
	_, err = conf.TokenSource(e.ctx(), &oauth2.Token{RefreshToken: tok3.RefreshToken}).Token()
	wantGrantError(t, err, "invalid_grant")

	// So does an admin's revocation of the user's sessions.
	tok4 := e.login(conf, "tok-org")
	if r := e.do("POST", "/users/otto/revoke", e.env.login("tok-admin"), nil); r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.raw)
	}
	_, err = conf.TokenSource(e.ctx(), &oauth2.Token{RefreshToken: tok4.RefreshToken}).Token()
	wantGrantError(t, err, "invalid_grant")

	// And RFC 7009 revocation of the refresh token, with its access token.
	tok5 := e.login(conf, "tok-org")
	form := url.Values{"token": {tok5.RefreshToken}, "client_id": {id}}.Encode()
	if r := e.do("POST", "/auth/revoke", "", form, "Content-Type", "application/x-www-form-urlencoded"); r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.raw)
	}
	_, err = conf.TokenSource(e.ctx(), &oauth2.Token{RefreshToken: tok5.RefreshToken}).Token()
	wantGrantError(t, err, "invalid_grant")
	if s := e.whoami(tok5.AccessToken); s != 401 {
		t.Fatalf("access token of a revoked grant: whoami %d, want 401", s)
	}

	for _, p := range []string{"/.well-known/oauth-authorization-server", "/auth/github/register", "/auth/github/login", "/auth/github/callback", "/auth/github/token"} {
		if !e.spec.prodSeen[p] {
			t.Errorf("no answer at %s was checked against production's authenticator spec", p)
		}
	}
}

// TestOAuthRefusals: what the authorization server must refuse.
func TestOAuthRefusals(t *testing.T) {
	e := newOAuthEnv(t, func(a *app.Config) { a.OAuth.Register = ratelimit.Limit{Rate: 1.0 / 3600, Burst: 12} })
	id := e.registerClient(webRedirect, nil, "sliderule:access provisioner:access")
	other := e.registerClient(webRedirect, nil, "sliderule:access provisioner:access")
	loopback := e.registerClient("http://127.0.0.1:8976/cb", nil, "") // native apps may register loopback URIs
	conf := e.config(id, webRedirect, "provisioner:access")
	e.gh.SignInWeb("tok-org")

	t.Run("registration", func(t *testing.T) {
		for _, uris := range [][]string{nil, {}, {"http://app.example.org/cb"}, {"https://app.example.org/cb#frag"},
			{"http://localhost.evil.example/cb"}, {"javascript:alert(1)"}, {"https://user@app.example.org/cb"}, {"/relative"}} {
			r := e.do("POST", "/auth/github/register", "", map[string]any{"redirect_uris": uris})
			wantError(t, r, 400, provisioner.EINVALIDREDIRECT)
		}
		for _, body := range []map[string]any{
			{"redirect_uris": []string{webRedirect}, "code_challenge_method": "plain"},
			{"redirect_uris": []string{webRedirect}, "token_endpoint_auth_method": "client_secret_basic"},
			{"redirect_uris": []string{webRedirect}, "grant_types": []string{"implicit"}},
			{"redirect_uris": []string{webRedirect}, "response_types": []string{"token"}},
			{"redirect_uris": []string{webRedirect}, "scope": "sliderule:admin"},
		} {
			wantError(t, e.do("POST", "/auth/github/register", "", body), 400, provisioner.EINVALIDMETADATA)
		}
	})

	t.Run("bad redirect", func(t *testing.T) {
		// Not the registered URI, or a registered one on a host the
		// provisioner completes no login for (a loopback URI, fine for
		// registration, unless the operator lists it): an error page,
		// never a redirect.
		for _, u := range []string{
			e.config(id, "https://app.example.org/other").AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())),
			e.config(id, "https://evil.example/cb").AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())),
			e.config(loopback, "http://127.0.0.1:8976/cb").AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())),
			e.config("no-such-client", webRedirect).AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())),
		} {
			loc, resp := e.browse(u)
			if resp.StatusCode != 400 || loc != nil {
				t.Errorf("%s: %d to %v, want a 400 and no redirect", u, resp.StatusCode, loc)
			}
		}
	})

	t.Run("PKCE", func(t *testing.T) {
		v := oauth2.GenerateVerifier()
		for name, opts := range map[string][]oauth2.AuthCodeOption{
			"missing":   nil,
			"plain":     {oauth2.SetAuthURLParam("code_challenge", v), oauth2.SetAuthURLParam("code_challenge_method", "plain")},
			"no method": {oauth2.SetAuthURLParam("code_challenge", oauth2.S256ChallengeFromVerifier(v))},
		} {
			q := e.authorize(conf, "st", opts...)
			if q.Get("error") != "invalid_request" || q.Get("state") != "st" || q.Get("code") != "" {
				t.Errorf("%s PKCE: redirected with %v", name, q)
			}
		}
	})

	// code runs the browser part and returns a code and its verifier.
	code := func(conf *oauth2.Config) (string, string) {
		v := oauth2.GenerateVerifier()
		q := e.authorize(conf, "st", oauth2.S256ChallengeOption(v))
		if q.Get("code") == "" {
			t.Fatalf("no code: %v", q)
		}
		return q.Get("code"), v
	}

	t.Run("replayed code", func(t *testing.T) {
		c, v := code(conf)
		tok, err := conf.Exchange(e.ctx(), c, oauth2.VerifierOption(v))
		if err != nil {
			t.Fatal(err)
		}
		_, err = conf.Exchange(e.ctx(), c, oauth2.VerifierOption(v))
		wantGrantError(t, err, "invalid_grant")
		// What the code granted is revoked.
		if s := e.whoami(tok.AccessToken); s != 401 {
			t.Fatalf("access token of a replayed code: whoami %d", s)
		}
		if a, _ := e.store.ListAudit(context.Background(), provisioner.AuditFilter{Action: "oauth.code.replay"}); len(a) != 1 {
			t.Fatalf("replay audit: %+v", a)
		}
	})

	t.Run("wrong verifier", func(t *testing.T) {
		c, v := code(conf)
		_, err := conf.Exchange(e.ctx(), c, oauth2.VerifierOption(oauth2.GenerateVerifier()))
		wantGrantError(t, err, "invalid_grant")
		_, err = conf.Exchange(e.ctx(), c, oauth2.VerifierOption(v)) // burnt by the failed try
		wantGrantError(t, err, "invalid_grant")
		c, _ = code(conf)
		_, err = conf.Exchange(e.ctx(), c) // no verifier at all
		wantGrantError(t, err, "invalid_request")
	})

	t.Run("expired code", func(t *testing.T) {
		c, v := code(conf)
		e.clock.Add(61 * time.Second)
		_, err := conf.Exchange(e.ctx(), c, oauth2.VerifierOption(v))
		wantGrantError(t, err, "invalid_grant")
		c, v = code(conf)
		e.clock.Add(59 * time.Second)
		if _, err := conf.Exchange(e.ctx(), c, oauth2.VerifierOption(v)); err != nil {
			t.Fatalf("a code 59 s old: %v", err)
		}
	})

	t.Run("foreign client's code", func(t *testing.T) {
		c, v := code(conf)
		_, err := e.config(other, webRedirect).Exchange(e.ctx(), c, oauth2.VerifierOption(v))
		wantGrantError(t, err, "invalid_grant")
	})

	t.Run("another redirect URI", func(t *testing.T) {
		c, v := code(conf)
		_, err := e.config(id, "https://app.example.org/other").Exchange(e.ctx(), c, oauth2.VerifierOption(v))
		wantGrantError(t, err, "invalid_grant")
	})

	t.Run("token endpoint", func(t *testing.T) {
		post := func(f url.Values) resp {
			return e.do("POST", "/auth/github/token", "", f.Encode(), "Content-Type", "application/x-www-form-urlencoded")
		}
		wantError(t, post(url.Values{"grant_type": {"password"}, "client_id": {id}}), 400, provisioner.EUNSUPPORTEDGRANT)
		wantError(t, post(url.Values{"grant_type": {"authorization_code"}, "client_id": {"nobody"}, "code": {"x"}}), 401, provisioner.EINVALIDCLIENT)
		// This client registered no refresh grant: it gets no refresh token and may not refresh.
		wantError(t, post(url.Values{"grant_type": {"refresh_token"}, "client_id": {id}, "refresh_token": {"a.b"}}), 400, provisioner.EUNAUTHCLIENT)
		wantError(t, post(url.Values{"grant_type": {"authorization_code"}, "client_id": {id}, "code": {"a", "b"}}), 400, provisioner.EINVALID)
		c, v := code(conf)
		tok, err := conf.Exchange(e.ctx(), c, oauth2.VerifierOption(v))
		if err != nil || tok.RefreshToken != "" {
			t.Fatalf("exchange without a refresh grant: %+v, %v", tok, err)
		}
	})

	t.Run("browser binding", func(t *testing.T) {
		// Browser A starts a login; stop at GitHub's redirect to the
		// callback. That callback URL, opened in browser B (a CSRF
		// attempt, or a stolen URL), is refused; in A it completes.
		jarA, _ := cookiejar.New(nil)
		var callback string
		a := &http.Client{Jar: jarA, Transport: e.srv.Client().Transport, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
			if req.URL.Path == "/auth/github/callback" {
				callback = req.URL.String()
				return http.ErrUseLastResponse
			}
			return nil
		}}
		resp, err := a.Get(conf.AuthCodeURL("st-a", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if callback == "" {
			t.Fatal("GitHub did not redirect to the callback")
		}
		jarB, _ := cookiejar.New(nil)
		b := &http.Client{Jar: jarB, Transport: e.srv.Client().Transport, CheckRedirect: e.browser.CheckRedirect}
		if resp, err := b.Get(callback); err != nil || resp.StatusCode != 400 || resp.Header.Get("Location") != "" {
			t.Fatalf("callback in another browser: %v %v", resp, err)
		}
		a.CheckRedirect = e.browser.CheckRedirect
		resp, err = a.Get(callback)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if loc, _ := resp.Location(); resp.StatusCode != 302 || loc == nil || loc.Query().Get("code") == "" || loc.Query().Get("state") != "st-a" {
			t.Fatalf("callback in the login's browser: %d %v", resp.StatusCode, loc)
		}
		// Once only: the request is spent.
		if resp, err := a.Get(callback); err != nil || resp.StatusCode != 400 {
			t.Fatalf("callback again: %v %v", resp, err)
		}
		wantError(t, e.do("GET", "/auth/github/callback?code=x&state=made-up", "", nil), 400, provisioner.EINVALID)
	})

	t.Run("GitHub refused", func(t *testing.T) {
		e.gh.DenyWeb()
		q := e.authorize(conf, "st-deny", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
		if q.Get("error") != "access_denied" || q.Get("state") != "st-deny" || q.Get("code") != "" {
			t.Fatalf("denied at GitHub: %v", q)
		}
		e.gh.SignInWeb("tok-org")
	})

	t.Run("registration limit", func(t *testing.T) {
		var last resp
		for range 12 {
			if last = e.do("POST", "/auth/github/register", "", map[string]any{"redirect_uris": []string{webRedirect}}); last.status != 201 {
				break
			}
		}
		wantError(t, last, 429, provisioner.ERATELIMITED)
	})
}

// TestOAuthScopes: production's mapping of scopes to aud and org_roles,
// the reduced audience of third-party redirect hosts, and the membership
// re-check of a refresh.
func TestOAuthScopes(t *testing.T) {
	e := newOAuthEnv(t)
	e.register("pub1", true)

	// An owner is an owner only when asking for sliderule:admin, which a
	// dynamically registered client cannot: here an org member.
	web := e.registerClient(webRedirect, []string{"authorization_code", "refresh_token"}, "sliderule:access provisioner:access runner:access monitor:access")
	tok := e.login(e.config(web, webRedirect, "sliderule:access", "runner:access", "monitor:access"), "tok-admin")
	c := claims(t, tok.AccessToken)
	if c["sub"] != "ada" || !slices.Equal(strs(c["org_roles"]), []string{"member"}) || c["level"] != "org_member" ||
		!slices.Equal(strs(c["aud"]), []string{"runner", "monitor", "pub1"}) {
		t.Fatalf("admin without sliderule:admin: %v", c)
	}
	// Without provisioner:access the token does not open the provisioner.
	if s := e.whoami(tok.AccessToken); s != 401 {
		t.Fatalf("whoami without the provisioner scope: %d", s)
	}
	// A GitHub user outside the organization gets no service, only the
	// public clusters (production: nothing).
	tok = e.login(e.config(web, webRedirect, "sliderule:access", "provisioner:access"), "tok-member")
	if c := claims(t, tok.AccessToken); !slices.Equal(strs(c["aud"]), []string{"pub1"}) || len(strs(c["org_roles"])) != 0 {
		t.Fatalf("non-member: %v", c)
	}
	e.gh.SignInWeb("tok-member")
	v := oauth2.GenerateVerifier()
	q := e.authorize(e.config(web, webRedirect, "provisioner:access"), "st", oauth2.S256ChallengeOption(v))
	if q.Get("error") != "access_denied" {
		t.Fatalf("non-member asking for the provisioner only: %v", q)
	}

	// A third-party (MCP) client: the MCP scopes only, aud ["mcp"].
	mcp := e.registerClient(mcpRedirect, []string{"authorization_code", "refresh_token"}, "mcp:tools mcp:resources sliderule:access")
	tok = e.login(e.config(mcp, mcpRedirect, "mcp:tools", "sliderule:access"), "tok-org")
	if c := claims(t, tok.AccessToken); !slices.Equal(strs(c["aud"]), []string{"mcp"}) || tok.Extra("scope") != "mcp:tools" {
		t.Fatalf("third-party client: aud %v scope %v", c["aud"], tok.Extra("scope"))
	}
	// The MCP resource adds the MCP scopes, as production.
	tok = e.login(e.config(mcp, mcpRedirect), "tok-org", oauth2.SetAuthURLParam("resource", "https://mcp.example.org/sliderule"))
	if tok.Extra("scope") != "mcp:tools mcp:resources mcp:access" {
		t.Fatalf("with the MCP resource: scope %v", tok.Extra("scope"))
	}
	q = e.authorize(e.config(mcp, mcpRedirect), "st", oauth2.S256ChallengeOption(v), oauth2.SetAuthURLParam("resource", "https://mcp.evil.example/x"))
	if q.Get("error") != "invalid_request" {
		t.Fatalf("a resource outside the domain: %v", q)
	}

	// A refresh re-checks the membership: removed from the organization,
	// the user loses the grant.
	conf := e.config(web, webRedirect, "provisioner:access")
	tok = e.login(conf, "tok-org")
	e.gh.SetOrgMembership("otto", org, "", "")
	_, err := conf.TokenSource(e.ctx(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	wantGrantError(t, err, "invalid_grant")
	// GitHub down: the refresh fails and may be retried (the grant stays).
	e.gh.SetOrgMembership("otto", org, "active", "member")
	tok = e.login(conf, "tok-org")
	e.gh.FailPath("/orgs/"+org+"/memberships/otto", http.StatusBadGateway)
	_, err = conf.TokenSource(e.ctx(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.Response.StatusCode != 503 {
		t.Fatalf("refresh with GitHub down: %v, want a 503", err)
	}
	e.gh.FailPath("/orgs/"+org+"/memberships/otto", 0)
	if _, err := conf.TokenSource(e.ctx(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err != nil {
		t.Fatalf("refresh after GitHub is back: %v", err)
	}
}

// TestBasicLogin: production's basic login for trusted internal services
// sets the token cookie for the whole domain and returns to the service.
func TestBasicLogin(t *testing.T) {
	e := newOAuthEnv(t)
	e.register("pub1", true)
	e.gh.SignInWeb("tok-org")
	back := "https://demo.example.org/grafana/d/home"
	_, resp := e.browse(e.srv.URL + "/auth/github/basic/login?redirect_uri=" + url.QueryEscape(back))
	if resp.StatusCode != 302 || resp.Header.Get("Location") != back {
		t.Fatalf("basic login ended with %d at %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	var cookie string
	for _, c := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(c, "token=") {
			cookie = c
		}
	}
	tok, attrs, _ := strings.Cut(strings.TrimPrefix(cookie, "token="), "; ")
	if attrs != "Domain=.example.org; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=86400" {
		t.Fatalf("token cookie %q", cookie)
	}
	c := claims(t, tok)
	if c["sub"] != "otto" || !slices.Equal(strs(c["aud"]), []string{"monitor", "pub1"}) {
		t.Fatalf("basic login token %v", c)
	}
	if a, _ := e.store.ListAudit(context.Background(), provisioner.AuditFilter{Action: "login.basic"}); len(a) != 1 || a[0].Actor != "otto" {
		t.Fatalf("basic login audit: %+v", a)
	}
	for _, bad := range []string{"https://evil.example/", "http://demo.example.org/", "javascript:alert(1)", ""} {
		r := e.do("GET", "/auth/github/basic/login?redirect_uri="+url.QueryEscape(bad), "", nil)
		wantError(t, r, 400, provisioner.EINVALID)
	}
	// Production's /auth/refresh refreshes nothing.
	wantError(t, e.do("POST", "/auth/refresh", "", nil), 401, "token_refresh_failed")
}

// TestOAuthOff: without GitHub's web flow the paths answer 404.
func TestOAuthOff(t *testing.T) {
	e := newEnv(t)
	for _, r := range []resp{
		e.do("GET", "/.well-known/oauth-authorization-server", "", nil),
		e.do("POST", "/auth/github/register", "", map[string]any{"redirect_uris": []string{webRedirect}}),
		e.do("GET", "/auth/github/login?client_id=x", "", nil),
		e.do("POST", "/auth/github/token", "", "grant_type=authorization_code", "Content-Type", "application/x-www-form-urlencoded"),
	} {
		wantError(t, r, 404, provisioner.ENOTFOUND)
	}
}

// TestOAuthConcurrentRefresh: refreshes racing with one refresh token:
// exactly one wins, the grant is not forked, and the losers' reuse
// revokes it, so the winner's new refresh token is dead too.
func TestOAuthConcurrentRefresh(t *testing.T) {
	e := newOAuthEnv(t)
	id := e.registerClient(webRedirect, []string{"authorization_code", "refresh_token"}, "provisioner:access")
	conf := e.config(id, webRedirect)
	tok := e.login(conf, "tok-org")
	const n = 6
	type result struct {
		tok *oauth2.Token
		err error
	}
	out := make(chan result, n)
	start := make(chan struct{})
	for range n {
		go func() {
			<-start
			t, err := conf.TokenSource(e.ctx(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
			out <- result{t, err}
		}()
	}
	close(start)
	var won []*oauth2.Token
	for range n {
		r := <-out
		switch {
		case r.err == nil:
			won = append(won, r.tok)
		default:
			wantGrantError(t, r.err, "invalid_grant")
		}
	}
	if len(won) != 1 {
		t.Fatalf("%d of %d concurrent refreshes won, want exactly 1", len(won), n)
	}
	_, err := conf.TokenSource(e.ctx(), &oauth2.Token{RefreshToken: won[0].RefreshToken}).Token()
	wantGrantError(t, err, "invalid_grant")
}

// TestOAuthExpiry: a client that never completes a login is forgotten
// after a day, one in use is not; a grant ends RefreshTTL after the login,
// however often it was refreshed. The app's clock moves; nothing sleeps.
func TestOAuthExpiry(t *testing.T) {
	e := newOAuthEnv(t)
	unused := e.registerClient(webRedirect, nil, "provisioner:access")
	used := e.registerClient(webRedirect, []string{"authorization_code", "refresh_token"}, "provisioner:access")
	conf := e.config(used, webRedirect)
	tok := e.login(conf, "tok-org")
	e.clock.Add(25 * time.Hour)
	if loc, resp := e.browse(e.config(unused, webRedirect).AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))); resp.StatusCode != 400 || loc != nil {
		t.Fatalf("a client unused for a day: %d to %v, want a 400", resp.StatusCode, loc)
	}
	tok, err := conf.TokenSource(e.ctx(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatalf("refresh a day later: %v", err)
	}
	e.clock.Add(app.DefaultRefreshTTL - time.Hour) // the grant is 30 days old, the client used a day after it
	_, err = conf.TokenSource(e.ctx(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	wantGrantError(t, err, "invalid_grant")
}

// TestOAuthFirstPartyPage: a page the provisioner serves itself (the
// issuer's origin, such as a dashboard) is a first-party client without
// being listed among the trusted hosts; another port of the same host is
// not (TestOAuthRefusals).
func TestOAuthFirstPartyPage(t *testing.T) {
	e := newOAuthEnv(t)
	page := e.srv.URL + "/dashboard/callback"
	id := e.registerClient(page, nil, "provisioner:access")
	conf := e.config(id, page, "provisioner:access")
	e.gh.SignInWeb("tok-org")
	v := oauth2.GenerateVerifier()
	var back *url.URL
	e.browser.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		if req.URL.Path == "/dashboard/callback" {
			back = req.URL
			return http.ErrUseLastResponse
		}
		return nil
	}
	resp, err := e.browser.Get(conf.AuthCodeURL("st-page", oauth2.S256ChallengeOption(v)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if back == nil || back.Query().Get("state") != "st-page" {
		t.Fatalf("the login did not come back to the page: %d %v", resp.StatusCode, back)
	}
	tok, err := conf.Exchange(e.ctx(), back.Query().Get("code"), oauth2.VerifierOption(v))
	if err != nil || e.whoami(tok.AccessToken) != 200 {
		t.Fatalf("exchange: %v", err)
	}
}
