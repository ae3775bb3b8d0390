package web_test

import (
	"context"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"provisioner/app"
	"provisioner/github"
	"provisioner/github/githubtest"
	"provisioner/web"
)

// newGitHubEnv is the service with the OAuth authorization server on, its
// upstream a fake GitHub, and the dashboard signing in through it (the
// wiring of cmd/). GitHub's pages are on another site (localhost, the
// service being on 127.0.0.1), as github.com is: the cookies' SameSite
// rules meet a real cross-site round trip.
func newGitHubEnv(t *testing.T) (*env, *githubtest.Server) {
	t.Helper()
	gh := githubtest.New(t)
	gh.SetOAuthApp("client-web", "secret-web")
	gh.AddUser("gh-otto", "otto", 2)
	gh.SetOrgMembership("otto", "sliderule", "active", "member")
	webURL := strings.Replace(gh.WebURL(), "127.0.0.1", "localhost", 1)
	up, err := github.New(github.Config{APIURL: gh.APIURL(), WebURL: webURL, Org: "sliderule",
		ClientID: "client-web", ClientSecret: "secret-web", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvWith(t, envConfig{
		app: func(c *app.Config, issuer string) {
			c.OAuth = app.OAuthConfig{Upstream: up, Issuer: issuer, DashboardCallback: web.CallbackPath}
		},
		signIn: func(a *app.App) web.SignIn { return a.DashboardSignIn() },
	})
	return e, gh
}

// sessionCookie is the browser's session cookie, nil without one.
func (b *browser) sessionCookie(origin string) *network.Cookie {
	b.t.Helper()
	cookies, err := chromedp.Call(b.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{origin}})
	if err != nil {
		b.t.Fatal(err)
	}
	var session *network.Cookie
	for _, c := range cookies.Cookies {
		switch c.Name {
		case web.CookieName:
			session = c
		case "__Host-provisioner-oauth":
			b.t.Errorf("the sign-in's transaction cookie outlived its callback: %+v", c)
		}
	}
	return session
}

// TestGitHubSignInChromium: "Sign in with GitHub" in Chromium, through
// the provisioner's own authorization server and a fake GitHub on another
// site: the button, GitHub's round trip, the page signed in with a
// working session cookie and no code or token left in the URL or in
// storage; sign-out revokes the session and the OAuth grant; a replayed
// callback, a callback with a tampered state (GitHub's real code in it)
// and a refusal at GitHub each end on the page with the error shown and
// no session.
func TestGitHubSignInChromium(t *testing.T) {
	e, gh := newGitHubEnv(t)
	ctx := context.Background()
	b := newBrowser(t, 1280, 900)
	gh.SignInWeb("gh-otto")

	b.run(chromedp.Navigate(e.origin() + "/"))
	b.wait(`!document.getElementById('view-signin').hidden`)
	if !eval[bool](b, `!document.getElementById('github-box').hidden && document.getElementById('github-off').hidden`) {
		t.Fatal("the page does not offer Sign in with GitHub")
	}
	b.checkA11y("sign-in with GitHub")
	b.screenshot("01-sign-in")

	b.click("#github-signin")
	b.wait(`!document.getElementById('view-clusters').hidden`)
	if got := b.text("#who-name") + " " + b.text("#who-level"); got != "otto org_member" {
		t.Errorf("signed in as %q", got)
	}
	if got := eval[string](b, `location.href`); got != e.origin()+"/" && got != e.origin()+"/#clusters" {
		t.Errorf("the page's URL after sign-in: %s", got)
	}
	if got := eval[string](b, `document.cookie + '|' + localStorage.length + '|' + sessionStorage.length`); got != "|0|0" {
		t.Errorf("the page can see a credential: %q", got)
	}
	session := b.sessionCookie(e.origin())
	if session == nil || !session.HTTPOnly || !session.Secure || session.SameSite != network.CookieSameSiteStrict || session.Path != "/" {
		t.Fatalf("the session cookie: %+v", session)
	}
	var callback string
	for _, r := range e.requests() {
		if r.path == web.CallbackPath {
			callback = r.uri
		}
	}
	if q, err := url.ParseQuery(strings.TrimPrefix(callback, web.CallbackPath+"?")); err != nil || q.Get("code") == "" || q.Get("state") == "" {
		t.Fatalf("the callback the browser made: %q", callback)
	}

	// The session works: a deploy through the form (a state-changing call
	// with the cookie and its CSRF token), as otto.
	b.wait(`document.getElementById('limits').textContent.includes('up to')`)
	b.fill("#deploy-cluster", "viagh")
	b.click("#deploy-form button[type=submit]")
	b.wait(`document.querySelector('li[data-cluster="viagh"] .badge.ok')`)
	if cl, err := e.store.GetCluster(ctx, "viagh"); err != nil || cl.CreatedBy != "otto" {
		t.Fatalf("deployed: %+v %v", cl, err)
	}
	b.checkA11y("clusters, signed in with GitHub")
	b.screenshot("02-signed-in")
	grants, err := e.store.ListOAuthGrants(ctx, "otto")
	if err != nil || len(grants) != 1 || grants[0].ClientID != app.DashboardClientID || !grants[0].RevokedAt.IsZero() {
		t.Fatalf("grants after sign-in: %+v %v", grants, err)
	}

	// Sign out: the cookie goes, the session and the grant are revoked.
	b.click("#logout")
	b.wait(`!document.getElementById('view-signin').hidden`)
	if c := b.sessionCookie(e.origin()); c != nil {
		t.Errorf("the session cookie outlived sign-out: %+v", c)
	}
	if res := e.request("GET", "/auth/whoami", nil, "Authorization", "Bearer "+session.Value); res.StatusCode != 401 {
		t.Errorf("the session after sign-out: %d", res.StatusCode)
	}
	if g, err := e.store.GetOAuthGrant(ctx, grants[0].ID); err != nil || g.RevokedAt.IsZero() {
		t.Errorf("the grant after sign-out: %+v %v", g, err)
	}

	// leave marks the page, so that what follows waits for the next one.
	leave := func() { eval[chromedp.Void](b, `window.left = true`) }
	// refused: the next page shows the error code and is signed out.
	refused := func(what, code string) {
		t.Helper()
		b.wait(`!window.left && !document.getElementById('view-signin').hidden && document.getElementById('notice').textContent.includes('Sign in with GitHub failed')`)
		if n := b.text("#notice"); !strings.Contains(n, code) {
			t.Errorf("%s: the page says %q, want %s", what, n, code)
		}
		if got := eval[string](b, `location.hash`); got != "" {
			t.Errorf("%s: the fragment stays: %q", what, got)
		}
		if c := b.sessionCookie(e.origin()); c != nil {
			t.Errorf("%s: a session: %+v", what, c)
		}
		if m := eval[bool](b, `fetch('/ui/session').then(r => r.json()).then(j => j.signed_in)`); m {
			t.Errorf("%s: the page is signed in", what)
		}
	}

	// The callback replayed: the browser has no sign-in under way.
	leave()
	b.run(chromedp.Navigate(e.origin() + callback))
	refused("a replayed callback", "no_sign_in_started")
	b.screenshot("03-replayed")

	// The callback of another sign-in than the one under way: GitHub's
	// answer to this browser's new sign-in is paused, and the old callback
	// (its own state) loaded instead; the new state and code never meet.
	paused := b.pauseCallbacks(func(u *url.URL) string { return e.origin() + callback })
	leave()
	b.click("#github-signin")
	refused("another sign-in's callback", "state_mismatch")
	// A tampered state: GitHub's real code, with the state changed.
	paused.rewrite(func(u *url.URL) string {
		q := u.Query()
		q.Set("state", strings.Repeat("A", 43))
		u.RawQuery = q.Encode()
		return u.String()
	})
	leave()
	b.click("#github-signin")
	refused("a tampered state", "state_mismatch")
	b.screenshot("04-tampered")
	if n := paused.count(); n != 2 {
		t.Errorf("%d callbacks rewritten, want 2", n)
	}
	paused.stop()
	// The code that came with the tampered state was never redeemed.
	if gs, _ := e.store.ListOAuthGrants(ctx, "otto"); len(gs) != 1 {
		t.Errorf("%d grants after the refused callbacks, want the first only", len(gs))
	}

	// Refused at GitHub.
	gh.DenyWeb()
	leave()
	b.click("#github-signin")
	refused("a refusal at GitHub", "access_denied")

	// And again, a sign-in that completes.
	gh.SignInWeb("gh-otto")
	leave()
	b.click("#github-signin")
	b.wait(`!window.left && !document.getElementById('view-clusters').hidden && document.getElementById('who-name').textContent === 'otto'`)
	if got := eval[string](b, `fetch('/ui/session').then(r => r.json()).then(j => j.login)`); got != "otto" {
		t.Errorf("signed in again as %q", got)
	}
	if u, err := e.app.Authenticate(ctx, b.sessionCookie(e.origin()).Value); err != nil || u.Login != "otto" {
		t.Errorf("the new session: %+v %v", u, err)
	}
	b.noProblems()
}

// callbackRewriter pauses the browser's requests to the dashboard's
// callback (the Fetch domain) and sends each to the URL rewrite gives.
type callbackRewriter struct {
	b    *browser
	mu   sync.Mutex
	to   func(*url.URL) string
	done int
}

func (b *browser) pauseCallbacks(to func(*url.URL) string) *callbackRewriter {
	b.t.Helper()
	r := &callbackRewriter{b: b, to: to}
	if err := chromedp.Listen(b.ctx, func(ev any) {
		p, ok := ev.(*fetch.EventRequestPaused)
		if !ok {
			return
		}
		u, err := url.Parse(p.Request.URL + p.Request.URLFragment)
		next := p.Request.URL
		if err == nil && u.Path == web.CallbackPath {
			r.mu.Lock()
			next = r.to(u)
			r.done++
			r.mu.Unlock()
		}
		// Not from the listener, which must not block on the browser.
		go func() {
			_, _ = chromedp.Call(b.ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: p.RequestID, URL: next})
		}()
	}); err != nil {
		b.t.Fatal(err)
	}
	if _, err := chromedp.Call(b.ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "*" + web.CallbackPath + "*"}}}); err != nil {
		b.t.Fatal(err)
	}
	return r
}

func (r *callbackRewriter) rewrite(to func(*url.URL) string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.to = to
}

func (r *callbackRewriter) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.done
}

func (r *callbackRewriter) stop() {
	r.b.t.Helper()
	if _, err := chromedp.Call(r.b.ctx, fetch.Disable, struct{}{}); err != nil {
		r.b.t.Fatal(err)
	}
}
