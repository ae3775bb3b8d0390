package gateway

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"provisioner"
)

const peer = "198.51.100.7:40000"

// badTokens are the Authorization headers no cluster may accept, with the
// status each must get.
func badTokens(t *testing.T, s *signer) map[string]struct {
	header string
	status int
} {
	good := s.cluster(t, otto, "demo")
	kid := strings.SplitN(good, ".", 2)[0]
	user, _, err := s.tokens.IssueUser(context.Background(), otto, []string{"other", "dem", "demo2", "monitor"})
	if err != nil {
		t.Fatal(err)
	}
	noneHdr := map[string]any{"alg": "none", "typ": "cluster+jwt", "kid": kid}
	hsHdr := map[string]any{"alg": "HS256", "typ": "cluster+jwt", "kid": kid}
	type tc = struct {
		header string
		status int
	}
	return map[string]tc{
		"garbage":              {"Bearer garbage", 401},
		"not bearer":           {"Basic b3R0bzpwYXNzd29yZA==", 401},
		"bearer without token": {"Bearer", 401},
		"bearer and spaces":    {"Bearer    ", 401},
		"empty header":         {"", 401},
		"two segments":         {"Bearer " + good[:strings.LastIndexByte(good, '.')], 401},
		"truncated signature":  {"Bearer " + good[:len(good)-8], 401},
		"truncated payload":    {"Bearer " + good[:len(good)/2] + "." + "AAAA", 401},
		"oversized":            {"Bearer " + good + strings.Repeat("A", MaxAuthorization), 401},
		"binary junk":          {"Bearer \x00\x01\xff.a.b", 401},
		"unknown key":          {"Bearer " + newSigner(t).cluster(t, otto, "demo"), 401},
		"alg none":             {"Bearer " + forge(noneHdr, clusterClaims("demo"), ""), 401},
		"alg none with sig":    {"Bearer " + forge(noneHdr, clusterClaims("demo"), "AAAA"), 401},
		"alg HS256":            {"Bearer " + forge(hsHdr, clusterClaims("demo"), "AAAA"), 401},
		"jwt_user of others":   {"Bearer " + user, 403},
		"expired":              {"Bearer " + s.issuedAt(time.Now().Add(-3*time.Hour)).cluster(t, otto, "demo"), 401},
		"other cluster":        {"Bearer " + s.cluster(t, otto, "other"), 403},
		"longer cluster name":  {"Bearer " + s.cluster(t, otto, "demo-2"), 403},
	}
}

func TestPrivateRefusesBadTokens(t *testing.T) {
	s, up := newSigner(t), newUpstream(t)
	for _, public := range []bool{false, true} {
		g := newGateway(t, Config{Public: public}, up.URL, s.keys)
		for name, c := range badTokens(t, s) {
			t.Run(visibility(public)+"/"+name, func(t *testing.T) {
				a := call(g, "GET", "/source/version", peer, "Authorization", c.header)
				code := provisioner.EUNAUTHORIZED
				if c.status == 403 {
					code = provisioner.EFORBIDDEN
				}
				wantRefusal(t, a, c.status, code)
				if c.status == 401 && a.header.Get("WWW-Authenticate") != `Bearer realm="demo"` {
					t.Errorf("WWW-Authenticate %q", a.header.Get("WWW-Authenticate"))
				}
			})
		}
	}
	if n, _ := up.seen(); n != 0 {
		t.Fatalf("%d refused requests reached the upstream", n)
	}
}

func TestPrivateForwardsRightToken(t *testing.T) {
	s, up := newSigner(t), newUpstream(t)
	g := newGateway(t, Config{}, up.URL, s.keys)

	a := call(g, "GET", "/source/version", peer)
	wantRefusal(t, a, 401, provisioner.EUNAUTHORIZED)
	if !strings.Contains(a.str("error_description"), "provisioner access demo") {
		t.Errorf("401 should say how to get a token: %s", a.raw)
	}
	// Organization members and admins pass; a member token (minted while
	// the cluster was public) does not.
	for _, u := range []provisioner.User{otto, ada} {
		tok := s.cluster(t, u, "demo")
		a = call(g, "POST", "/source/version", peer, append(bearerOf(tok),
			"X-Sliderule-Account", "mallory", "X-Sliderule-Org-Roles", `["owner"]`, "X_Sliderule_Org_Roles", "owner", "x-sliderule-account", "root", "X-Real-IP", "10.0.0.1")...)
		if a.status != 200 || a.str("path") != "/source/version" {
			t.Fatalf("%s: %d %s", u.Login, a.status, a.raw)
		}
		_, h := up.seen()
		roles, _ := json.Marshal(provisioner.OrgRoles(u))
		if h.Get(HeaderAccount) != u.Login || h.Get(HeaderOrgRoles) != string(roles) || len(h.Values(HeaderAccount)) != 1 || len(h.Values(HeaderOrgRoles)) != 1 {
			t.Errorf("identity upstream: %v", h)
		}
		if h.Get("X-Real-IP") != "" {
			t.Errorf("client's X-Real-IP forwarded: %v", h)
		}
		if h.Get("Authorization") != "Bearer "+tok {
			t.Errorf("the token must reach the nodes: %q", h.Get("Authorization"))
		}
		for k := range h {
			if strings.Contains(k, "_") {
				t.Errorf("spoofed underscore header %s forwarded", k)
			}
		}
		if h.Get("X-Forwarded-For") != "198.51.100.7" {
			t.Errorf("X-Forwarded-For %q", h.Get("X-Forwarded-For"))
		}
	}
	wantRefusal(t, call(g, "GET", "/source/version", peer, bearerOf(s.cluster(t, mia, "demo"))...), 403, provisioner.EFORBIDDEN)
	// Several Authorization headers are ambiguous: refused.
	tok := s.cluster(t, otto, "demo")
	wantRefusal(t, call(g, "GET", "/source/version", peer, "Authorization", "Bearer "+tok, "Authorization", "Bearer "+tok), 401, provisioner.EUNAUTHORIZED)
}

