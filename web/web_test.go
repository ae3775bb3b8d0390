package web_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"provisioner"
	"provisioner/app"
	"provisioner/web"
)

func TestPageAndAssetHeaders(t *testing.T) {
	e := newEnv(t, nil)
	for _, c := range []struct{ path, ctype, cache string }{
		{"/", "text/html; charset=utf-8", "no-store"},
		{"/ui/assets/app.js", "text/javascript; charset=utf-8", "no-cache"},
		{"/ui/assets/style.css", "text/css; charset=utf-8", "no-cache"},
		{"/ui/assets/favicon.svg", "image/svg+xml", "no-cache"},
	} {
		res := e.request("GET", c.path, nil)
		if res.StatusCode != 200 {
			t.Fatalf("GET %s: %d", c.path, res.StatusCode)
		}
		h := res.Header
		for k, want := range map[string]string{
			"Content-Type": c.ctype, "Cache-Control": c.cache, "Content-Security-Policy": web.CSP,
			"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
			"Cross-Origin-Opener-Policy": "same-origin",
		} {
			if got := h.Get(k); got != want {
				t.Errorf("GET %s: %s = %q, want %q", c.path, k, got, want)
			}
		}
		// The ETag revalidates.
		again := e.request("GET", c.path, nil, "If-None-Match", h.Get("ETag"))
		if again.StatusCode != http.StatusNotModified {
			t.Errorf("GET %s with its ETag: %d, want 304", c.path, again.StatusCode)
		}
	}
	for _, must := range []string{"script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "base-uri 'none'",
		"form-action 'self'", "connect-src 'self'", "object-src 'none'"} {
		if !strings.Contains(web.CSP, must) {
			t.Errorf("CSP lacks %q", must)
		}
	}
	if strings.Contains(web.CSP, "unsafe") {
		t.Errorf("CSP allows unsafe code: %s", web.CSP)
	}
	// Unknown files are JSON 404s; /ui/assets/index.html is "/" only.
	if res := e.request("GET", "/ui/assets/nope.js", nil); res.StatusCode != 404 || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		t.Errorf("unknown asset: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if res := e.request("GET", "/ui/assets/../web.go", nil); res.StatusCode == 200 {
		t.Errorf("path escape served: %d", res.StatusCode)
	}
	if res := e.request("GET", "/ui/assets/index.html", nil); res.StatusCode != http.StatusMovedPermanently {
		t.Errorf("index.html under assets: %d", res.StatusCode)
	}
	// The API is still behind it.
	if res := e.request("GET", "/healthz", nil); res.StatusCode != 200 {
		t.Errorf("/healthz: %d", res.StatusCode)
	}
	if res := e.request("GET", "/no-such-thing", nil); res.StatusCode != 404 {
		t.Errorf("unknown path: %d", res.StatusCode)
	}
}

