package gateway

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"provisioner"
)

// The tests in this file run the gateway against the real embedded
// provisioner as issuer (keys from its JWKS over HTTP) and a real upstream.

// tamper rewrites a token's claims and keeps its signature.
func tamper(t *testing.T, tok string, edit func(map[string]any)) string {
	parts := strings.Split(tok, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	edit(c)
	b, _ := json.Marshal(c)
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + parts[2]
}

// forgeWithKid signs tok's header and claims with a key of our own,
// keeping the issuer's kid: what an attacker without the key can do.
func forgeWithKid(t *testing.T, tok string) string {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	in := tok[:strings.LastIndexByte(tok, '.')]
	d := sha256.Sum256([]byte(in))
	r, s, err := ecdsa.Sign(rand.Reader, k, d[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return in + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestIssuerPrivateCluster(t *testing.T) {
	e, up := newIssuerEnv(t), newUpstream(t)
	e.register("demo", false)
	e.register("other", false)
	_, gw := e.gateway(Config{}, up.URL)

	right := e.access("member-token-1", "demo")
	refusals := map[string]struct {
		header []string
		status int
	}{
		"no token":             {nil, 401},
		"token of other":       {bearerOf(e.access("member-token-1", "other")), 403},
		"guest's jwt_user":     {bearerOf(e.login("guest-token-1")), 403},
		"claims edited":        {bearerOf(tamper(t, right, func(c map[string]any) { c["sub"] = "ada"; c["level"] = "admin" })), 401},
		"aud edited":           {bearerOf(tamper(t, e.access("member-token-1", "other"), func(c map[string]any) { c["aud"] = "demo" })), 401},
		"signed by attacker":   {bearerOf(forgeWithKid(t, right)), 401},
		"garbage":              {[]string{"Authorization", "Bearer !!"}, 401},
		"spoofed headers only": {[]string{"X-Sliderule-Account", "otto", "X-Sliderule-Org-Roles", `["owner"]`}, 401},
	}
	for name, c := range refusals {
		a := request(t, gw.URL+"/source/version", c.header...)
		if a.status != c.status || a.str("status") != "failure" {
			t.Errorf("%s: %d %s", name, a.status, a.raw)
		}
	}
	if n, _ := up.seen(); n != 0 {
		t.Fatalf("%d refused requests reached the cluster", n)
	}

	a := request(t, gw.URL+"/source/version", bearerOf(right)...)
	if a.status != 200 || a.str("path") != "/source/version" {
		t.Fatalf("right token: %d %s", a.status, a.raw)
	}
	if _, h := up.seen(); h.Get(HeaderAccount) != "otto" || h.Get(HeaderOrgRoles) != `["member"]` || h.Get("Authorization") != "Bearer "+right {
		t.Errorf("upstream headers: %v", h)
	}
}

func TestIssuerPublicCluster(t *testing.T) {
	e, up := newIssuerEnv(t), newUpstream(t)
	e.register("pub", true)
	e.register("priv", false)
	_, gw := e.gateway(Config{Cluster: "pub", Public: true}, up.URL)

	a := request(t, gw.URL+"/source/version", "X-Sliderule-Org-Roles", `["owner"]`)
	if _, h := up.seen(); a.status != 200 || h.Get(HeaderOrgRoles) != "" || h.Get(HeaderAccount) != "" {
		t.Fatalf("anonymous: %d %s, upstream %v", a.status, a.raw, h)
	}
	gus := e.access("guest-token-1", "pub")
	a = request(t, gw.URL+"/source/version", bearerOf(gus)...)
	if _, h := up.seen(); a.status != 200 || h.Get(HeaderOrgRoles) != "[]" || h.Get(HeaderAccount) != "gus" {
		t.Fatalf("member: %d %s, upstream %v", a.status, a.raw, h)
	}
	before, _ := up.seen()
	// Forged tokens are refused, never downgraded to anonymous.
	for name, tok := range map[string]string{
		"level raised":       tamper(t, gus, func(c map[string]any) { c["level"] = "admin" }),
		"expiry extended":    tamper(t, gus, func(c map[string]any) { c["exp"] = time.Now().Add(24 * time.Hour).Unix() }),
		"signed by attacker": forgeWithKid(t, gus),
	} {
		if a := request(t, gw.URL+"/source/version", bearerOf(tok)...); a.status != 401 {
			t.Errorf("%s: %d %s", name, a.status, a.raw)
		}
	}
	if a := request(t, gw.URL+"/source/version", bearerOf(e.access("member-token-1", "priv"))...); a.status != 403 {
		t.Errorf("token of another cluster: %d %s", a.status, a.raw)
	}
	if after, _ := up.seen(); after != before {
		t.Fatalf("forged requests reached the cluster")
	}
}

func TestIssuerRateLimits(t *testing.T) {
	e, up, clk := newIssuerEnv(t), newUpstream(t), newClock()
	e.register("pub", true)
	g, _ := e.gateway(Config{Cluster: "pub", Public: true, Now: clk.Now, Limits: Limits{
		Anonymous: Limit{Rate: 1, Burst: 2},
		Member:    Limit{Rate: 1, Burst: 3},
	}}, up.URL)
	gus, gil := e.access("guest-token-1", "pub"), e.access("guest-token-2", "pub")

	// Per network: 192.0.2.0/24 has two requests, then waits.
	for _, remote := range []string{"192.0.2.1:1", "192.0.2.250:1"} {
		if a := call(g, "GET", "/source/version", remote); a.status != 200 {
			t.Fatalf("%s: %d", remote, a.status)
		}
	}
	wantRefusal(t, call(g, "GET", "/source/version", "192.0.2.3:1"), 429, provisioner.ERATELIMITED)
	if a := call(g, "GET", "/source/version", "192.0.9.3:1"); a.status != 200 {
		t.Fatalf("another network: %d", a.status)
	}
	// Per user: gus from anywhere shares one bucket; gil has his own.
	for i := 0; i < 3; i++ {
		if a := call(g, "GET", "/source/version", fmt.Sprintf("198.51.%d.1:1", i), bearerOf(gus)...); a.status != 200 {
			t.Fatalf("gus %d: %d", i, a.status)
		}
	}
	a := call(g, "GET", "/source/version", "192.0.2.1:1", bearerOf(gus)...)
	wantRefusal(t, a, 429, provisioner.ERATELIMITED)
	if a.header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	if a := call(g, "GET", "/source/version", "192.0.2.1:1", bearerOf(gil)...); a.status != 200 {
		t.Fatalf("gil: %d", a.status)
	}
	// The window passes.
	clk.Add(time.Second)
	for _, c := range []struct{ remote, tok string }{{"192.0.2.1:1", ""}, {"192.0.2.1:1", gus}} {
		hdr := []string{}
		if c.tok != "" {
			hdr = bearerOf(c.tok)
		}
		if a := call(g, "GET", "/source/version", c.remote, hdr...); a.status != 200 {
			t.Fatalf("after the window: %d %s", a.status, a.raw)
		}
	}
}

func TestIssuerKeyRotation(t *testing.T) {
	e, up, clk := newIssuerEnv(t), newUpstream(t), newClock()
	e.register("demo", false)
	g, gw := e.gateway(Config{Now: clk.Now, JWKSMinRefresh: 2 * time.Second}, up.URL)
	old := e.access("member-token-1", "demo")
	if a := request(t, gw.URL+"/source/version", bearerOf(old)...); a.status != 200 {
		t.Fatalf("before rotation: %d %s", a.status, a.raw)
	}
	fetches := e.jwksHits.Load()

	// Tokens naming unknown kids, in a burst: refused, one fetch at most.
	for i := 0; i < 50; i++ {
		bogus := forge(map[string]any{"alg": "RS256", "typ": "cluster+jwt", "kid": fmt.Sprintf("bogus-%d", i)}, clusterClaims("demo"), "AAAA")
		if a := request(t, gw.URL+"/source/version", bearerOf(bogus)...); a.status != 401 {
			t.Fatalf("bogus kid: %d %s", a.status, a.raw)
		}
	}
	if n := e.jwksHits.Load() - fetches; n > 1 {
		t.Fatalf("%d JWKS fetches for 50 bogus kids", n)
	}

	kid, err := e.keys.Rotate()
	if err != nil {
		t.Fatal(err)
	}
	fresh := e.access("member-token-1", "demo")
	if !strings.Contains(string(mustDecode(t, fresh)), kid) {
		t.Fatalf("the issuer does not sign with the new key %s", kid)
	}
	clk.Add(2 * time.Second) // the throttle window of the bogus-kid fetch
	if a := request(t, gw.URL+"/source/version", bearerOf(fresh)...); a.status != 200 {
		t.Fatalf("token of the new key: %d %s", a.status, a.raw)
	}
	if a := request(t, gw.URL+"/source/version", bearerOf(old)...); a.status != 200 {
		t.Fatalf("token of the retired key: %d %s", a.status, a.raw)
	}
	if n := g.jwks.Len(); n != 2 {
		t.Fatalf("gateway holds %d keys, want 2", n)
	}
}

func mustDecode(t *testing.T, tok string) []byte {
	b, err := base64.RawURLEncoding.DecodeString(strings.SplitN(tok, ".", 2)[0])
	if err != nil {
		t.Fatal(err)
	}
	return b
}