func TestPublicForwardsAnonymous(t *testing.T) {
	s, up := newSigner(t), newUpstream(t)
	g := newGateway(t, Config{Public: true}, up.URL, s.keys)

	a := call(g, "GET", "/source/version", peer, "X-Sliderule-Account", "ada", "X-Sliderule-Org-Roles", `["owner"]`, "x_sliderule_account", "ada")
	if a.status != 200 {
		t.Fatalf("anonymous: %d %s", a.status, a.raw)
	}
	_, h := up.seen()
	if h.Get(HeaderAccount) != "" || h.Get(HeaderOrgRoles) != "" || len(h) == 0 {
		t.Errorf("spoofed identity reached the upstream: %v", h)
	}
	for k := range h {
		if strings.Contains(strings.ToLower(k), "sliderule_") {
			t.Errorf("spoofed header %s forwarded", k)
		}
	}
	// A valid token upgrades; a member token is fine on a public cluster.
	a = call(g, "GET", "/source/version", peer, bearerOf(s.cluster(t, mia, "demo"))...)
	if _, h = up.seen(); a.status != 200 || h.Get(HeaderOrgRoles) != "[]" || h.Get(HeaderAccount) != "mia" {
		t.Fatalf("member: %d %v", a.status, h)
	}
}

func TestUpstreamDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	g := newGateway(t, Config{Public: true, UpstreamTimeout: 2 * time.Second}, "http://"+addr, newSigner(t).keys)
	a := call(g, "GET", "/source/version", peer)
	wantRefusal(t, a, 502, provisioner.EUNAVAILABLE)
	if strings.Contains(a.raw, addr) || !strings.Contains(a.str("error_description"), "not reachable") {
		t.Errorf("502 body: %s", a.raw)
	}
	wantRefusal(t, call(g, "GET", "/healthz?upstream=1", peer), 502, provisioner.EUNAVAILABLE)
}

func TestUpstreamSlow(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	defer slow.Close()
	g := newGateway(t, Config{Public: true, UpstreamTimeout: 100 * time.Millisecond}, slow.URL, newSigner(t).keys)
	start := time.Now()
	a := call(g, "GET", "/source/atl06p", peer)
	wantRefusal(t, a, 504, provisioner.EUNAVAILABLE)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("504 after %v", d)
	}
	if !strings.Contains(a.str("error_description"), "did not answer within 100ms") {
		t.Errorf("504 body: %s", a.raw)
	}
}

func TestHealthz(t *testing.T) {
	up := newUpstream(t)
	s := newSigner(t)
	g := newGateway(t, Config{UpstreamHealth: "/source/health"}, up.URL, s.keys)
	// The gateway's own health needs no token, even on a private cluster,
	// and is never forwarded.
	a := call(g, "GET", "/healthz", peer)
	if a.status != 200 || a.str("status") != "success" || a.str("cluster") != "demo" {
		t.Fatalf("healthz: %d %s", a.status, a.raw)
	}
	if n, _ := up.seen(); n != 0 {
		t.Fatal("healthz was forwarded")
	}
	a = call(g, "GET", "/healthz?upstream=1", peer)
	if a.status != 200 || a.body["upstream_status"] != float64(200) {
		t.Fatalf("upstream health: %d %s", a.status, a.raw)
	}
	if n, h := up.seen(); n != 1 || h.Get(HeaderAccount) != "" {
		t.Fatalf("upstream health check: %d %v", n, h)
	}
	// Paths that merely look like /healthz are not served.
	for _, p := range []string{"/healthz/", "//healthz", "/healthz/../source/version", "/HEALTHZ"} {
		wantRefusal(t, call(g, "GET", p, peer), 404, provisioner.ENOTFOUND)
	}

	sick := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no nodes", http.StatusServiceUnavailable)
	}))
	defer sick.Close()
	g = newGateway(t, Config{}, sick.URL, s.keys)
	wantRefusal(t, call(g, "GET", "/healthz?upstream=1", peer), 503, provisioner.EUNAVAILABLE)
}