// TestNoInlineCode: the page works under script-src 'self' and style-src
// 'self' only if nothing is inline, and API data is safe only if no code
// writes HTML.
func TestNoInlineCode(t *testing.T) {
	html, err := os.ReadFile("static/index.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`(?is)<script\b[^>]*>`).FindAllString(string(html), -1) {
		if !strings.Contains(m, `src="/ui/assets/`) {
			t.Errorf("inline or foreign script: %s", m)
		}
	}
	for _, re := range []string{`(?is)<style\b`, `(?i)\sstyle\s*=`, `(?i)\son[a-z]+\s*=`, `(?i)javascript:`, `(?i)https?://`} {
		if loc := regexp.MustCompile(re).FindString(string(html)); loc != "" {
			t.Errorf("index.html has %q (%s)", loc, re)
		}
	}
	err = filepath.WalkDir("static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || !strings.HasSuffix(p, ".js") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function",
			"localStorage", "sessionStorage", "indexedDB", ".style.", "setAttribute('style'", "http://", "https://"} {
			if strings.Contains(string(b), bad) && !(bad == "http://" && strings.Contains(string(b), "http://www.w3.org/2000/svg")) {
				t.Errorf("%s uses %s", p, bad)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func sessionCookie(res *http.Response) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == web.CookieName {
			return c
		}
	}
	return nil
}

func TestTokenSignIn(t *testing.T) {
	e := newEnv(t, nil)
	body := map[string]string{"token": adminToken}
	for _, c := range []struct {
		name   string
		hdr    []string
		status int
	}{
		{"no Origin", []string{web.HeaderCSRF, "sign-in"}, 403},
		{"another origin", []string{"Origin", "http://evil.example", web.HeaderCSRF, "sign-in"}, 403},
		{"cross-site fetch", []string{"Origin", e.origin(), "Sec-Fetch-Site", "cross-site", web.HeaderCSRF, "sign-in"}, 403},
		{"no header (a plain form)", []string{"Origin", e.origin()}, 403},
	} {
		res := e.request("POST", "/ui/session", body, c.hdr...)
		if res.StatusCode != c.status || sessionCookie(res) != nil {
			t.Errorf("%s: %d (cookie %v), want %d and no cookie", c.name, res.StatusCode, sessionCookie(res), c.status)
		}
	}
	ok := []string{"Origin", e.origin(), web.HeaderCSRF, "sign-in"}
	for _, c := range []struct {
		name, body string
		status     int
	}{
		{"bad token", `{"token": "not-a-known-token"}`, 401},
		{"no token", `{"token": ""}`, 400},
		{"unknown field", `{"token": "x", "pat": "y"}`, 400},
		{"not JSON", `token=abc`, 400},
		{"two objects", `{"token": "a"}{"token": "b"}`, 400},
		{"too large", `{"token": "` + strings.Repeat("a", 9000) + `"}`, 413},
	} {
		res := e.request("POST", "/ui/session", c.body, ok...)
		if res.StatusCode != c.status || sessionCookie(res) != nil {
			t.Errorf("%s: %d, want %d and no cookie", c.name, res.StatusCode, c.status)
		}
	}

	res := e.request("POST", "/ui/session", body, ok...)
	if res.StatusCode != 200 {
		t.Fatalf("sign-in: %d", res.StatusCode)
	}
	c := sessionCookie(res)
	if c == nil {
		t.Fatal("no session cookie")
	}
	raw := res.Header.Get("Set-Cookie")
	if !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Domain != "" ||
		!strings.HasPrefix(c.Name, "__Host-") || c.MaxAge <= 0 {
		t.Errorf("cookie attributes: %s", raw)
	}
	rawBody, _ := io.ReadAll(res.Body)
	var m map[string]any
	if err := json.Unmarshal(rawBody, &m); err != nil {
		t.Fatal(err)
	}
	if m["signed_in"] != true || m["login"] != "ada" || m["level"] != "admin" || m["csrf"] == "" {
		t.Errorf("sign-in answer: %v", m)
	}
	// The answer tells who, never a token.
	if strings.Contains(string(rawBody), c.Value) || strings.Contains(string(rawBody), adminToken) {
		t.Errorf("the answer carries a token: %s", rawBody)
	}

	// GET /ui/session reads the cookie, with the server's clock.
	e.clock.Add(90 * time.Second)
	res = e.request("GET", "/ui/session", nil, "Cookie", web.CookieName+"="+c.Value)
	m = decode(t, res)
	if m["signed_in"] != true || m["login"] != "ada" || m["csrf"] == "" {
		t.Errorf("session: %v", m)
	}
	if now, _ := time.Parse(time.RFC3339Nano, m["now"].(string)); !now.Equal(e.clock.Now()) {
		t.Errorf("session now %v, want the server clock %v", m["now"], e.clock.Now())
	}
	if h, _ := time.Parse(time.RFC3339Nano, res.Header.Get(web.HeaderNow)); !h.Equal(e.clock.Now()) {
		t.Errorf("%s = %q, want %v", web.HeaderNow, res.Header.Get(web.HeaderNow), e.clock.Now())
	}
	// No cookie, or a forged one: signed out, and a bad cookie is cleared.
	if m := decode(t, e.request("GET", "/ui/session", nil)); m["signed_in"] != false || m["csrf"] != nil {
		t.Errorf("no cookie: %v", m)
	}
	res = e.request("GET", "/ui/session", nil, "Cookie", web.CookieName+"=forged.token.value")
	if m := decode(t, res); m["signed_in"] != false {
		t.Errorf("forged cookie: %v", m)
	}
	if c := sessionCookie(res); c == nil || c.MaxAge >= 0 {
		t.Errorf("forged cookie not cleared: %v", res.Header.Values("Set-Cookie"))
	}
}

// TestCookieCSRF: the cookie reaches the API as a bearer token for reads,
// and for state-changing calls only with the same Origin and the
// session's CSRF token.
func TestCookieCSRF(t *testing.T) {
	e := newEnv(t, nil)
	cookie, csrf := e.signInToken(adminToken)
	ck := web.CookieName + "=" + cookie
	deploy := map[string]any{"cluster": "demo", "node_capacity": 1, "ttl": 30, "version": "v4.5.1"}

	// A read with the cookie alone: allowed, as the signed-in user.
	res := e.request("GET", "/auth/whoami", nil, "Cookie", ck)
	if m := decode(t, res); res.StatusCode != 200 || m["metadata"].(map[string]any)["sub"] != "ada" {
		t.Fatalf("whoami with the cookie: %d %v", res.StatusCode, m)
	}
	if res := e.request("GET", "/clusters", nil, "Cookie", ck); res.StatusCode != 200 {
		t.Fatalf("GET /clusters with the cookie: %d", res.StatusCode)
	}

	for _, c := range []struct {
		name string
		hdr  []string
	}{
		{"no CSRF header", []string{"Origin", e.origin()}},
		{"no Origin", []string{web.HeaderCSRF, csrf}},
		{"Origin null", []string{"Origin", "null", web.HeaderCSRF, csrf}},
		{"another origin", []string{"Origin", "http://evil.example", web.HeaderCSRF, csrf}},
		{"another port", []string{"Origin", "http://127.0.0.1:1", web.HeaderCSRF, csrf}},
		{"cross-site", []string{"Origin", e.origin(), "Sec-Fetch-Site", "cross-site", web.HeaderCSRF, csrf}},
		{"same-site, other origin", []string{"Origin", e.origin(), "Sec-Fetch-Site", "same-site", web.HeaderCSRF, csrf}},
		{"wrong token", []string{"Origin", e.origin(), web.HeaderCSRF, csrf[:len(csrf)-2] + "xx"}},
		{"sign-in's header", []string{"Origin", e.origin(), web.HeaderCSRF, "sign-in"}},
		// A cross-site HTML form: text/plain, Origin of the other site, no header.
		{"cross-site form", []string{"Origin", "http://evil.example", "Content-Type", "text/plain", "Sec-Fetch-Site", "cross-site"}},
	} {
		res := e.request("POST", "/deploy", deploy, append([]string{"Cookie", ck}, c.hdr...)...)
		m := decode(t, res)
		if res.StatusCode != 403 || m["error"] != provisioner.EFORBIDDEN {
			t.Errorf("%s: %d %v, want 403 forbidden", c.name, res.StatusCode, m)
		}
	}
	if cl, err := e.store.ListClusters(context.Background()); err != nil || len(cl) != 0 {
		t.Fatalf("a refused request deployed: %v %v", cl, err)
	}

	// With both: the API answers as for a bearer token.
	res = e.request("POST", "/deploy", deploy, "Cookie", ck, "Origin", e.origin(), "Sec-Fetch-Site", "same-origin", web.HeaderCSRF, csrf)
	if res.StatusCode != 200 && res.StatusCode != 202 {
		t.Fatalf("deploy with the CSRF token: %d %v", res.StatusCode, decode(t, res))
	}
	// The API's own limits and errors come through unchanged.
	res = e.request("POST", "/extend", map[string]any{"cluster": "demo", "ttl": 1 << 20}, "Cookie", ck, "Origin", e.origin(), web.HeaderCSRF, csrf)
	if m := decode(t, res); res.StatusCode != 400 && res.StatusCode != 403 {
		t.Errorf("extend past the limit: %d %v", res.StatusCode, m)
	}
	// Another session's token does not fit this cookie.
	_, otherCSRF := e.signInToken(memberToken)
	res = e.request("POST", "/destroy", map[string]any{"cluster": "demo"}, "Cookie", ck, "Origin", e.origin(), web.HeaderCSRF, otherCSRF)
	if res.StatusCode != 403 {
		t.Errorf("another session's CSRF token: %d", res.StatusCode)
	}
	// A bearer token needs no CSRF token, and wins over a cookie.
	login, err := e.app.LoginToken(context.Background(), "127.0.0.1", memberToken)
	if err != nil {
		t.Fatal(err)
	}
	res = e.request("GET", "/auth/whoami", nil, "Cookie", ck, "Authorization", "Bearer "+login.Token)
	if m := decode(t, res); m["metadata"].(map[string]any)["sub"] != "otto" {
		t.Errorf("bearer beside a cookie: %v", m)
	}
	res = e.request("POST", "/status", map[string]any{"cluster": "demo"}, "Authorization", "Bearer "+login.Token)
	if res.StatusCode != 200 {
		t.Errorf("bearer POST without CSRF: %d", res.StatusCode)
	}
}

func TestLogout(t *testing.T) {
	e := newEnv(t, nil)
	cookie, csrf := e.signInToken(adminToken)
	ck := web.CookieName + "=" + cookie
	// Logout is state-changing: the same defence.
	for _, hdr := range [][]string{{"Origin", e.origin()}, {"Origin", "http://evil.example", web.HeaderCSRF, csrf}} {
		if res := e.request("POST", "/ui/logout", nil, append([]string{"Cookie", ck}, hdr...)...); res.StatusCode != 403 {
			t.Errorf("logout %v: %d", hdr, res.StatusCode)
		}
	}
	res := e.request("POST", "/ui/logout", nil, "Cookie", ck, "Origin", e.origin(), web.HeaderCSRF, csrf)
	if res.StatusCode != 200 {
		t.Fatalf("logout: %d", res.StatusCode)
	}
	if c := sessionCookie(res); c == nil || c.MaxAge >= 0 || c.Value != "" {
		t.Errorf("logout did not clear the cookie: %v", res.Header.Values("Set-Cookie"))
	}
	// The session is revoked: the same token fails everywhere.
	if res := e.request("GET", "/auth/whoami", nil, "Authorization", "Bearer "+cookie); res.StatusCode != 401 {
		t.Errorf("token after logout: %d", res.StatusCode)
	}
	if m := decode(t, e.request("GET", "/ui/session", nil, "Cookie", ck)); m["signed_in"] != false {
		t.Errorf("session after logout: %v", m)
	}
	ss, err := e.store.ListSessions(context.Background(), "ada")
	if err != nil || len(ss) != 1 || ss[0].RevokedAt.IsZero() || ss[0].Reason != "logout" {
		t.Errorf("sessions after logout: %+v %v", ss, err)
	}
	// Without a cookie, logout just clears.
	if res := e.request("POST", "/ui/logout", nil); res.StatusCode != 200 {
		t.Errorf("logout without a session: %d", res.StatusCode)
	}
}

// fakeSignIn stands in for the OAuth authorization server.
type fakeSignIn struct {
	mu                         sync.Mutex
	app                        *app.App
	redirect, state, challenge string
	verifier                   string
	fail                       error
}

func (f *fakeSignIn) AuthorizeURL(_ context.Context, redirectURI, state, challenge string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.redirect, f.state, f.challenge = redirectURI, state, challenge
	return "https://github.example/login/oauth/authorize?" + url.Values{"state": {state}, "code_challenge": {challenge},
		"code_challenge_method": {"S256"}, "redirect_uri": {redirectURI}}.Encode(), nil
}

func (f *fakeSignIn) Exchange(ctx context.Context, _, code, verifier, redirectURI string) (app.Login, error) {
	f.mu.Lock()
	f.verifier = verifier
	fail, want := f.fail, f.redirect
	f.mu.Unlock()
	if fail != nil {
		return app.Login{}, fail
	}
	if code != "good-code" || redirectURI != want {
		return app.Login{}, provisioner.Errorf(provisioner.EUNAUTHORIZED, "bad code")
	}
	return f.app.LoginToken(ctx, "127.0.0.1", adminToken)
}

func TestGitHubSignInHook(t *testing.T) {
	// Not configured: 404, and the page is told.
	e := newEnv(t, nil)
	for _, p := range []string{"/ui/github/login", "/ui/github/callback?code=x&state=y"} {
		if res := e.request("GET", p, nil); res.StatusCode != 404 {
			t.Errorf("%s without a hook: %d", p, res.StatusCode)
		}
	}
	if m := decode(t, e.request("GET", "/ui/session", nil)); m["github"] != false {
		t.Errorf("session without a hook: %v", m)
	}

	f := &fakeSignIn{}
	e = newEnv(t, f)
	f.app = e.app
	if m := decode(t, e.request("GET", "/ui/session", nil)); m["github"] != true {
		t.Errorf("session with a hook: %v", m)
	}
	start := func() (state, txn string) {
		res := e.request("GET", "/ui/github/login", nil)
		if res.StatusCode != http.StatusFound || !strings.HasPrefix(res.Header.Get("Location"), "https://github.example/") {
			t.Fatalf("login: %d %s", res.StatusCode, res.Header.Get("Location"))
		}
		var c *http.Cookie
		for _, x := range res.Cookies() {
			if x.Name == "__Host-provisioner-oauth" {
				c = x
			}
		}
		if c == nil || !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode || c.MaxAge <= 0 || c.MaxAge > 900 {
			t.Fatalf("transaction cookie: %v", res.Header.Values("Set-Cookie"))
		}
		if f.redirect != e.origin()+web.CallbackPath || len(f.state) < 43 || len(f.challenge) != 43 {
			t.Fatalf("authorize: %q %q %q", f.redirect, f.state, f.challenge)
		}
		return f.state, "__Host-provisioner-oauth=" + c.Value
	}
	// The state must be the one this browser started with.
	state, txn := start()
	for _, c := range []struct {
		name, query, cookie, want string
	}{
		{"no transaction", "?code=good-code&state=" + state, "", "no_sign_in_started"},
		{"another state", "?code=good-code&state=" + strings.Repeat("A", 43), txn, "state_mismatch"},
		{"no state", "?code=good-code", txn, "state_mismatch"},
		{"denied", "?error=access_denied&state=" + state, txn, "access_denied"},
		{"no code", "?state=" + state, txn, "no_code"},
		{"bad code", "?code=bad&state=" + state, txn, "unauthorized"},
		{"odd error", "?error=%3Cscript%3E&state=" + state, txn, "script"},
	} {
		var hdr []string
		if c.cookie != "" {
			hdr = []string{"Cookie", c.cookie}
		}
		res := e.request("GET", web.CallbackPath+c.query, nil, hdr...)
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/#signin-error="+c.want || sessionCookie(res) != nil {
			t.Errorf("%s: %d %s %v", c.name, res.StatusCode, res.Header.Get("Location"), sessionCookie(res))
		}
	}
	// The good path: the verifier matches the challenge, the session is set.
	state, txn = start()
	res := e.request("GET", web.CallbackPath+"?code=good-code&state="+state, nil, "Cookie", txn)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/" {
		t.Fatalf("callback: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	sum := sha256.Sum256([]byte(f.verifier))
	if base64.RawURLEncoding.EncodeToString(sum[:]) != f.challenge {
		t.Errorf("verifier %q does not match challenge %q", f.verifier, f.challenge)
	}
	c := sessionCookie(res)
	if c == nil || !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteStrictMode {
		t.Fatalf("session cookie after GitHub sign-in: %v", res.Header.Values("Set-Cookie"))
	}
	if strings.Contains(res.Header.Get("Location"), c.Value) {
		t.Error("token in the redirect")
	}
	if m := decode(t, e.request("GET", "/ui/session", nil, "Cookie", web.CookieName+"="+c.Value)); m["login"] != "ada" {
		t.Errorf("session after GitHub sign-in: %v", m)
	}
}

// TestRoutesInSpec: the dashboard's routes are in api/openapi.yaml.
func TestRoutesInSpec(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromFile("../api/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, nil)
	h := e.dash
	for _, r := range h.Routes() {
		method, path, _ := strings.Cut(r, " ")
		path = strings.Replace(path, "{file...}", "{file}", 1)
		item := doc.Paths.Find(path)
		if item == nil || item.GetOperation(method) == nil {
			t.Errorf("route %s is not in api/openapi.yaml", r)
		}
	}
	// The JSON answers match their schemas.
	doc.Servers = nil
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	check := func(res *http.Response) {
		t.Helper()
		body, _ := io.ReadAll(res.Body)
		req := res.Request.Clone(context.Background())
		route, params, err := router.FindRoute(req)
		if err != nil {
			t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
		}
		in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: res.StatusCode, Header: res.Header,
			Body: io.NopCloser(bytes.NewReader(body)), Options: &openapi3filter.Options{IncludeResponseStatus: true}}
		if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
			t.Errorf("%s %s: answer %d does not match the spec: %v\n%s", req.Method, req.URL.Path, res.StatusCode, err, body)
		}
	}
	check(e.request("GET", "/ui/session", nil))
	cookie, csrf := e.signInToken(adminToken)
	check(e.request("GET", "/ui/session", nil, "Cookie", web.CookieName+"="+cookie))
	check(e.request("POST", "/ui/session", map[string]string{"token": "nope-nope"}, "Origin", e.origin(), web.HeaderCSRF, "sign-in"))
	check(e.request("POST", "/ui/logout", nil, "Cookie", web.CookieName+"="+cookie, "Origin", e.origin()))
	check(e.request("POST", "/ui/logout", nil, "Cookie", web.CookieName+"="+cookie, "Origin", e.origin(), web.HeaderCSRF, csrf))
	check(e.request("GET", "/ui/github/login", nil))
}
