package cluster

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"provisioner"
	"provisioner/local/ilb"
	"provisioner/local/ilb/ilbtest"
)

// rsaKey is an issuer key for the ILB tests; the tokens carry production's
// claims.
type rsaKey struct {
	priv *rsa.PrivateKey
	kid  string
}

func newRSAKey(t testing.TB, kid string) rsaKey {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return rsaKey{priv, kid}
}

func (k rsaKey) pem(t testing.TB) []byte {
	der, err := x509.MarshalPKIXPublicKey(&k.priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func (k rsaKey) clusterToken(t testing.TB, issuer, cluster string) string {
	t.Helper()
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"iss": issuer, "sub": "alice", "aud": cluster,
		"org_roles": []string{"member"}, "org": "SlideRuleEarth", "iat": now.Unix(), "nbf": now.Unix(),
		"exp": now.Add(time.Hour).Unix(), "jti": "j1", "uid": 7, "level": "org_member"})
	tok.Header["kid"], tok.Header["typ"] = k.kid, "cluster+jwt"
	s, err := tok.SignedString(k.priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestRealILB runs local clusters on production's ILB: deploy, nodes
// registered, tokens checked by production's config, a key rotation picked
// up by RefreshKeys, re-adoption, and a destroy that leaves nothing.
func TestRealILB(t *testing.T) {
	if testing.Short() {
		t.Skip("runs HAProxy")
	}
	t.Parallel()
	haproxy, _ := ilbtest.HAProxy(t)
	src := ilbtest.Dir(t)

	var mu sync.Mutex
	current := newRSAKey(t, "k1")
	keyPEM := func(context.Context) ([]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		return current.pem(t), nil
	}
	tag := "LOCAL_TEST_TAG=" + newInstance()
	t.Cleanup(func() {
		if pids := procsWithEnv(tag); len(pids) > 0 {
			t.Errorf("processes left behind: %v", pids)
		}
	})
	cfg := Config{
		Dir:           filepath.Join(t.TempDir(), "clusters"),
		Executable:    fakeBin(t),
		Issuer:        testIssuer,
		Command:       `exec "$FAKE_BIN" node`,
		HealthTimeout: time.Second,
		StopTimeout:   3 * time.Second,
		Env:           []string{fakeEnv + "=1", "FAKE_BIN=" + fakeBin(t), tag},
		ILB:           &ILBConfig{HAProxy: haproxy, Dir: src, Key: keyPEM},
	}
	d := driverFor(t, cfg)
	ctx := context.Background()
	sp := spec("ilb-demo")
	sp.NodeCapacity = 2
	deploy(t, d, sp)
	st := waitState(t, d, "ilb-demo", provisioner.StateRunning)
	if st.Nodes != 2 {
		t.Errorf("running with %d nodes, want 2", st.Nodes)
	}
	s, err := d.readState("ilb-demo")
	if err != nil {
		t.Fatal(err)
	}
	if s.Gateway != nil || s.ILB == nil || st.Endpoint != "http://127.0.0.1:"+strconv.Itoa(s.ILB.Port) {
		t.Fatalf("state %+v, endpoint %s", s, st.Endpoint)
	}

	through := func(tok string) (int, map[string]string) {
		t.Helper()
		code, body := get(t, st.Endpoint+"/source/version", "Authorization", "Bearer "+tok)
		var e map[string]string
		json.Unmarshal([]byte(body), &e)
		return code, e
	}
	if code, _ := get(t, st.Endpoint+"/source/version"); code != http.StatusForbidden {
		t.Errorf("no token: %d", code)
	}
	old := current
	if code, e := through(old.clusterToken(t, testIssuer, "ilb-demo")); code != http.StatusOK || e["account"] != "alice" || e["org_roles"] != `["member"]` {
		t.Errorf("token: %d %v", code, e)
	}
	if n, err := ilb.Nodes(ctx, st.Endpoint, ""); err != nil || n != 2 {
		t.Errorf("/discovery/status through the endpoint: %d %v", n, err)
	}

	// Rotation: fresh tokens open the cluster after the refresh, the
	// revoked key's no longer do, and the nodes stay registered.
	mu.Lock()
	current = newRSAKey(t, "k2")
	mu.Unlock()
	if err := d.RefreshKeys(ctx); err != nil {
		t.Fatal(err)
	}
	if code, e := through(current.clusterToken(t, testIssuer, "ilb-demo")); code != http.StatusOK || e["account"] != "alice" {
		t.Errorf("fresh token after rotation: %d %v", code, e)
	}
	if code, _ := through(old.clusterToken(t, testIssuer, "ilb-demo")); code != http.StatusForbidden {
		t.Errorf("revoked key after refresh: %d", code)
	}
	if st := waitState(t, d, "ilb-demo", provisioner.StateRunning); st.Nodes != 2 {
		t.Errorf("after the reload: %+v", st)
	}
	if err := d.RefreshKeys(ctx); err != nil { // unchanged key: no reload
		t.Fatal(err)
	}

	// A restarted service re-adopts the cluster with all its processes.
	d2, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if alive, err := d2.Adopt(ctx); err != nil || len(alive) != 1 {
		t.Fatalf("adopt: %v %v", alive, err)
	}
	procs := s.procs()
	if err := d2.Destroy(ctx, "ilb-demo"); err != nil {
		t.Fatal(err)
	}
	for _, p := range procs {
		if running(p.PID) {
			t.Errorf("%s (pid %d) survived the destroy", p.Role, p.PID)
		}
	}
	if _, err := os.Stat(d.ilbDir("ilb-demo")); !os.IsNotExist(err) {
		t.Errorf("ILB files left: %v", err)
	}
}

// New refuses an HAProxy older than 3.0 for the real ILB, saying why,
// and an ILB without node command.
func TestILBConfigRefused(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	for _, f := range []string{"haproxy.cfg", "orchestrator.lua", "analyzer.lua", "json.lua"} {
		if err := os.WriteFile(filepath.Join(src, f), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := filepath.Join(t.TempDir(), "haproxy")
	script := "#!/bin/sh\necho 'HA-Proxy version 2.6.12-1+deb12u2 2025/04/11 - https://haproxy.org/'\n"
	if err := os.WriteFile(old, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	key := func(context.Context) ([]byte, error) { return nil, nil }
	base := Config{Dir: t.TempDir(), Executable: fakeBin(t), Issuer: testIssuer, Command: "true",
		ILB: &ILBConfig{HAProxy: old, Dir: src, Key: key}}
	_, err := New(base)
	if !errors.Is(err, ilb.ErrTooOld) || !strings.Contains(err.Error(), "array audience") {
		t.Errorf("HAProxy 2.6: %v", err)
	}
	noCmd := base
	noCmd.Command, noCmd.Upstream = "", "http://127.0.0.1:1"
	if _, err := New(noCmd); err == nil || !strings.Contains(err.Error(), "--cluster-command") {
		t.Errorf("no command: %v", err)
	}
	noSrc := base
	noSrc.ILB = &ILBConfig{HAProxy: old, Dir: t.TempDir(), Key: key}
	if _, err := New(noSrc); err == nil || !strings.Contains(err.Error(), "haproxy.cfg") {
		t.Errorf("empty ILB dir: %v", err)
	}
}