func TestDiscoveryStatus(t *testing.T) {
	s, up := newSigner(t), newUpstream(t)
	tok := s.cluster(t, otto, "demo")
	g := newGateway(t, Config{Nodes: 3}, up.URL, s.keys)
	wantRefusal(t, call(g, "POST", "/discovery/status", peer), 401, provisioner.EUNAUTHORIZED)
	a := call(g, "POST", "/discovery/status", peer, bearerOf(tok)...)
	if a.status != 200 || a.body["nodes"] != float64(3) {
		t.Fatalf("local status: %d %s", a.status, a.raw)
	}
	if n, _ := up.seen(); n != 0 {
		t.Fatal("local status was forwarded")
	}
	// Without Nodes, the orchestrator upstream answers.
	g = newGateway(t, Config{}, up.URL, s.keys)
	if a := call(g, "POST", "/discovery/status", peer, bearerOf(tok)...); a.status != 200 || a.str("path") != "/discovery/status" {
		t.Fatalf("forwarded status: %d %s", a.status, a.raw)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	up := mustURL(t, "http://127.0.0.1:1")
	for name, cfg := range map[string]Config{
		"no cluster":        {Upstream: up, Issuer: testIssuer},
		"bad cluster":       {Cluster: "Demo;rm", Upstream: up, Issuer: testIssuer},
		"reserved cluster":  {Cluster: "gateway", Upstream: up, Issuer: testIssuer},
		"no upstream":       {Cluster: "demo", Issuer: testIssuer},
		"relative upstream": {Cluster: "demo", Upstream: mustURL(t, "/x"), Issuer: testIssuer},
		"ftp upstream":      {Cluster: "demo", Upstream: mustURL(t, "ftp://h/"), Issuer: testIssuer},
		"upstream userinfo": {Cluster: "demo", Upstream: mustURL(t, "http://u:p@h/"), Issuer: testIssuer},
		"no issuer":         {Cluster: "demo", Upstream: up},
		"issuer query":      {Cluster: "demo", Upstream: up, Issuer: testIssuer + "?x=1"},
		"proxies":           {Cluster: "demo", Upstream: up, Issuer: testIssuer, TrustedProxies: -1},
		"nodes":             {Cluster: "demo", Upstream: up, Issuer: testIssuer, Nodes: -1},
		"timeout":           {Cluster: "demo", Upstream: up, Issuer: testIssuer, UpstreamTimeout: -time.Second},
		"health path":       {Cluster: "demo", Upstream: up, Issuer: testIssuer, UpstreamHealth: "//evil/"},
		"zero rate":         {Cluster: "demo", Upstream: up, Issuer: testIssuer, Limits: Limits{Member: Limit{Rate: 0, Burst: 3}}},
		"negative burst":    {Cluster: "demo", Upstream: up, Issuer: testIssuer, Limits: Limits{Member: Limit{Rate: 1, Burst: -1}}},
	} {
		if _, err := New(cfg); provisioner.ErrorCode(err) != provisioner.EINVALID {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestPrivateForwardsAffiliate: a GitHub user outside the organization
// with the "affiliate" org role passes a private cluster its token names
// (a jwt_cluster from ACCESS, or its login token's aud), as production's
// ILB does by audience; the same user's token for another cluster, or
// without the role, does not.
func TestPrivateForwardsAffiliate(t *testing.T) {
	s, up := newSigner(t), newUpstream(t)
	g := newGateway(t, Config{}, up.URL, s.keys)
	lab := mia
	lab.Affiliation = &provisioner.Affiliation{Clusters: []string{"demo"}, MaxNodes: 1, MaxTTL: time.Hour, AllowedScopes: []string{provisioner.ScopeSlideRule}}
	login, _, err := s.tokens.IssueUser(context.Background(), lab, []string{"demo"})
	if err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]string{"jwt_cluster": s.cluster(t, lab, "demo"), "login token": login} {
		a := call(g, "GET", "/source/version", peer, bearerOf(tok)...)
		if a.status != 200 {
			t.Fatalf("%s: %d %s", name, a.status, a.raw)
		}
		if _, h := up.seen(); h.Get(HeaderOrgRoles) != `["affiliate"]` || h.Get(HeaderAccount) != "mia" {
			t.Errorf("%s: identity upstream: %v", name, h)
		}
	}
	wantRefusal(t, call(g, "GET", "/source/version", peer, bearerOf(s.cluster(t, lab, "other"))...), 403, provisioner.EFORBIDDEN)
	wantRefusal(t, call(g, "GET", "/source/version", peer, bearerOf(s.cluster(t, mia, "demo"))...), 403, provisioner.EFORBIDDEN)
}
