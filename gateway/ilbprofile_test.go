package gateway

import (
	"context"
	"testing"

	"provisioner"
)

// login issues a jwt_user with the given audience (beside "provisioner").
func (s *signer) login(t testing.TB, u provisioner.User, aud ...string) string {
	t.Helper()
	tok, _, err := s.tokens.IssueUser(context.Background(), u, aud)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// The released clients send their login token to clusters: the gateway
// takes it when its audience names the cluster exactly or is "*", as the
// ILB does, but never by substring.
func TestLoginTokenAtCluster(t *testing.T) {
	s, up := newSigner(t), newUpstream(t)
	g := newGateway(t, Config{}, up.URL, s.keys)
	for name, aud := range map[string][]string{
		"all clusters": {"runner", "monitor", "*"},
		"named":        {"other", "demo"},
	} {
		a := call(g, "GET", "/source/version", peer, bearerOf(s.login(t, otto, aud...))...)
		if a.status != 200 {
			t.Errorf("%s: %d %s", name, a.status, a.raw)
		}
		if _, h := up.seen(); h.Get(HeaderAccount) != "otto" || h.Get(HeaderOrgRoles) != `["member"]` {
			t.Errorf("%s: identity upstream %v", name, h)
		}
	}
	for _, aud := range map[string][]string{
		"none":         nil,
		"prefix":       {"dem"},
		"longer":       {"demo2", "ademo"},
		"services":     {"runner", "monitor"},
		"star in name": {"demo*"},
	} {
		wantRefusal(t, call(g, "GET", "/source/version", peer, bearerOf(s.login(t, otto, aud...))...), 403, provisioner.EFORBIDDEN)
	}
	// A GitHub user outside the organization: private clusters stay shut
	// even to a token that names them.
	wantRefusal(t, call(g, "GET", "/source/version", peer, bearerOf(s.login(t, mia, "demo"))...), 403, provisioner.EFORBIDDEN)
}

// Only the ILB's user paths are served; the node-facing discovery paths
// never reach the cluster, whatever the token.
func TestOnlyUserPaths(t *testing.T) {
	s, up := newSigner(t), newUpstream(t)
	g := newGateway(t, Config{Public: true}, up.URL, s.keys)
	tok := bearerOf(s.login(t, ada, "*", "monitor"))
	for _, p := range []string{"/source/version", "/source/definitions", "/openapi/index.html", "/discovery/status", "/discovery/whoami"} {
		if a := call(g, "POST", p, peer, tok...); a.status != 200 || a.str("path") != p {
			t.Errorf("%s: %d %s", p, a.status, a.raw)
		}
	}
	before, _ := up.seen()
	for _, p := range []string{"/", "/discovery/register", "/discovery/lock", "/discovery/unlock", "/discovery/selflock",
		"/discovery/health", "/discovery/prometheus/orchestrator", "/discovery/status/", "/source", "/sourcex/version",
		"/discovery/../discovery/register", "/metrics"} {
		wantRefusal(t, call(g, "POST", p, peer, tok...), 404, provisioner.ENOTFOUND)
	}
	if after, _ := up.seen(); after != before {
		t.Errorf("%d refused requests reached the cluster", after-before)
	}
}

// An upgrade would leave a tunnel that no later check applies to: refused
// everywhere but the monitor, which needs a "monitor" login token.
func TestUpgradeAndMonitor(t *testing.T) {
	s, up := newSigner(t), newUpstream(t)
	g := newGateway(t, Config{Public: true}, up.URL, s.keys)
	tok := bearerOf(s.login(t, otto, "monitor", "*"))
	for _, hdr := range map[string][]string{
		"websocket":      {"Connection", "Upgrade", "Upgrade", "websocket"},
		"h2c":            {"Connection", "keep-alive, upgrade", "Upgrade", "h2c"},
		"upgrade alone":  {"Upgrade", "anything"},
		"connection one": {"Connection", "UPGRADE"},
	} {
		wantRefusal(t, call(g, "GET", "/source/version", peer, append(tok, hdr...)...), 400, provisioner.EINVALID)
		wantRefusal(t, call(g, "GET", "/discovery/status", peer, append(tok, hdr...)...), 400, provisioner.EINVALID)
	}
	if a := call(g, "GET", "/grafana/api/live/ws", peer, append(tok, "Connection", "Upgrade", "Upgrade", "websocket")...); a.status == 400 || a.status == 401 || a.status == 403 {
		t.Errorf("grafana upgrade refused: %d %s", a.status, a.raw)
	}
	// The monitor needs a login token with the monitor audience, even on a
	// public cluster, as production's monitor backend does.
	wantRefusal(t, call(g, "GET", "/grafana/", peer), 401, provisioner.EUNAUTHORIZED)
	wantRefusal(t, call(g, "GET", "/grafana/", peer, bearerOf(s.login(t, otto, "*"))...), 403, provisioner.EFORBIDDEN)
	wantRefusal(t, call(g, "GET", "/grafana/", peer, bearerOf(s.cluster(t, otto, "demo"))...), 403, provisioner.EFORBIDDEN)
	if a := call(g, "GET", "/grafana/d/nodes", peer, tok...); a.status != 200 {
		t.Errorf("monitor token: %d %s", a.status, a.raw)
	}
}

// x-sliderule-service routes to a user's own node group; as at the ILB, it
// must equal the token's subject.
func TestServiceHeader(t *testing.T) {
	s, up := newSigner(t), newUpstream(t)
	g := newGateway(t, Config{Public: true}, up.URL, s.keys)
	tok := bearerOf(s.login(t, otto, "*"))
	if a := call(g, "GET", "/source/version", peer, append(tok, "X-Sliderule-Service", "otto")...); a.status != 200 {
		t.Fatalf("own service: %d %s", a.status, a.raw)
	}
	if _, h := up.seen(); h.Get(HeaderService) != "otto" {
		t.Errorf("service header not forwarded: %v", h)
	}
	wantRefusal(t, call(g, "GET", "/source/version", peer, append(tok, "X-Sliderule-Service", "ada")...), 403, provisioner.EFORBIDDEN)
	wantRefusal(t, call(g, "GET", "/source/version", peer, append(tok, "X-Sliderule-Service", "otto", "X-Sliderule-Service", "otto")...), 403, provisioner.EFORBIDDEN)
	wantRefusal(t, call(g, "GET", "/source/version", peer, "X-Sliderule-Service", "otto"), 403, provisioner.EFORBIDDEN)
}
