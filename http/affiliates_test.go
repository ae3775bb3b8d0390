package http_test

import (
	"context"
	"slices"
	"testing"

	"provisioner"
	"provisioner/affiliates"
	"provisioner/app"
	phttp "provisioner/http"
)

// withAffiliates serves the affiliates file data.
func withAffiliates(t *testing.T, data string) func(*app.Config, *phttp.Config) {
	return func(a *app.Config, _ *phttp.Config) {
		src, err := affiliates.New(context.Background(), "test", func(context.Context, string) ([]byte, string, error) {
			return []byte(data), "1", nil
		}, affiliates.Options{})
		if err != nil {
			t.Fatal(err)
		}
		a.Affiliates = src
	}
}

// TestAffiliateInfo: POST /info for an affiliate (mia, a GitHub user
// outside the organization) in production's UserInfo shape (checked
// against production's OpenAPI by the env's spec checker when at hand):
// the affiliate role, its clusters known and deployable, its limits; its
// login token names the clusters; DEPLOY of them within its limits.
func TestAffiliateInfo(t *testing.T) {
	e := newEnv(t, withAffiliates(t, `{"mia": {"active": true, "clusters": ["lab-a", "lab-b"], "max_nodes": 3, "max_ttl": 120,
		"allowed_scopes": ["sliderule:access", "provisioner:access", "monitor:access"]}}`))
	e.register("other", false)
	tok := e.login("tok-member")
	c, err := e.tokens.VerifyUser(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.OrgRoles, []string{"affiliate"}) || !slices.Equal(c.Audience, []string{"provisioner", "monitor", "lab-a", "lab-b"}) {
		t.Fatalf("login token: org_roles %v aud %v", c.OrgRoles, c.Audience)
	}
	r := e.do("POST", "/info", tok, nil)
	if r.status != 200 {
		t.Fatalf("/info: %d %s", r.status, r.raw)
	}
	strs := func(k string) []string {
		var out []string
		for _, v := range r.body[k].([]any) {
			out = append(out, v.(string))
		}
		slices.Sort(out)
		return out
	}
	if r.str("username") != "mia" || !slices.Equal(strs("orgRoles"), []string{"affiliate"}) ||
		!slices.Equal(strs("knownClusters"), []string{"lab-a", "lab-b"}) || !slices.Equal(strs("deployableClusters"), []string{"lab-a", "lab-b"}) ||
		r.body["maxNodes"] != float64(3) || r.body["maxTTL"] != float64(120) {
		t.Errorf("/info: %s", r.raw)
	}
	if e.spec != nil {
		if _, err := productionRouter(); err == nil && !e.spec.prodSeen["/info"] {
			t.Error("/info was not checked against production's spec")
		}
	}

	wantError(t, e.do("POST", "/deploy", tok, map[string]any{"cluster": "lab-a", "node_capacity": 4, "ttl": 60}), 403, provisioner.ELIMIT)
	wantError(t, e.do("POST", "/deploy", tok, map[string]any{"cluster": "lab-a", "node_capacity": 3, "ttl": 121}), 403, provisioner.ELIMIT)
	wantError(t, e.do("POST", "/deploy", tok, map[string]any{"cluster": "other", "node_capacity": 1, "ttl": 60}), 403, provisioner.EFORBIDDEN)
	if r := e.do("POST", "/deploy", tok, map[string]any{"cluster": "lab-a", "node_capacity": 3, "ttl": 120}); r.status != 200 && r.status != 202 {
		t.Fatalf("deploy: %d %s", r.status, r.raw)
	}
	wantError(t, e.do("POST", "/access", tok, map[string]any{"cluster": "other"}), 404, provisioner.ENOTFOUND)
	// A user not listed gets nothing of it.
	org := e.login("tok-org")
	wantError(t, e.do("POST", "/deploy", e.login("tok-pending"), map[string]any{"cluster": "lab-b", "node_capacity": 1, "ttl": 60}), 403, provisioner.EFORBIDDEN)
	if r := e.do("POST", "/info", org, nil); r.status != 200 || slices.Contains(r.body["orgRoles"].([]any), any("affiliate")) {
		t.Errorf("org member's /info: %s", r.raw)
	}
}
