package http_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"provisioner/local/ilb/ilbtest"
)

// TestOAuthTokensAtTheILB: production's ILB (haproxy.cfg under HAProxy)
// takes the OAuth server's tokens as it takes every jwt of ours: the basic
// login's cookie (req.cook(token)) and the code flow's access token open
// the public cluster they name and pass the user on; the cluster's Grafana
// sends a browser without the cookie to our basic login path, and lets one
// with it through.
func TestOAuthTokensAtTheILB(t *testing.T) {
	e := newOAuthEnv(t)
	e.register("pub1", true)
	pem := e.do("GET", "/auth/pem", "", nil)
	if pem.status != 200 {
		t.Fatalf("/auth/pem: %d", pem.status)
	}
	l := ilbtest.Start(t, ilbtest.Options{Cluster: "pub1", Public: true, Issuer: e.srv.URL, PEM: pem.raw, Domain: "example.org"})

	e.gh.SignInWeb("tok-org")
	_, resp := e.browse(e.srv.URL + "/auth/github/basic/login?redirect_uri=" + url.QueryEscape("https://pub1.example.org/grafana/"))
	var cookie string
	for _, c := range resp.Header.Values("Set-Cookie") {
		if v, ok := strings.CutPrefix(c, "token="); ok {
			cookie, _, _ = strings.Cut(v, ";")
		}
	}
	if cookie == "" {
		t.Fatalf("basic login set no token cookie: %v", resp.Header)
	}
	id := e.registerClient(webRedirect, nil, "sliderule:access provisioner:access")
	access := e.login(e.config(id, webRedirect, "sliderule:access", "provisioner:access"), "tok-org").AccessToken

	for name, h := range map[string][]string{
		"basic login cookie": {"Cookie", "token=" + cookie},
		"access token":       {"Authorization", "Bearer " + access},
	} {
		res, body := l.Get(t, "/source/version", h...)
		var echo struct{ Cluster, Account, OrgRoles string }
		_ = json.Unmarshal(body, &echo)
		if res.StatusCode != http.StatusOK || echo.Account != "otto" || echo.Cluster != "pub1" {
			t.Errorf("%s at the ILB: %d %s", name, res.StatusCode, body)
		}
	}

	// Grafana: no cookie, to our basic login; with it, through (to a
	// Grafana that is not there).
	grafana := func(cookie string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", l.URL+"/grafana/d/home", nil)
		req.Host = "pub1.example.org"
		if cookie != "" {
			req.Header.Set("Cookie", "token="+cookie)
		}
		c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	res := grafana("not.a.token")
	if res.StatusCode != http.StatusFound {
		t.Fatalf("Grafana with a bad cookie: %d", res.StatusCode)
	}
	res = grafana("")
	if loc := res.Header.Get("Location"); res.StatusCode != http.StatusFound ||
		loc != "https://login.example.org/auth/github/basic/login?redirect_uri=https://pub1.example.org/grafana/d/home" {
		t.Fatalf("Grafana without a login: %d to %q", res.StatusCode, loc)
	}
	if res := grafana(cookie); res.StatusCode == http.StatusFound {
		t.Fatalf("Grafana with the basic login's cookie still redirects to %q", res.Header.Get("Location"))
	}
}
