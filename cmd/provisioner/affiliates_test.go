package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestServeRefusesBadAffiliates: serve does not start on an affiliates
// file that does not validate, and says why.
func TestServeRefusesBadAffiliates(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "affiliates.json")
	if err := os.WriteFile(bad, []byte(`{"gus": {"active": true, "clusters": ["gus-lab"], "max_nodes": 0, "max_ttl": 60, "allowed_scopes": []}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := cli(t, "", "serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(),
		"--identity", "static:"+filepath.Join("..", "..", "examples", "identity.json"), "--affiliates", bad)
	if code != 2 || !strings.Contains(stderr, "--affiliates") || !strings.Contains(stderr, "gus: max_nodes must be") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
}

// TestReleasedClientAffiliate: a GitHub user outside the organization,
// listed in the affiliates file, logs in with the released Python client
// (PAT) and its info shows the affiliate role, its clusters and limits.
func TestReleasedClientAffiliate(t *testing.T) {
	c := newReleasedClients(t)
	file := filepath.Join(t.TempDir(), "affiliates.json")
	if err := os.WriteFile(file, []byte(`{"gus": {"active": true, "clusters": ["gus-lab"], "max_nodes": 2, "max_ttl": 90,
		"allowed_scopes": ["sliderule:access", "provisioner:access"]}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	srv, _ := clientsServe(t, "--affiliates", file)
	c.routes = clientRoutes(clientsDomain, srv.URL, nil)
	run := c.session(t, patGuest, sessionSpec{
		Session: map[string]any{"domain": clientsDomain, "cluster": "gus-lab"},
		Calls:   []clientCall{{Call: "provisioner.info"}}})
	if run.Token == "" {
		t.Fatalf("the client did not log in:\n%s", run.Stderr)
	}
	if roles := fmt.Sprint(run.Metadata["org_roles"]); roles != "[affiliate]" {
		t.Errorf("login metadata org_roles %s", roles)
	}
	var info map[string]any
	run.result(t, 0, &info)
	noError(t, "info", info)
	if info["username"] != "gus" || fmt.Sprint(info["orgRoles"]) != "[affiliate]" || fmt.Sprint(info["deployableClusters"]) != "[gus-lab]" ||
		!slices.Contains(info["knownClusters"].([]any), any("gus-lab")) || info["maxNodes"] != float64(2) || info["maxTTL"] != float64(90) {
		t.Errorf("info: %v", info)
	}
}
