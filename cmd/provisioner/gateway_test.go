package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	gatewayRE = regexp.MustCompile(`msg="gateway listening" addr=(\S+)`)
	metricsRE = regexp.MustCompile(`msg="gateway metrics listening" addr=(\S+)`)
)

// startGateway runs the binary's gateway on a random port and waits until
// it listens; metrics is the metrics URL when --metrics-addr is given.
func startGateway(t *testing.T, args ...string) (gw *server, metrics string) {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"gateway", "--listen", "127.0.0.1:0"}, args...)...)
	pr, pw := io.Pipe()
	s := &server{cmd: cmd, stderr: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr, maddr := make(chan string, 1), make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			s.stderr.WriteString(line + "\n")
			if m := gatewayRE.FindStringSubmatch(line); m != nil {
				addr <- m[1]
			}
			if m := metricsRE.FindStringSubmatch(line); m != nil {
				maddr <- m[1]
			}
		}
	}()
	go func() { s.done <- cmd.Wait(); pw.Close() }()
	select {
	case a := <-addr:
		s.URL = "http://" + a
	case err := <-s.done:
		t.Fatalf("gateway exited: %v\n%s", err, s.stderr)
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("gateway did not start\n%s", s.stderr)
	}
	select {
	case a := <-maddr:
		metrics = "http://" + a + "/metrics"
	default:
	}
	t.Cleanup(func() { s.stop(t) })
	return s, metrics
}

// cluster is an upstream that records the identity headers it receives.
type cluster struct {
	*httptest.Server
	mu   sync.Mutex
	user []string
}

func newCluster(t *testing.T) *cluster {
	c := &cluster{}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.user = append(c.user, r.Header.Get("X-Sliderule-Account")+"/"+r.Header.Get("X-Sliderule-Org-Roles"))
		c.mu.Unlock()
		_, _ = w.Write([]byte(`{"version":"v4.9.0"}`))
	}))
	t.Cleanup(c.Close)
	return c
}

func (c *cluster) seen() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.user...)
}

func fetch(t *testing.T, url, token string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(b)
}

func tokenKid(t *testing.T, tok string) string {
	b, err := base64.RawURLEncoding.DecodeString(strings.SplitN(tok, ".", 2)[0])
	var h struct {
		Kid string `json:"kid"`
	}
	if err != nil || json.Unmarshal(b, &h) != nil {
		t.Fatalf("token header %q", tok)
	}
	return h.Kid
}

// TestGatewayEndToEnd runs `serve` and `gateway` as child processes: the
// gateway takes its keys from the service's JWKS, refuses what it must,
// forwards the right token, and follows a key rotation without restart.
func TestGatewayEndToEnd(t *testing.T) {
	t.Setenv("PROVISIONER_CONFIG_DIR", t.TempDir())
	t.Setenv("PROVISIONER_TOKEN", "")
	srv := startServe(t, nil, "--identity", "static:"+writeIdentity(t))
	t.Setenv("PROVISIONER_URL", srv.URL)
	mustCLI(t, "login", "--pat", "admin-token-1")
	mustCLI(t, "cluster", "register", "demo", "--private")
	mustCLI(t, "cluster", "register", "other", "--private")
	mustCLI(t, "cluster", "register", "pub", "--public")
	up := newCluster(t)

	gw, metrics := startGateway(t, "--cluster", "demo", "--private", "--upstream", up.URL, "--issuer", srv.URL,
		"--metrics-addr", "127.0.0.1:0", "--jwks-min-refresh", "100ms")
	if code, _, body := fetch(t, gw.URL+"/source/version", ""); code != 401 || !strings.Contains(body, `"error":"unauthorized"`) {
		t.Fatalf("no token: %d %s", code, body)
	}
	other := strings.TrimSpace(mustCLI(t, "access", "other"))
	if code, _, body := fetch(t, gw.URL+"/source/version", other); code != 403 {
		t.Fatalf("token of another cluster: %d %s", code, body)
	}
	if len(up.seen()) != 0 {
		t.Fatal("refused requests reached the cluster")
	}
	tok := strings.TrimSpace(mustCLI(t, "access", "demo"))
	if code, _, body := fetch(t, gw.URL+"/source/version", tok); code != 200 || body != `{"version":"v4.9.0"}` {
		t.Fatalf("right token: %d %s", code, body)
	}
	if got := up.seen(); len(got) != 1 || got[0] != `ada/["owner","member"]` {
		t.Fatalf("identity upstream: %v", got)
	}

	// Rotate the service's key; once it signs with the new one, the
	// gateway accepts the new token, and still the old.
	oldKid := tokenKid(t, tok)
	mustCLI(t, "keys", "rotate", "--data", srv.Data)
	deadline := time.Now().Add(10 * time.Second)
	fresh := tok
	for tokenKid(t, fresh) == oldKid {
		if time.Now().After(deadline) {
			t.Fatal("the service still signs with the old key")
		}
		time.Sleep(100 * time.Millisecond)
		fresh = strings.TrimSpace(mustCLI(t, "access", "demo"))
	}
	for _, tk := range []string{fresh, tok} {
		if code, _, body := fetch(t, gw.URL+"/source/version", tk); code != 200 {
			t.Fatalf("after rotation: %d %s", code, body)
		}
	}

	code, _, body := fetch(t, metrics, "")
	for _, want := range []string{
		`sliderule_gateway_requests_total{level="admin",result="forwarded"} 3`,
		`sliderule_gateway_requests_total{level="none",result="unauthorized"} 1`,
		`sliderule_gateway_verify_seconds_count`, `sliderule_gateway_token_cache_total{result="hit"}`,
	} {
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("metrics lack %s: %d\n%s", want, code, body)
		}
	}
	// The public port serves the ILB's user paths only: /metrics is
	// neither answered there nor forwarded.
	before := len(up.seen())
	if code, _, _ := fetch(t, gw.URL+"/metrics", tok); code != 404 || len(up.seen()) != before {
		t.Errorf("/metrics on the public port: %d, forwarded %d", code, len(up.seen())-before)
	}
}

