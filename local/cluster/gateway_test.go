package cluster

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"provisioner"
	"provisioner/jwt"
	"provisioner/local/keyring"
)

// TestRealGateway deploys clusters through the real `provisioner gateway`,
// built from cmd/provisioner, in front of a per-cluster upstream command.
func TestRealGateway(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the provisioner binary")
	}
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "provisioner")
	build := exec.Command("go", "build", "-o", bin, "provisioner/cmd/provisioner")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if out, err := exec.Command(bin, "gateway", "--help").CombinedOutput(); err != nil {
		t.Skipf("the binary has no gateway command yet: %v\n%s", err, out)
	}
	issuer, tokens := testIssuerServer(t)

	d := driverFor(t, Config{
		Dir:        filepath.Join(t.TempDir(), "clusters"),
		Executable: bin,
		Issuer:     issuer,
		Command:    `exec "$FAKE_BIN" upstream`,
		Env:        []string{fakeEnv + "=1", "FAKE_BIN=" + fakeBin(t)},
	})
	ctx := context.Background()
	pub := spec("real-public")
	pub.IsPublic = true
	deploy(t, d, pub)
	deploy(t, d, spec("real-private"))
	st := waitState(t, d, "real-public", provisioner.StateRunning)
	priv := waitState(t, d, "real-private", provisioner.StateRunning)

	// A public cluster forwards anonymous requests to its own upstream.
	code, body := get(t, st.Endpoint+"/source/version")
	if code != http.StatusOK || !strings.Contains(body, "upstream real-public account= roles= path=/source/version") {
		t.Errorf("public: %d %q", code, body)
	}
	// A private one forwards nothing without a token.
	if code, body := get(t, priv.Endpoint+"/source/version"); code != http.StatusUnauthorized || strings.Contains(body, "upstream") {
		t.Errorf("private without a token: %d %q", code, body)
	}
	// With a jwt_cluster from the issuer it does, and answers the SlideRule
	// client's capacity check.
	tok, _, err := tokens.IssueCluster(ctx, provisioner.User{Login: "alice", ID: 7, Level: provisioner.LevelOrgMember}, "real-private")
	if err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, priv.Endpoint+"/source/version", "Authorization", "Bearer "+tok); code != http.StatusOK ||
		!strings.Contains(body, `upstream real-private account=alice roles=["member"]`) {
		t.Errorf("private with a token: %d %q", code, body)
	}
	req, _ := http.NewRequest(http.MethodPost, priv.Endpoint+"/discovery/status", strings.NewReader("{}"))
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var disc struct{ Nodes int }
	json.NewDecoder(res.Body).Decode(&disc)
	res.Body.Close()
	if disc.Nodes != 3 {
		t.Errorf("/discovery/status: %d %+v", res.StatusCode, disc)
	}

	gw, up := pids(t, d, "real-public")
	if err := d.Destroy(ctx, "real-public"); err != nil {
		t.Fatal(err)
	}
	if running(gw) || running(up) {
		t.Fatal("a process survived the destroy")
	}
}

// testIssuerServer publishes a keyring's keys as the provisioner does and
// returns Tokens that sign with it.
func testIssuerServer(t *testing.T) (string, *jwt.Tokens) {
	keys, err := keyring.Open(keyring.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			writeJSONStatus(w, http.StatusOK, map[string]any{"issuer": srv.URL, "jwks_uri": srv.URL + "/.well-known/jwks.json"})
		case "/.well-known/jwks.json":
			pks, _ := keys.PublicKeys(r.Context())
			b, _ := jwt.MarshalJWKS(pks)
			w.Header().Set("Content-Type", "application/json")
			w.Write(b)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL, jwt.New(jwt.Config{Issuer: srv.URL, Signer: keys})
}

func get(t *testing.T, url string, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}
