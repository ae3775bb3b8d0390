package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"provisioner/cmd/provisioner/internal/iostreams"
)

// nodeScript is a stand-in SlideRule node for local clusters: it answers
// /source/health after an optional delay.
const nodeScript = `
import http.server, json, os, time
time.sleep(float(os.environ.get("NODE_DELAY", "0")))
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"cluster": os.environ["CLUSTER"], "path": self.path,
                           "account": self.headers.get("X-Sliderule-Account", "")}).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
`

func clusterServe(t testing.TB, data, addr string, env ...string) *server {
	t.Helper()
	script := filepath.Join(t.TempDir(), "node.py")
	if err := os.WriteFile(script, []byte(nodeScript), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startServeAt(t, data, addr, env, "--identity", "static:"+writeIdentity(t),
		"--cluster-command", "python3 "+script, "--reconcile-interval", "1s")
	// Clusters outlive serve by design; a failed test must not leave them.
	t.Cleanup(func() {
		_ = exec.Command("pkill", "-f", "--", "--issuer "+srv.URL+" ").Run()
		_ = exec.Command("pkill", "-f", "--", script).Run()
	})
	return srv
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func statusOf(t *testing.T, cluster string) map[string]any {
	t.Helper()
	var st map[string]any
	if err := json.Unmarshal([]byte(mustCLI(t, "status", cluster, "--json")), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// clusterPids lists the processes of a local cluster (gateway and node).
func clusterPids(t *testing.T, cluster string) []string {
	t.Helper()
	out, _ := exec.Command("pgrep", "-f", "--", "gateway --cluster "+cluster+" ").Output()
	return strings.Fields(string(out))
}

func waitFor(t *testing.T, what string, d time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestLifecycleEndToEnd drives the CLI through deploy → access → a request
// through the cluster gateway → schedule → destroy, against the real binary.
func TestLifecycleEndToEnd(t *testing.T) {
	t.Setenv("PROVISIONER_CONFIG_DIR", t.TempDir())
	t.Setenv("PROVISIONER_TOKEN", "")
	srv := clusterServe(t, t.TempDir(), "127.0.0.1:0")
	t.Setenv("PROVISIONER_URL", srv.URL)
	mustCLI(t, "login", "--pat", "member-token-1")

	code, _, errs := cli(t, "", "deploy", "e2e", "--nodes", "2", "--ttl", "30m", "--version", "v4.5.1", "--wait")
	if code != 0 {
		t.Fatalf("deploy: exit %d\n%s\n%s", code, errs, srv.stderr)
	}
	if !strings.Contains(errs, "deploy e2e: success") {
		t.Errorf("plain progress lines expected off a terminal: %q", errs)
	}
	st := statusOf(t, "e2e")
	endpoint, _ := st["endpoint"].(string)
	if st["state"] != "running" || endpoint == "" || st["node_capacity"] != "2" || st["created_by"] != "otto" {
		t.Fatalf("status %v", st)
	}
	// Deploying again is success at once.
	if code, out, _ := cli(t, "", "deploy", "e2e", "--nodes", "2"); code != 0 || !strings.Contains(out, "running") {
		t.Fatalf("redeploy: %d %s", code, out)
	}

	// Through the gateway: refused without a token, forwarded with one.
	res, err := http.Get(endpoint + "/source/version")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 401 {
		t.Fatalf("private cluster without a token: %d", res.StatusCode)
	}
	tok := strings.TrimSpace(mustCLI(t, "access", "e2e"))
	req, _ := http.NewRequest("GET", endpoint+"/source/version", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	_ = json.NewDecoder(res.Body).Decode(&body)
	res.Body.Close()
	if res.StatusCode != 200 || body["cluster"] != "e2e" || body["account"] != "otto" {
		t.Fatalf("through the gateway: %d %v", res.StatusCode, body)
	}
	// The SlideRule client's wait-for-capacity call.
	req, _ = http.NewRequest("POST", endpoint+"/discovery/status", strings.NewReader(`{"service":"e2e"}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var disc map[string]any
	_ = json.NewDecoder(res.Body).Decode(&disc)
	res.Body.Close()
	if disc["nodes"] != 2.0 {
		t.Fatalf("discovery: %v", disc)
	}

	// Schedule, then a reschedule inside the 5-minute window is refused.
	mustCLI(t, "schedule-destroy", "e2e", "--in", "4m")
	if code, _, errs := cli(t, "", "schedule-destroy", "e2e", "--in", "1h"); code != exitFailure || !strings.Contains(errs, "less than 5m0s") {
		t.Fatalf("too late: exit %d %s", code, errs)
	}
	if len(clusterPids(t, "e2e")) == 0 {
		t.Fatal("no processes for a running cluster")
	}
	code, out, errs := cli(t, "", "destroy", "e2e", "--wait")
	if code != 0 || !strings.Contains(out, "absent") {
		t.Fatalf("destroy: exit %d %s %s", code, out, errs)
	}
	waitFor(t, "the cluster's processes to end", 10*time.Second, func() bool { return len(clusterPids(t, "e2e")) == 0 })
	if st := statusOf(t, "e2e"); st["state"] != "absent" {
		t.Fatalf("after destroy: %v", st)
	}
	if code, _, _ := cli(t, "", "destroy", "e2e", "--wait"); code != 0 {
		t.Fatal("destroying an absent cluster must succeed")
	}
	out = mustCLI(t, "events", "e2e")
	for _, want := range []string{"deploy.requested", "state.running", "schedule.set", "destroy.requested", "state.absent"} {
		if !strings.Contains(out, want) {
			t.Errorf("events lack %s:\n%s", want, out)
		}
	}
}

// TestScheduledDestroyFires: a destroy schedule fires on time and leaves
// no process behind.
func TestScheduledDestroyFires(t *testing.T) {
	t.Setenv("PROVISIONER_CONFIG_DIR", t.TempDir())
	t.Setenv("PROVISIONER_TOKEN", "")
	srv := clusterServe(t, t.TempDir(), "127.0.0.1:0")
	t.Setenv("PROVISIONER_URL", srv.URL)
	mustCLI(t, "login", "--pat", "member-token-1")
	mustCLI(t, "deploy", "ttl", "--ttl", "30m", "--wait")
	mustCLI(t, "schedule-destroy", "ttl", "--in", "2s")
	waitFor(t, "the scheduled destroy", 15*time.Second, func() bool { return statusOf(t, "ttl")["state"] == "absent" })
	waitFor(t, "the cluster's processes to end", 10*time.Second, func() bool { return len(clusterPids(t, "ttl")) == 0 })
	if out := mustCLI(t, "events", "ttl"); !strings.Contains(out, "schedule.fired") {
		t.Errorf("no schedule.fired event:\n%s", out)
	}
}

// TestServeKilledMidDeploy: serve dies by SIGKILL while a cluster deploys;
// after a restart the cluster converges to running, keeps its schedule,
// and a destroy leaves no orphan.
func TestServeKilledMidDeploy(t *testing.T) {
	t.Setenv("PROVISIONER_CONFIG_DIR", t.TempDir())
	t.Setenv("PROVISIONER_TOKEN", "")
	data, addr := t.TempDir(), freeAddr(t)
	srv := clusterServe(t, data, addr, "NODE_DELAY=2")
	t.Setenv("PROVISIONER_URL", srv.URL)
	mustCLI(t, "login", "--pat", "member-token-1")
	if code, _, errs := cli(t, "", "deploy", "crash", "--ttl", "30m"); code != 0 {
		t.Fatalf("deploy: %d %s", code, errs)
	}
	if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-srv.done
	srv2 := clusterServe(t, data, addr)
	if srv2.URL != srv.URL {
		t.Fatalf("restarted on %s, not %s", srv2.URL, srv.URL)
	}
	waitFor(t, "the deploy to converge after the restart", 20*time.Second, func() bool {
		return statusOf(t, "crash")["state"] == "running"
	})
	if st := statusOf(t, "crash"); st["destroy_at"] == nil {
		t.Fatalf("schedule lost: %v", st)
	}
	if !strings.Contains(srv2.stderr.String(), "re-adopted local clusters") {
		t.Errorf("restart did not re-adopt:\n%s", srv2.stderr)
	}
	mustCLI(t, "destroy", "crash", "--wait")
	waitFor(t, "no orphan process", 10*time.Second, func() bool { return len(clusterPids(t, "crash")) == 0 })
}

// TestDeployBadInput: the CLI refuses bad input before any request.
func TestDeployBadInput(t *testing.T) {
	t.Setenv("PROVISIONER_CONFIG_DIR", t.TempDir())
	for _, args := range [][]string{
		{"deploy", "Bad_Name"},
		{"deploy", "ok-name", "--version", "--upload-pack=/bin/sh"},
		{"deploy", "ok-name", "--version", "v1;rm -rf /"},
		{"deploy", "ok-name", "--nodes", "0"},
		{"deploy", "ok-name", "--ttl", "10s"},
		{"schedule-destroy", "ok-name"},
		{"schedule-destroy", "ok-name", "--at", "tomorrow"},
		{"extend", "ok-name"},
		{"destroy", "a;b"},
	} {
		if code, _, errs := cli(t, "", args...); code != exitUsage {
			t.Errorf("%v: exit %d %s", args, code, errs)
		}
	}
	_ = fmt.Sprint()
}

// TestExampleMakefile runs examples/Makefile (deploy → test → destroy)
// against a real serve, as a developer would.
func TestExampleMakefile(t *testing.T) {
	for _, tool := range []string{"make", "curl", "python3"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed: %v", tool, err)
		}
	}
	cfg := t.TempDir()
	t.Setenv("PROVISIONER_CONFIG_DIR", cfg)
	t.Setenv("PROVISIONER_TOKEN", "")
	srv := clusterServe(t, t.TempDir(), "127.0.0.1:0")
	t.Setenv("PROVISIONER_URL", srv.URL)
	mustCLI(t, "login", "--pat", "member-token-1")
	cmd := exec.Command("make", "-f", "../../examples/Makefile", "all", "CLUSTER=mk-test", "NODES=2", "PROVISIONER="+binary)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make: %v\n%s\n%s", err, out, srv.stderr)
	}
	for _, want := range []string{`{"nodes":2}`, `"path": "/source/version"`, "state:      absent"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("make output lacks %q:\n%s", want, out)
		}
	}
}

// BenchmarkDeployToRunning measures DEPLOY → running of a local cluster
// (a gateway and a node process) through the real binary, and its destroy.
func BenchmarkDeployToRunning(b *testing.B) {
	b.Setenv("PROVISIONER_CONFIG_DIR", b.TempDir())
	b.Setenv("PROVISIONER_TOKEN", "")
	srv := clusterServe(b, b.TempDir(), "127.0.0.1:0")
	b.Setenv("PROVISIONER_URL", srv.URL)
	ios, _, _, errb := iostreams.Test()
	if Main([]string{"login", "--pat", "member-token-1"}, ios) != 0 {
		b.Fatal(errb.String())
	}
	var deploy, destroy time.Duration
	for i := 0; b.Loop(); i++ {
		name := fmt.Sprintf("bench-%d", i)
		t0 := time.Now()
		if code := Main([]string{"deploy", name, "--wait"}, ios); code != 0 {
			b.Fatalf("deploy: %s", errb.String())
		}
		deploy += time.Since(t0)
		t0 = time.Now()
		if code := Main([]string{"destroy", name, "--wait"}, ios); code != 0 {
			b.Fatalf("destroy: %s", errb.String())
		}
		destroy += time.Since(t0)
	}
	b.ReportMetric(float64(deploy.Milliseconds())/float64(b.N), "deploy-ms/op")
	b.ReportMetric(float64(destroy.Milliseconds())/float64(b.N), "destroy-ms/op")
}

// TestDeployFailures: an upstream that cannot start fails the deploy with
// its reason; one that never becomes healthy fails at the deadline; both
// leave no process behind.
func TestDeployFailures(t *testing.T) {
	t.Setenv("PROVISIONER_CONFIG_DIR", t.TempDir())
	t.Setenv("PROVISIONER_TOKEN", "")
	// A sleep of a unique length, so the test can find its processes.
	marker := fmt.Sprintf("sleep 300.%d", time.Now().UnixNano()%1000000)
	srv := startServe(t, nil, "--identity", "static:"+writeIdentity(t), "--deploy-timeout", "10s",
		"--cluster-command", `if [ "$CLUSTER" = broken ]; then echo "no such data" >&2; exit 3; fi; exec `+marker)
	t.Cleanup(func() { _ = exec.Command("pkill", "-f", "^"+marker+"$").Run() })
	t.Setenv("PROVISIONER_URL", srv.URL)
	mustCLI(t, "login", "--pat", "member-token-1")

	code, _, errs := cli(t, "", "deploy", "broken", "--wait")
	if code != exitFailure || !strings.Contains(errs, "exited with status 3") || !strings.Contains(errs, "no such data") {
		t.Fatalf("broken upstream: exit %d %s", code, errs)
	}
	if st := statusOf(t, "broken"); st["state"] != "failed" || st["reason"] == nil {
		t.Fatalf("status %v", st)
	}
	start := time.Now()
	code, _, errs = cli(t, "", "deploy", "sleepy", "--wait")
	if code != exitFailure || !strings.Contains(errs, "not running after 10s") {
		t.Fatalf("never healthy: exit %d %s", code, errs)
	}
	if d := time.Since(start); d < 9*time.Second || d > 20*time.Second {
		t.Errorf("failed after %v, want the 10s deadline", d)
	}
	waitFor(t, "the failed clusters' processes to end", 10*time.Second, func() bool {
		out, _ := exec.Command("pgrep", "-f", "^"+marker+"$").Output()
		return len(clusterPids(t, "sleepy")) == 0 && len(clusterPids(t, "broken")) == 0 && len(strings.TrimSpace(string(out))) == 0
	})
	// A failed cluster is redeployed (and fails again, for the same reason).
	if code, _, _ := cli(t, "", "deploy", "broken", "--wait"); code != exitFailure {
		t.Errorf("redeploy: exit %d", code)
	}
}
