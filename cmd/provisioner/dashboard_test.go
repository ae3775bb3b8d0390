package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

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