// TestGatewayPublicEndToEnd: anonymous traffic passes, rate-limited per
// network; a forged token is refused.
func TestGatewayPublicEndToEnd(t *testing.T) {
	t.Setenv("PROVISIONER_CONFIG_DIR", t.TempDir())
	t.Setenv("PROVISIONER_TOKEN", "")
	srv := startServe(t, nil, "--identity", "static:"+writeIdentity(t))
	t.Setenv("PROVISIONER_URL", srv.URL)
	up := newCluster(t)
	gw, _ := startGateway(t, "--cluster", "pub", "--public", "--upstream", up.URL, "--issuer", srv.URL,
		"--rate-anonymous", "1/m", "--burst-anonymous", "2", "--nodes", "2")

	for i := 0; i < 2; i++ {
		if code, _, body := fetch(t, gw.URL+"/source/version", ""); code != 200 {
			t.Fatalf("anonymous %d: %d %s", i, code, body)
		}
	}
	code, hdr, body := fetch(t, gw.URL+"/source/version", "")
	if code != 429 || hdr.Get("Retry-After") == "" || !strings.Contains(body, `"error":"rate_limited"`) {
		t.Fatalf("third anonymous request: %d %v %s", code, hdr, body)
	}
	forged := "eyJhbGciOiJFUzI1NiIsImtpZCI6IngiLCJ0eXAiOiJjbHVzdGVyK2p3dCJ9.eyJhdWQiOiJwdWIiLCJsZXZlbCI6ImFkbWluIn0.AAAA"
	if code, _, body := fetch(t, gw.URL+"/source/version", forged); code != 401 {
		t.Fatalf("forged token: %d %s", code, body)
	}
	if got := up.seen(); len(got) != 2 || got[0] != "/" {
		t.Fatalf("upstream saw %v", got)
	}
	if code, _, body := fetch(t, gw.URL+"/healthz", ""); code != 200 || !strings.Contains(body, `"keys":1`) {
		t.Fatalf("healthz: %d %s", code, body)
	}
}

func TestGatewayBadFlags(t *testing.T) {
	ok := []string{"--cluster", "demo", "--private", "--upstream", "http://127.0.0.1:1", "--issuer", "http://127.0.0.1:2"}
	for _, bad := range [][]string{
		{"--cluster", "Demo;ls"}, {"--cluster", "gateway"}, {"--cluster", ""},
		{"--public"}, // with --private
		{"--upstream", "127.0.0.1:8050"}, {"--upstream", "ftp://x/"}, {"--upstream", "http://u:p@x/"},
		{"--issuer", "/relative"}, {"--issuer", "https://x/?q=1"},
		{"--trust-proxy", "-1"}, {"--trust-proxy", "11"}, {"--nodes", "-1"},
		{"--rate-anonymous", "0"}, {"--rate-member", "10/d"}, {"--rate-admin", "fast"}, {"--burst-org-member", "-1"},
		{"--upstream-timeout", "0s"}, {"--jwks-refresh", "0s"}, {"--cache-size", "-5"},
		{"--log-format", "xml"}, {"--metrics-addr", "127.0.0.1:9000", "--listen", "127.0.0.1:9000"},
		{"--listen", "9000"}, {"--listen", ""}, {"--metrics-addr", "localhost"},
		{"--upstream-health", "source/health"}, {"--frobnicate"},
	} {
		args := append(append([]string{"gateway"}, ok...), bad...)
		if code, _, errs := cli(t, "", args...); code != exitUsage || !strings.Contains(errs, "error:") {
			t.Errorf("%v: exit %d %s", bad, code, errs)
		}
	}
	if code, _, _ := cli(t, "", "gateway", "--cluster", "demo", "--upstream", "http://h", "--issuer", "http://i"); code != exitUsage {
		t.Errorf("neither --public nor --private: exit %d", code)
	}
	// Flags come from the environment too.
	t.Setenv("PROVISIONER_CLUSTER", "Not Valid")
	if code, _, errs := cli(t, "", "gateway", "--private", "--upstream", "http://h", "--issuer", "http://i"); code != exitUsage || !strings.Contains(errs, "invalid cluster name") {
		t.Errorf("PROVISIONER_CLUSTER: exit %d %s", code, errs)
	}
}
