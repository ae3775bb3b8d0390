package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"provisioner/cmd/provisioner/internal/creds"
	"provisioner/cmd/provisioner/internal/iostreams"
)

var binary string

// TestMain builds the real binary once; serve runs as a child process, so
// the tests see what a user sees, signals and exit codes included.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "provisioner-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "provisioner")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is a running `provisioner serve`.
type server struct {
	URL    string
	Data   string
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan error
	exited atomic.Bool // set when Wait returns, before done is sent
}

// syncBuffer is a bytes.Buffer safe for the reader goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) WriteString(v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.WriteString(v)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var listenRE = regexp.MustCompile(`msg="provisioner listening" addr=(\S+)`)

// startServe runs the binary's serve on a random port and waits until it listens.
func startServe(t *testing.T, env []string, args ...string) *server {
	t.Helper()
	return startServeAt(t, t.TempDir(), "127.0.0.1:0", env, args...)
}

// startServeAt runs serve on a given data directory and address, so a test
// can restart it where it was.
func startServeAt(t testing.TB, data, addr string, env []string, args ...string) *server {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"serve", "--addr", addr, "--data", data}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	pr, pw := io.Pipe()
	s := &server{Data: data, cmd: cmd, stderr: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	bound := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			s.stderr.WriteString(line + "\n")
			if m := listenRE.FindStringSubmatch(line); m != nil {
				bound <- m[1]
			}
		}
	}()
	go func() { err := cmd.Wait(); s.exited.Store(true); s.done <- err; pw.Close() }()
	select {
	case a := <-bound:
		s.URL = "http://" + a
	case err := <-s.done:
		t.Fatalf("serve exited: %v\n%s", err, s.stderr)
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("serve did not start\n%s", s.stderr)
	}
	t.Cleanup(func() { s.stop(t) })
	return s
}

// stop sends SIGTERM and expects a clean exit.
func (s *server) stop(t testing.TB) {
	if s.exited.Load() {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("serve did not exit cleanly on SIGTERM: %v", err)
		}
	case <-time.After(20 * time.Second):
		s.cmd.Process.Kill()
		t.Error("serve ignored SIGTERM")
	}
}

// cli runs the CLI in process with its own config dir.
func cli(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ios, in, out, errb := iostreams.Test()
	in.WriteString(stdin)
	code = Main(args, ios)
	return code, out.String(), errb.String()
}

// cachedToken is the token the last login cached for server.
func cachedToken(server string) (string, error) {
	return (&creds.Cache{Path: creds.DefaultPath()}).Get(server, time.Now())
}

