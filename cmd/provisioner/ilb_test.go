package main

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"provisioner/local/ilb"
	"provisioner/local/ilb/ilbtest"
)

// TestServeRealILB runs serve as `make run` does with production's ILB at
// hand: it says so, the stand-in nodes (`provisioner node`) register, the
// endpoint is the ILB's user port and refuses requests without a token, and
// an ACCESS token reaches a node once tokens carry production's RS256.
func TestServeRealILB(t *testing.T) {
	haproxy, _ := ilbtest.HAProxy(t)
	dir := ilbtest.Dir(t)
	t.Setenv("PROVISIONER_CONFIG_DIR", t.TempDir())
	t.Setenv("PROVISIONER_TOKEN", "")
	srv := startServeAt(t, t.TempDir(), "127.0.0.1:0", nil, "--identity", "static:"+writeIdentity(t),
		"--cluster-command", "exec "+binary+" node", "--ilb-dir", dir, "--haproxy", haproxy)
	t.Setenv("PROVISIONER_URL", srv.URL)
	if !strings.Contains(srv.stderr.String(), "local clusters: production's ILB") {
		t.Errorf("serve does not say it runs the real ILB:\n%s", srv.stderr)
	}
	mustCLI(t, "login", "--pat", "member-token-1")
	t.Cleanup(func() { cli(t, "", "destroy", "ilb-x", "--wait") })
	mustCLI(t, "deploy", "ilb-x", "--nodes", "2", "--ttl", "30m", "--wait")
	endpoint := statusOf(t, "ilb-x")["endpoint"].(string)

	if n, err := ilb.Nodes(t.Context(), endpoint, ""); err != nil || n != 2 {
		t.Errorf("/discovery/status at the endpoint: %d %v", n, err)
	}
	if name, err := ilb.Whoami(t.Context(), endpoint); err != nil || name != "ilb-x" {
		t.Errorf("the endpoint is not the cluster's ILB: %q %v", name, err)
	}
	res, err := http.Get(endpoint + "/source/version")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("no token: %s", res.Status)
	}

	tok := strings.TrimSpace(mustCLI(t, "access", "ilb-x"))
	if alg := tokenAlg(t, tok); alg != "RS256" {
		t.Logf("ACCESS tokens are %s; production's ILB takes RS256 only, so the request with a token is checked once they are", alg)
		return
	}
	req, _ := http.NewRequest(http.MethodGet, endpoint+"/source/version", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("X-Sliderule-Account", "forged")
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var echo struct{ Account, Cluster string }
	if res.StatusCode != http.StatusOK || json.Unmarshal(b, &echo) != nil || echo.Cluster != "ilb-x" || echo.Account == "forged" || echo.Account == "" {
		t.Errorf("with a token: %s %s", res.Status, b)
	}
}

func tokenAlg(t *testing.T, tok string) string {
	t.Helper()
	h, _, _ := strings.Cut(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		t.Fatalf("token header: %v", err)
	}
	var hdr struct{ Alg string }
	json.Unmarshal(b, &hdr)
	return hdr.Alg
}
