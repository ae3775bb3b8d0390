package app

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"provisioner"
	"provisioner/github"
	"provisioner/github/githubtest"
	"provisioner/jwt"
	"provisioner/sqlite"
	"provisioner/testkit"
	"provisioner/testkit/embedded"
)

// dashboardEnv is two App instances on one store, as two Lambda instances
// are, with the authorization server on and GitHub's web flow faked.
type dashboardEnv struct {
	gh     *githubtest.Server
	store  *sqlite.DB
	clock  *testkit.Clock
	a1, a2 *App
}

const (
	dashIssuer   = "https://provisioner.example.org"
	dashRedirect = dashIssuer + "/ui/github/callback"
	dashSrc      = "198.51.100.7"
)

func newDashboardEnv(t *testing.T) *dashboardEnv {
	t.Helper()
	gh := githubtest.New(t)
	gh.SetOAuthApp("client-1", "secret-1")
	gh.AddUser("tok-otto", "otto", 2)
	gh.SetOrgMembership("otto", "sliderule", "active", "member")
	gh.AddUser("tok-ada", "ada", 1)
	gh.SetOrgMembership("ada", "sliderule", "active", "admin")
	gh.AddUser("tok-gus", "gus", 3) // outside the organization
	prov, err := github.New(github.Config{APIURL: gh.APIURL(), WebURL: gh.WebURL(), Org: "sliderule",
		ClientID: "client-1", ClientSecret: "secret-1", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	store, keys := embedded.Open(t)
	e := &dashboardEnv{gh: gh, store: store, clock: testkit.NewClock(time.Now().UTC().Truncate(time.Second))}
	newApp := func() *App {
		return New(Config{Store: store, Tokens: jwt.New(jwt.Config{Issuer: dashIssuer, Signer: keys, Now: e.clock.Now}),
			Identity: prov, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: e.clock.Now,
			Driver: newTestDriver(), Scheduler: &testScheduler{at: map[string]time.Time{}},
			OAuth: OAuthConfig{Upstream: prov, Issuer: dashIssuer, DashboardCallback: "/ui/github/callback"}})
	}
	e.a1, e.a2 = newApp(), newApp()
	return e
}

// authorize runs the browser's part of a dashboard sign-in as the owner of
// ghToken: the dashboard's authorization URL (instance 1), the
// authorization endpoint (instance 1), GitHub's authorize page, and
// GitHub's callback (instance 2). It returns where the callback sent the
// browser, and the PKCE verifier.
func (e *dashboardEnv) authorize(t *testing.T, ghToken string) (*url.URL, string) {
	t.Helper()
	ctx := context.Background()
	e.gh.SignInWeb(ghToken)
	verifier := randomToken(32)
	to, err := e.a1.DashboardSignIn().AuthorizeURL(ctx, dashRedirect, "dash-state", pkceS256(verifier))
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(to)
	if err != nil || u.Scheme+"://"+u.Host+u.Path != dashIssuer+OAuthAuthorizePath {
		t.Fatalf("authorization URL %s", to)
	}
	q := u.Query()
	want := url.Values{"response_type": {"code"}, "client_id": {DashboardClientID}, "redirect_uri": {dashRedirect},
		"state": {"dash-state"}, "scope": {"provisioner:access"}, "code_challenge": {pkceS256(verifier)}, "code_challenge_method": {"S256"}}
	if q.Encode() != want.Encode() {
		t.Fatalf("authorization query %v, want %v", q, want)
	}
	rd, err := e.a1.Authorize(ctx, dashSrc, AuthorizeRequest{ResponseType: q.Get("response_type"), ClientID: q.Get("client_id"),
		RedirectURI: q.Get("redirect_uri"), State: q.Get("state"), Scope: q.Get("scope"), CodeChallenge: q.Get("code_challenge"),
		ChallengeMethod: q.Get("code_challenge_method")}, "")
	if err != nil || !strings.HasPrefix(rd.URL, e.gh.WebURL()+"/login/oauth/authorize?") || rd.Browser == "" {
		t.Fatalf("authorize: %+v %v", rd, err)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := noFollow.Get(rd.URL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	back, err := res.Location()
	if err != nil || !strings.HasPrefix(back.String(), dashIssuer+OAuthCallbackPath+"?") {
		t.Fatalf("GitHub sent the browser to %v (%d)", back, res.StatusCode)
	}
	cb, err := e.a2.Callback(ctx, dashSrc, CallbackRequest{Code: back.Query().Get("code"), State: back.Query().Get("state"),
		Error: back.Query().Get("error")}, rd.Browser)
	if err != nil {
		t.Fatalf("callback: %v", err)
	}
	end, err := url.Parse(cb.URL)
	if err != nil || end.Scheme+"://"+end.Host+end.Path != dashRedirect || end.Query().Get("state") != "dash-state" || cb.Token != nil {
		t.Fatalf("the callback sent the browser to %s", cb.URL)
	}
	return end, verifier
}

// signIn is a whole sign-in, its exchange on instance 2.
func (e *dashboardEnv) signIn(t *testing.T, ghToken string) (Login, string) {
	t.Helper()
	end, verifier := e.authorize(t, ghToken)
	code := end.Query().Get("code")
	if code == "" {
		t.Fatalf("no code: %s", end)
	}
	l, err := e.a2.DashboardSignIn().Exchange(context.Background(), dashSrc, code, verifier, dashRedirect)
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	return l, code
}

// TestDashboardSignIn: the dashboard's sign-in through the authorization
// server, started on one instance and finished on another: the session
// opens this API only, an owner is a member, someone outside the
// organization is refused, a replayed code is refused and revokes what it
// granted, and logout revokes the session and the grant.
func TestDashboardSignIn(t *testing.T) {
	e := newDashboardEnv(t)
	ctx := context.Background()

	l, _ := e.signIn(t, "tok-otto")
	u, err := e.a1.Authenticate(ctx, l.Token)
	if err != nil || u.Login != "otto" || u.Level != provisioner.LevelOrgMember {
		t.Fatalf("the session: %+v %v", u, err)
	}
	if s, err := e.store.GetSession(ctx, "otto", l.Claims.ID); err != nil || s.Via != "oauth" {
		t.Errorf("the session's record: %+v %v", s, err)
	}
	if !slices.Equal(l.Claims.Audience, []string{provisioner.AudienceProvisioner}) {
		t.Errorf("aud %v, want [provisioner] only", l.Claims.Audience)
	}
	gs, err := e.store.ListOAuthGrants(ctx, "otto")
	if err != nil || len(gs) != 1 || gs[0].ClientID != DashboardClientID || gs[0].Session != l.Claims.ID || gs[0].Current != "" {
		t.Fatalf("grants: %+v %v (one, of the dashboard, for the session, without refresh tokens)", gs, err)
	}

	// Logout (what /ui/logout calls) revokes the session and the grant.
	u.Session = l.Claims.ID
	if err := e.a2.Logout(ctx, Caller{User: u, Source: dashSrc}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.a2.Authenticate(ctx, l.Token); provisioner.ErrorCode(err) != provisioner.EUNAUTHORIZED {
		t.Errorf("the session after logout: %v", err)
	}
	// The other instance sees it within its session cache's life.
	e.clock.Add(DefaultSessionCacheTTL + time.Second)
	if _, err := e.a1.Authenticate(ctx, l.Token); provisioner.ErrorCode(err) != provisioner.EUNAUTHORIZED {
		t.Errorf("the session after logout, on the other instance: %v", err)
	}
	if g, err := e.store.GetOAuthGrant(ctx, gs[0].ID); err != nil || g.RevokedAt.IsZero() {
		t.Errorf("the grant after logout: %+v %v", g, err)
	}

	// An organization owner: a member here, as for every web client.
	la, _ := e.signIn(t, "tok-ada")
	if la.Claims.Level != provisioner.LevelOrgMember || slices.Contains(la.Claims.OrgRoles, provisioner.RoleOwner) {
		t.Errorf("an owner signed in as %s %v", la.Claims.Level, la.Claims.OrgRoles)
	}

	// Someone outside the organization has no access to this API.
	end, _ := e.authorize(t, "tok-gus")
	if end.Query().Get("error") != provisioner.EDENIED || end.Query().Get("code") != "" {
		t.Errorf("an outsider: %s", end)
	}

	// A replayed code: refused, and the session it made revoked.
	l2, code := e.signIn(t, "tok-otto")
	end, verifier := e.authorize(t, "tok-otto")
	_, err = e.a1.DashboardSignIn().Exchange(ctx, dashSrc, code, verifier, dashRedirect)
	if provisioner.ErrorCode(err) != provisioner.EINVALIDGRANT {
		t.Errorf("replayed code: %v", err)
	}
	if _, err := e.a1.Authenticate(ctx, l2.Token); provisioner.ErrorCode(err) != provisioner.EUNAUTHORIZED {
		t.Errorf("the session of a replayed code: %v", err)
	}
	// A code with another verifier, or another redirect URI: refused.
	fresh := end.Query().Get("code")
	if _, err := e.a1.DashboardSignIn().Exchange(ctx, dashSrc, fresh, randomToken(32), dashRedirect); provisioner.ErrorCode(err) != provisioner.EINVALIDGRANT {
		t.Errorf("another verifier: %v", err)
	}
	end, verifier = e.authorize(t, "tok-otto")
	if _, err := e.a1.DashboardSignIn().Exchange(ctx, dashSrc, end.Query().Get("code"), verifier, "http://127.0.0.1:8080/ui/github/callback"); provisioner.ErrorCode(err) != provisioner.EINVALIDGRANT {
		t.Errorf("another redirect URI: %v", err)
	}
	// An expired code.
	end, verifier = e.authorize(t, "tok-otto")
	e.clock.Add(MaxCodeTTL + time.Second)
	if _, err := e.a1.DashboardSignIn().Exchange(ctx, dashSrc, end.Query().Get("code"), verifier, dashRedirect); provisioner.ErrorCode(err) != provisioner.EINVALIDGRANT {
		t.Errorf("expired code: %v", err)
	}

	// The page reached by another name is told where to sign in.
	for _, other := range []string{"http://127.0.0.1:8080/ui/github/callback", dashIssuer + "/ui/github/callback/", "https://evil.example/ui/github/callback"} {
		if _, err := e.a1.DashboardSignIn().AuthorizeURL(ctx, other, "s", pkceS256(randomToken(32))); provisioner.ErrorCode(err) != provisioner.EINVALID ||
			!strings.Contains(provisioner.ErrorMessage(err), dashIssuer+"/") {
			t.Errorf("sign-in started at %s: %v", other, err)
		}
	}
	// The authorization endpoint holds the built-in client to its one
	// redirect URI and scope, as any other.
	if _, err := e.a1.Authorize(ctx, dashSrc, AuthorizeRequest{ResponseType: "code", ClientID: DashboardClientID, RedirectURI: dashIssuer + "/elsewhere",
		State: "s", CodeChallenge: pkceS256(randomToken(32)), ChallengeMethod: "S256"}, ""); provisioner.ErrorCode(err) != provisioner.EINVALID {
		t.Errorf("another redirect URI at the authorization endpoint: %v", err)
	}
	rd, err := e.a1.Authorize(ctx, dashSrc, AuthorizeRequest{ResponseType: "code", ClientID: DashboardClientID, RedirectURI: dashRedirect,
		State: "s", Scope: "provisioner:access sliderule:access", CodeChallenge: pkceS256(randomToken(32)), ChallengeMethod: "S256"}, "")
	if err != nil || !strings.Contains(rd.URL, "error="+provisioner.EINVALIDSCOPE) {
		t.Errorf("a wider scope: %+v %v", rd, err)
	}
}

// TestDashboardSignInOff: without the dashboard's callback or without the
// authorization server there is no built-in client.
func TestDashboardSignInOff(t *testing.T) {
	store, keys := embedded.Open(t)
	tokens := jwt.New(jwt.Config{Issuer: dashIssuer, Signer: keys})
	off := New(Config{Store: store, Tokens: tokens})
	if off.DashboardSignIn() != nil {
		t.Error("a dashboard sign-in without the OAuth server")
	}
	gh := githubtest.New(t)
	prov, err := github.New(github.Config{APIURL: gh.APIURL(), WebURL: gh.WebURL(), ClientID: "c", ClientSecret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	noDash := New(Config{Store: store, Tokens: tokens, OAuth: OAuthConfig{Upstream: prov, Issuer: dashIssuer}})
	if noDash.DashboardSignIn() != nil {
		t.Error("a dashboard sign-in without its callback")
	}
	_, err = noDash.Token(context.Background(), dashSrc, TokenRequest{GrantType: "authorization_code", ClientID: DashboardClientID,
		Code: "c", CodeVerifier: randomToken(32), RedirectURI: dashRedirect})
	if provisioner.ErrorCode(err) != provisioner.EINVALIDCLIENT {
		t.Errorf("the built-in client without a dashboard: %v", err)
	}
	for _, bad := range []string{"ui/github/callback", "//evil.example/cb", "/cb?x=1", "/cb#f", "/c b"} {
		if _, err := (OAuthConfig{Upstream: prov, Issuer: dashIssuer, DashboardCallback: bad}).Check(); provisioner.ErrorCode(err) != provisioner.EINVALID {
			t.Errorf("DashboardCallback %q: %v", bad, err)
		}
	}
}