func mustCLI(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errs := cli(t, "", args...)
	if code != 0 {
		t.Fatalf("provisioner %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

func writeIdentity(t testing.TB) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "identity.json")
	err := os.WriteFile(p, []byte(`{"org":"sliderule","users":[
		{"token":"admin-token-1","login":"ada","id":1,"level":"admin"},
		{"token":"member-token-1","login":"otto","id":2,"level":"org_member"},
		{"token":"guest-token-1","login":"gus","id":3,"level":"member"}]}`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestEndToEndStatic(t *testing.T) {
	t.Setenv("PROVISIONER_CONFIG_DIR", t.TempDir())
	t.Setenv("PROVISIONER_TOKEN", "")
	// The identity comes from the environment, as every flag can.
	srv := startServe(t, []string{"PROVISIONER_IDENTITY=static:" + writeIdentity(t)})
	t.Setenv("PROVISIONER_URL", srv.URL)

	// Not logged in: exit 3 with a hint.
	if code, _, errs := cli(t, "", "access", "demo"); code != exitAuth || !strings.Contains(errs, "provisioner login") {
		t.Fatalf("not logged in: %d %q", code, errs)
	}
	// Login with a token on stdin; the cache is private.
	if code, _, errs := cli(t, "admin-token-1\n", "login", "--with-token"); code != 0 || !strings.Contains(errs, "as ada (admin)") {
		t.Fatalf("login: %d %s", code, errs)
	}
	if fi, err := os.Stat(creds.DefaultPath()); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file: %v %v", fi.Mode(), err)
	}
	var who map[string]any
	if err := json.Unmarshal([]byte(mustCLI(t, "whoami", "--json")), &who); err != nil || who["sub"] != "ada" || who["level"] != "admin" {
		t.Fatalf("whoami: %v %v", who, err)
	}

	mustCLI(t, "cluster", "register", "demo", "--private")
	if code, _, _ := cli(t, "", "cluster", "register", "demo"); code != exitUsage {
		t.Errorf("register without --public/--private: exit %d", code)
	}
	if code, _, errs := cli(t, "", "cluster", "register", "Demo;ls", "--public"); code != exitUsage || !strings.Contains(errs, "invalid cluster name") {
		t.Errorf("bad name: exit %d %s", code, errs)
	}
	tok := strings.TrimSpace(mustCLI(t, "access", "demo"))
	if strings.Count(tok, ".") != 2 || strings.ContainsAny(tok, " \n") {
		t.Fatalf("access must print the bare token, got %q", tok)
	}
	if code, _, errs := cli(t, "", "access", "nosuch"); code != exitFailure || !strings.Contains(errs, "does not exist") {
		t.Errorf("unknown cluster: exit %d %s", code, errs)
	}
	out := mustCLI(t, "list")
	if !strings.Contains(out, "demo\trunning\tprivate\t0\t-\tada") {
		t.Errorf("list: %q", out)
	}

	// A member cannot reach the private cluster, nor tell it from a
	// missing one: the same "does not exist" (exit 1).
	mustCLI(t, "login", "--pat", "guest-token-1")
	if code, _, errs := cli(t, "", "access", "demo"); code != 1 || !strings.Contains(errs, `cluster "demo" does not exist`) {
		t.Errorf("guest access: exit %d %s", code, errs)
	}
	if code, _, _ := cli(t, "", "audit"); code != exitAuth {
		t.Errorf("guest audit: exit %d", code)
	}
	// A bad token from GITHUB_TOKEN: exit 3.
	t.Setenv("GITHUB_TOKEN", "wrong-token-1")
	if code, _, errs := cli(t, "", "login"); code != exitAuth || !strings.Contains(errs, "unknown token") {
		t.Errorf("bad token: exit %d %s", code, errs)
	}
	t.Setenv("GITHUB_TOKEN", "admin-token-1")
	mustCLI(t, "login")

	var entries []map[string]any
	if err := json.Unmarshal([]byte(mustCLI(t, "audit", "--json", "--action", "access")), &entries); err != nil {
		t.Fatal(err)
	}
	results := map[string]int{}
	for _, e := range entries {
		results[fmt.Sprint(e["actor"], ":", e["result"])]++
	}
	if results["ada:success"] != 1 || results["ada:not_found"] != 1 || results["gus:not_found"] != 1 {
		t.Errorf("audit of access attempts: %v", results)
	}

	// The audit export lands in the log store, as JSON lines.
	if _, _, errs := cli(t, "", "audit", "export", "--since", "1h"); !strings.Contains(errs, "Exported") {
		t.Fatalf("audit export: %s", errs)
	}
	exports, _ := filepath.Glob(filepath.Join(srv.Data, "logs", "audit", "*.jsonl"))
	if len(exports) != 1 {
		t.Fatalf("audit exports on disk: %v", exports)
	}

	// Usage errors exit 2; an unreachable server exits 1.
	if code, _, _ := cli(t, "", "access"); code != exitUsage {
		t.Errorf("access without a cluster: exit %d", code)
	}
	if code, _, _ := cli(t, "", "frobnicate"); code != exitUsage {
		t.Errorf("unknown command: exit %d", code)
	}
	if code, _, errs := cli(t, "", "--server", "http://127.0.0.1:1", "login", "--pat", "admin-token-1"); code != exitFailure || !strings.Contains(errs, "cannot reach") {
		t.Errorf("unreachable: exit %d %s", code, errs)
	}
}

// TestKeyRotationWhileServing: `keys rotate` on the data dir of a running
// service takes effect without a restart and keeps old tokens valid.
func TestKeyRotationWhileServing(t *testing.T) {
	t.Setenv("PROVISIONER_CONFIG_DIR", t.TempDir())
	t.Setenv("PROVISIONER_TOKEN", "")
	// Each login signs (no reuse of the last login's token), so the loop
	// below sees the new key as soon as the service uses it.
	srv := startServe(t, nil, "--identity", "static:"+writeIdentity(t), "--github-login-cache", "0")
	t.Setenv("PROVISIONER_URL", srv.URL)
	mustCLI(t, "login", "--pat", "admin-token-1")
	oldKid := kidOf(t, mustCLI(t, "login", "--pat", "admin-token-1", "--json"))

	mustCLI(t, "keys", "rotate", "--data", srv.Data)
	if list := mustCLI(t, "keys", "list", "--data", srv.Data); strings.Count(list, "\n") != 2 {
		t.Fatalf("keys list after rotation: %q", list)
	}
	mustCLI(t, "whoami") // the token signed by the old key still works

	// The service notices the rotation within its check interval (1s).
	deadline := time.Now().Add(5 * time.Second)
	for len(jwks(t, srv.URL)) != 2 {
		if time.Now().After(deadline) {
			t.Fatal("JWKS does not publish both keys after rotation")
		}
		time.Sleep(100 * time.Millisecond)
	}
	for {
		newKid := kidOf(t, mustCLI(t, "login", "--pat", "admin-token-1", "--json"))
		if newKid != oldKid {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the running service still signs with the old key")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// kidOf returns the kid of the cached token after a `login --json`.
func kidOf(t *testing.T, _ string) string {
	t.Helper()
	m, err := (&creds.Cache{Path: creds.DefaultPath()}).Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range m {
		hdr, _, _ := strings.Cut(c.Token, ".")
		b, _ := base64.RawURLEncoding.DecodeString(hdr)
		var h struct {
			Kid string `json:"kid"`
		}
		_ = json.Unmarshal(b, &h)
		return h.Kid
	}
	t.Fatal("no cached token")
	return ""
}

func jwks(t *testing.T, url string) []any {
	t.Helper()
	res, err := http.Get(url + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var doc struct {
		Keys []any `json:"keys"`
	}
	if err := json.NewDecoder(res.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	return doc.Keys
}

func TestServeBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "--identity", "ldap"},
		{"serve", "--identity", "static:"},
		{"serve", "--user-token-ttl", "1s"},
		{"serve", "--log-format", "xml"},
		{"serve", "--actions-audience", "x"}, // needs --github-org
		{"serve", "--actions-rules", `[{"level":"root"}]`},
		{"serve", "--github-login-cache", "10m"},
		{"serve", "--github-login-cache", "-1s"},
		{"serve", "--notice-leads", "30s"},
		{"serve", "--notice-leads", "10m,10m"},
		{"serve", "--notice-webhook-url", "https://hooks.example.org/x"}, // no secret
		{"serve", "--notice-webhook-url", "ftp://x/y", "--notice-webhook-secret", "0123456789abcdef"},
		{"serve", "--notice-email-to", "ops@example.org"},                                          // no --notice-smtp
		{"serve", "--notice-smtp", "mail.example.org:587", "--notice-email-to", "ops@example.org"}, // no sender
		{"serve", "--notice-smtp", "mail.example.org:25", "--notice-smtp-tls", "none", "--notice-smtp-user", "u",
			"--notice-email-from", "p@example.org", "--notice-email-to", "ops@example.org"},
		{"serve", "--dashboard-url", "javascript:alert(1)"},
		{"serve", "--oauth-trusted-hosts", "https://app.example.org/"},
		{"serve", "--oauth-third-party-hosts", "claude.ai:443"},
		{"serve", "--github-client-secret", "s"}, // needs --github-client-id
	} {
		args = append(args, "--data", t.TempDir(), "--addr", "127.0.0.1:0")
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		out, err := exec.CommandContext(ctx, binary, args...).CombinedOutput()
		cancel()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitUsage {
			t.Errorf("%v: want exit 2, got %v\n%s", args, err, out)
		}
	}
}
