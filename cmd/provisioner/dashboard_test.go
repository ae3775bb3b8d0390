package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"provisioner/github/githubtest"
	"provisioner/web"
)

// TestServeDashboard: the real serve answers the dashboard at "/" with its
// security headers, signs in with a static identity's token into the
// session cookie, and lets that cookie read the API; the CLI's bearer
// paths are unchanged beside it.
func TestServeDashboard(t *testing.T) {
	srv := startServe(t, nil, "--identity", "static:"+writeIdentity(t))
	do := func(method, path, body string, hdr ...string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, b
	}

	res, page := do("GET", "/", "")
	if res.StatusCode != 200 || res.Header.Get("Content-Security-Policy") != web.CSP || !strings.Contains(string(page), `src="/ui/assets/app.js"`) {
		t.Fatalf("GET /: %d %q %.80s", res.StatusCode, res.Header.Get("Content-Security-Policy"), page)
	}
	if res, _ := do("GET", "/ui/assets/app.js", ""); res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/javascript") {
		t.Errorf("app.js: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	// Without the GitHub web flow, token sign-in only.
	if res, body := do("GET", "/ui/github/login", ""); res.StatusCode != 404 {
		t.Errorf("GitHub sign-in without the web flow: %d %s", res.StatusCode, body)
	}
	if _, body := do("GET", "/ui/session", ""); !strings.Contains(string(body), `"github":false`) {
		t.Errorf("session without the web flow: %s", body)
	}
	res, body := do("POST", "/ui/session", `{"token":"member-token-1"}`, "Origin", srv.URL, web.HeaderCSRF, "sign-in")
	var s struct {
		Login string `json:"login"`
		CSRF  string `json:"csrf"`
	}
	if err := json.Unmarshal(body, &s); err != nil || res.StatusCode != 200 || s.Login != "otto" || s.CSRF == "" {
		t.Fatalf("sign-in: %d %s", res.StatusCode, body)
	}
	var cookie string
	for _, c := range res.Cookies() {
		if c.Name == web.CookieName && c.HttpOnly && c.Secure {
			cookie = c.Name + "=" + c.Value
		}
	}
	if cookie == "" {
		t.Fatalf("no session cookie: %v", res.Header.Values("Set-Cookie"))
	}
	if res, body := do("GET", "/clusters", "", "Cookie", cookie); res.StatusCode != 200 || res.Header.Get(web.HeaderNow) == "" {
		t.Errorf("GET /clusters with the cookie: %d %s", res.StatusCode, body)
	}
	if res, _ := do("POST", "/deploy", `{"cluster":"web","node_capacity":1,"ttl":10,"version":"latest"}`, "Cookie", cookie, "Origin", srv.URL); res.StatusCode != 403 {
		t.Errorf("deploy with the cookie and no CSRF token: %d", res.StatusCode)
	}
	if res, _ := do("GET", "/no-such-path", ""); res.StatusCode != 404 || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		t.Errorf("unknown path: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
}

// TestServeDashboardSignIn: serve with the GitHub web flow configured
// (--github-client-id and --github-client-secret) offers "Sign in with
// GitHub" on the dashboard and completes it through its own authorization
// server: the login path, the authorization endpoint, GitHub's authorize
// page, the two callbacks, and the session cookie that reads the API; the
// callback once more is refused; logout ends the session.
func TestServeDashboardSignIn(t *testing.T) {
	gh := githubtest.New(t)
	gh.SetOAuthApp("Iv1.dash", "dash-secret")
	gh.AddUser("gh-otto", "otto", 2)
	gh.SetOrgMembership("otto", "sliderule", "active", "member")
	srv := startServe(t, nil, "--identity", "github", "--github-api-url", gh.APIURL(), "--github-url", gh.WebURL(),
		"--github-org", "sliderule", "--github-client-id", "Iv1.dash", "--github-client-secret", "dash-secret")
	if !strings.Contains(srv.stderr.String(), "callback="+srv.URL+web.CallbackPath) {
		t.Errorf("serve does not say where the dashboard signs in with GitHub:\n%s", srv.stderr)
	}
	b := &cookieBrowser{t: t, cookies: map[string]string{}}
	if s := b.json("GET", srv.URL+"/ui/session"); s["github"] != true || s["signed_in"] != false {
		t.Fatalf("session before: %v", s)
	}
	gh.SignInWeb("gh-otto")
	hops := b.follow(srv.URL + "/ui/github/login")
	want := []string{"/auth/github/login", "/login/oauth/authorize", "/auth/github/callback", web.CallbackPath, "/"}
	var paths []string
	for _, h := range hops[1:] {
		paths = append(paths, h.Path)
	}
	if strings.Join(paths, " ") != strings.Join(want, " ") {
		t.Fatalf("the sign-in went through %v, want %v", paths, want)
	}
	callback := hops[len(hops)-2]
	if b.cookies[web.CookieName] == "" {
		t.Fatalf("no session cookie after the sign-in: %v", b.cookies)
	}
	s := b.json("GET", srv.URL+"/ui/session")
	if s["signed_in"] != true || s["login"] != "otto" || s["level"] != "org_member" {
		t.Fatalf("session after: %v", s)
	}
	if res, body := b.do("GET", srv.URL+"/clusters", nil); res.StatusCode != 200 {
		t.Errorf("GET /clusters with the session: %d %s", res.StatusCode, body)
	}
	session := b.cookies[web.CookieName]

	// The callback again: no sign-in under way, no new session.
	delete(b.cookies, web.CookieName)
	if hops := b.follow(callback.String()); hops[len(hops)-1].Fragment != "signin-error=no_sign_in_started" || b.cookies[web.CookieName] != "" {
		t.Errorf("the callback replayed ended at %v with %v", hops[len(hops)-1], b.cookies)
	}

	// Logout revokes the session.
	b.cookies[web.CookieName] = session
	if res, body := b.do("POST", srv.URL+"/ui/logout", map[string]string{"Origin": srv.URL, web.HeaderCSRF: s["csrf"].(string)}); res.StatusCode != 200 {
		t.Fatalf("logout: %d %s", res.StatusCode, body)
	}
	b.cookies[web.CookieName] = session
	if s := b.json("GET", srv.URL+"/ui/session"); s["signed_in"] != false {
		t.Errorf("session after logout: %v", s)
	}
}

// cookieBrowser follows redirects and keeps cookies by name, as a browser
// on loopback does with Secure cookies (Go's cookie jar sends them over
// https only). Every host here is 127.0.0.1, so one set serves all.
type cookieBrowser struct {
	t       *testing.T
	cookies map[string]string
}

func (b *cookieBrowser) do(method, u string, hdr map[string]string) (*http.Response, []byte) {
	b.t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	for k, v := range b.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	for _, c := range res.Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c.Value
		}
	}
	return res, body
}

func (b *cookieBrowser) json(method, u string) map[string]any {
	b.t.Helper()
	res, body := b.do(method, u, nil)
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		b.t.Fatalf("%s %s: %d %s", method, u, res.StatusCode, body)
	}
	return m
}

// follow opens u and follows redirects; it returns every URL visited.
func (b *cookieBrowser) follow(u string) []*url.URL {
	b.t.Helper()
	cur, err := url.Parse(u)
	if err != nil {
		b.t.Fatal(err)
	}
	hops := []*url.URL{cur}
	for range 10 {
		res, body := b.do("GET", cur.String(), nil)
		if res.StatusCode < 300 || res.StatusCode > 399 {
			if res.StatusCode != 200 {
				b.t.Fatalf("%s: %d %s", cur, res.StatusCode, body)
			}
			return hops
		}
		next, err := cur.Parse(res.Header.Get("Location"))
		if err != nil {
			b.t.Fatal(err)
		}
		cur = next
		hops = append(hops, cur)
	}
	b.t.Fatalf("too many redirects: %v", hops)
	return nil
}
