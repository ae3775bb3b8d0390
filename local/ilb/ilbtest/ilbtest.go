// Package ilbtest starts production SlideRule's ILB (haproxy.cfg +
// orchestrator.lua + analyzer.lua, see package ilb) for a test, with
// in-process stand-in nodes registered to it:
//
//	l := ilbtest.Start(t, ilbtest.Options{Cluster: "demo", Issuer: iss, PEM: pubPEM, Nodes: 2})
//	res, _ := http.Get(l.URL + "/source/version") // through production's token checks
//
// It needs HAProxy >= 3.0 and the SlideRule reference files:
//   - HAProxy: $PROVISIONER_TEST_HAPROXY, else .cache/haproxy/haproxy under
//     the repository root (what scripts/haproxy.sh builds), else haproxy on
//     PATH;
//   - the ILB files: $SLIDERULE_REF/apps/ilb, where SLIDERULE_REF defaults
//     to ../shared/sliderule-ref relative to the repository root.
//
// Without them a test is skipped, unless CI=true: then it fails.
package ilbtest

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"provisioner/local/ilb"
)

// Missing skips the test, or fails it under CI=true, where nothing may be
// missing.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true and "+format, args...)
	}
	t.Skipf(format, args...)
}

// RepoRoot is the directory of the go.mod above the working directory.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}

// RefDir is the SlideRule reference directory ($SLIDERULE_REF, default
// ../shared/sliderule-ref next to the repository).
func RefDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("SLIDERULE_REF")
	if dir == "" {
		dir = filepath.Join(RepoRoot(t), "..", "shared", "sliderule-ref")
	}
	if _, err := os.Stat(dir); err != nil {
		Missing(t, "no SlideRule reference files at %s (set SLIDERULE_REF): %v", dir, err)
	}
	return dir
}

// Dir is the ILB directory of the reference files.
func Dir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(RefDir(t), "apps", "ilb")
	if err := ilb.CheckSrc(dir); err != nil {
		Missing(t, "%v", err)
	}
	return dir
}

// HAProxy returns a usable HAProxy (>= 3.0) and its version.
func HAProxy(t testing.TB) (string, ilb.Version) {
	t.Helper()
	path := os.Getenv("PROVISIONER_TEST_HAPROXY")
	if path == "" {
		if p := filepath.Join(RepoRoot(t), ".cache", "haproxy", "haproxy"); fileExists(p) {
			path = p
		}
	}
	path, err := ilb.FindHAProxy(path)
	if err != nil {
		Missing(t, "%v (scripts/haproxy.sh builds HAProxy 3.0; or set PROVISIONER_TEST_HAPROXY)", err)
	}
	v, err := ilb.CheckHAProxy(context.Background(), path)
	if err != nil {
		Missing(t, "%v (scripts/haproxy.sh builds HAProxy 3.0; or set PROVISIONER_TEST_HAPROXY)", err)
	}
	return path, v
}

func fileExists(p string) bool { st, err := os.Stat(p); return err == nil && st.Mode().IsRegular() }

// Options of Start.
type Options struct {
	Cluster string // CLUSTER; default "test"
	Public  bool   // IS_PUBLIC
	Issuer  string // JWT_ISSUER: the tokens' iss
	PEM     []byte // the issuer's signing key (PKIX "PUBLIC KEY" PEM), as /auth/pem serves it
	Domain  string // DOMAIN; default "localhost"
	Nodes   int    // stand-in nodes, run in the test process; default 1, -1 for none
	// NodeLifetime is the nodes' registration lifetime; zero means
	// ilb.NodeLifetime.
	NodeLifetime time.Duration
}

// ILB is a running ILB.
type ILB struct {
	URL          string   // the user port (production's :80), http://127.0.0.1:PORT
	DiscoveryURL string   // the node-facing port (production's :8050)
	Dir          string   // the prepared directory (haproxy.cfg, pem/pubkey.pem, log)
	Nodes        []string // the nodes' registered addresses
	Cluster      string
	PID          int // the HAProxy master

	log string
}

// Start prepares and starts the ILB and its nodes, waits until every node
// is registered, and stops them all when the test ends.
func Start(t testing.TB, o Options) *ILB {
	t.Helper()
	bin, v := HAProxy(t)
	src := Dir(t)
	if o.Cluster == "" {
		o.Cluster = "test"
	}
	if o.Domain == "" {
		o.Domain = "localhost"
	}
	if o.Nodes == 0 {
		o.Nodes = 1
	}
	ports := freePorts(t, 2)
	dir := t.TempDir()
	l := &ILB{URL: "http://127.0.0.1:" + strconv.Itoa(ports[0]), DiscoveryURL: "http://127.0.0.1:" + strconv.Itoa(ports[1]),
		Dir: dir, Cluster: o.Cluster, log: filepath.Join(dir, "haproxy.log")}
	if err := ilb.Prepare(ilb.Config{Src: src, Dir: dir, UserPort: ports[0], DiscoveryPort: ports[1], Version: v}); err != nil {
		t.Fatal(err)
	}
	if _, err := ilb.WritePEM(dir, o.PEM); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(l.log)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	argv := ilb.Args(bin, dir)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), ilb.Env(dir, o.Cluster, o.Public, o.Domain, o.Issuer)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	l.PID = cmd.Process.Pid
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		stopGroup(l.PID)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			t.Errorf("HAProxy (pid %d) did not stop", l.PID)
		}
		if t.Failed() {
			b, _ := os.ReadFile(l.log)
			t.Logf("HAProxy log:\n%s", b)
		}
	})

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	for range max(o.Nodes, 0) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		n := &ilb.Node{Service: o.Cluster, Version: "v0.0.0-test", Orchestrator: l.DiscoveryURL, Lifetime: o.NodeLifetime}
		l.Nodes = append(l.Nodes, "http://"+ln.Addr().String())
		wg.Add(1)
		go func() { defer wg.Done(); n.Serve(ctx, ln) }()
	}
	l.WaitNodes(t, len(l.Nodes), exited)
	return l
}

// WaitNodes waits until the ILB counts n nodes of its cluster.
func (l *ILB) WaitNodes(t testing.TB, n int, exited <-chan struct{}) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		got, err := ilb.Nodes(context.Background(), l.DiscoveryURL, "")
		if err == nil && got == n {
			return
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(l.log)
			t.Fatalf("HAProxy exited:\n%s", b)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the ILB counts %d nodes (%v), want %d", got, err, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// SetPEM installs a new issuer key and reloads the ILB, as the local
// cluster driver does on a key refresh.
func (l *ILB) SetPEM(t testing.TB, pem []byte) {
	t.Helper()
	changed, err := ilb.WritePEM(l.Dir, pem)
	if err != nil {
		t.Fatal(err)
	}
	if changed {
		if err := ilb.Reload(context.Background(), l.PID, l.DiscoveryURL, l.Cluster, l.Nodes); err != nil {
			t.Fatal(err)
		}
	}
}

// Get sends a GET to the user port with the given header pairs.
func (l *ILB) Get(t testing.TB, path string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, l.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	return do(t, req)
}

func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}
