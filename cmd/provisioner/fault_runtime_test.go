package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// faultNode is a stand-in node that ignores SIGTERM when NODE_STUBBORN is
// set, so the driver's destroy takes its stop timeout (SIGKILL after it).
const faultNode = `
import http.server, json, os, signal
if os.environ.get("NODE_STUBBORN"): signal.signal(signal.SIGTERM, signal.SIG_IGN)
if os.environ.get("NODE_NEVER"): signal.pause()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"cluster": os.environ["CLUSTER"]}).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
open(os.environ["PIDFILE"] + "." + os.environ["CLUSTER"], "w").write(str(os.getpid()))
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
`

// faultEnv is a test's serve: its data, its node script's pid files, and
// a login token.
type faultEnv struct {
	t      *testing.T
	srv    *server
	data   string
	pids   string
	script string
	token  string
}

// faultServe runs serve with local clusters of faultNode; the sweep runs
// rarely (an hour), so what a test sees is not the sweep's doing.
func faultServe(t *testing.T, env ...string) *faultEnv {
	t.Helper()
	dir := t.TempDir()
	f := &faultEnv{t: t, data: filepath.Join(dir, "data"), pids: filepath.Join(dir, "pid"), script: filepath.Join(dir, "node.py")}
	if err := os.WriteFile(f.script, []byte(faultNode), 0o600); err != nil {
		t.Fatal(err)
	}
	f.start(freeAddr(t), env...)
	// Clusters outlive serve by design; a failed test must not leave them.
	t.Cleanup(func() {
		for _, pid := range f.procs() {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	t.Setenv("PROVISIONER_CONFIG_DIR", t.TempDir())
	t.Setenv("PROVISIONER_URL", f.srv.URL)
	t.Setenv("PROVISIONER_TOKEN", "")
	var l struct{ Token string }
	f.call(http.MethodPost, "/auth/github/pat", `{"pat":"member-token-1"}`, &l)
	f.token = l.Token
	t.Setenv("PROVISIONER_TOKEN", f.token)
	return f
}

func (f *faultEnv) start(addr string, env ...string) {
	f.t.Helper()
	env = append(env, "PIDFILE="+f.pids)
	// The clusters' processes inherit serve's environment.
	f.srv = startServeAt(f.t, f.data, addr, env, "--identity", "static:"+writeIdentity(f.t),
		"--cluster-command", "python3 "+f.script, "--reconcile-interval", "1h", "--health-max-age", "1ms")
}

// procs are the processes of this test's clusters: its gateways (by the
// issuer) and nodes (by the script).
func (f *faultEnv) procs() []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		cmd := strings.ReplaceAll(string(b), "\x00", " ")
		if strings.Contains(cmd, " serve ") {
			continue // the service itself names the script
		}
		if strings.Contains(cmd, f.script) || (strings.Contains(cmd, " gateway ") && strings.Contains(cmd, "--issuer "+f.srv.URL+" ")) {
			out = append(out, pid)
		}
	}
	return out
}

// nodeRunning tells whether a process of the node command still runs: the
// node itself, or a wrapper that started it (the shell of the cluster
// command), which the driver may be watching and which ends a moment after
// the node it waits for.
func (f *faultEnv) nodeRunning() bool {
	for _, pid := range f.procs() {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		if strings.Contains(string(b), f.script) && alivePID(pid) {
			return true
		}
	}
	return false
}

// nodePID is the pid of a cluster's node (the upstream command).
func (f *faultEnv) nodePID(cluster string) int {
	f.t.Helper()
	var pid int
	waitFor(f.t, "the node's pid file", 10*time.Second, func() bool {
		b, err := os.ReadFile(f.pids + "." + cluster)
		pid, _ = strconv.Atoi(string(b))
		return err == nil && pid > 0
	})
	return pid
}

// call makes an API call and decodes its answer; it returns the status.
func (f *faultEnv) call(method, path, body string, out any) int {
	f.t.Helper()
	code, err := f.callCtx(context.Background(), method, path, body, out)
	if err != nil {
		f.t.Fatal(err)
	}
	return code
}

func (f *faultEnv) callCtx(ctx context.Context, method, path, body string, out any) (int, error) {
	req, _ := http.NewRequestWithContext(ctx, method, f.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if f.token != "" {
		req.Header.Set("Authorization", "Bearer "+f.token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return res.StatusCode, err
		}
	}
	return res.StatusCode, nil
}

// alivePID says whether pid runs (a zombie does not).
func alivePID(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return syscall.Kill(pid, 0) == nil
	}
	_, after, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(after, "Z")
}

// events are a cluster's event types, in order.
func (f *faultEnv) events(cluster string) string {
	f.t.Helper()
	var evs struct {
		Events []struct{ Type, Message string }
	}
	f.call(http.MethodPost, "/events", `{"cluster":"`+cluster+`"}`, &evs)
	var types []string
	for _, e := range evs.Events {
		types = append(types, e.Type)
	}
	return strings.Join(types, " ")
}

func (f *faultEnv) state(cluster string) (state, reason string) {
	f.t.Helper()
	var st struct{ State, Reason string }
	f.call(http.MethodPost, "/status", `{"cluster":"`+cluster+`"}`, &st)
	return st.State, st.Reason
}

// TestFaultDestroyClientGone: the client of a DESTROY disconnects while
// the driver is still stopping the cluster (its node ignores SIGTERM); the
// destroy goes on to the end: state absent, operation success, no
// process, the events recorded.
func TestFaultDestroyClientGone(t *testing.T) {
	f := faultServe(t, "NODE_STUBBORN=1")
	mustCLI(t, "deploy", "gone", "--nodes", "1", "--ttl", "30m", "--wait")
	node := f.nodePID("gone")

	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if _, err := f.callCtx(ctx, http.MethodPost, "/destroy", `{"cluster":"gone"}`, nil); err == nil {
		t.Fatal("the DESTROY answered before the node's stop timeout; the test needs it to take longer")
	}
	waitFor(t, "the destroy to end", 20*time.Second, func() bool {
		st, _ := f.state("gone")
		return st == "absent"
	})
	if alivePID(node) || len(f.procs()) > 0 {
		t.Error("processes of the cluster outlived its destroy")
	}
	if ev := f.events("gone"); !strings.Contains(ev, "destroy.requested") || !strings.Contains(ev, "state.absent") {
		t.Errorf("events: %s", ev)
	}
}

// TestFaultClusterKilled: a running cluster's node is SIGKILLed. The next
// DEPLOY does not answer success with the dead endpoint: it finds the
// cluster failed (recorded, with an event) and deploys it again; STATUS
// says so without waiting for the sweep.
func TestFaultClusterKilled(t *testing.T) {
	f := faultServe(t)
	mustCLI(t, "deploy", "killed", "--nodes", "1", "--ttl", "30m", "--wait")
	node := f.nodePID("killed")
	os.Remove(f.pids + ".killed")
	if err := syscall.Kill(node, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the node to die", 5*time.Second, func() bool { return !alivePID(node) && !f.nodeRunning() })
	var dep struct{ Status string }
	code := f.call(http.MethodPost, "/deploy", `{"cluster":"killed","node_capacity":1,"ttl":30,"version":"v4.5.1"}`, &dep)
	if code != http.StatusAccepted || dep.Status != "pending" {
		t.Fatalf("DEPLOY of a cluster whose node was killed: %d %+v\n%s", code, dep, f.srv.stderr)
	}
	if ev := f.events("killed"); !strings.Contains(ev, "state.running state.failed") || !strings.HasSuffix(ev, "deploy.requested schedule.set") {
		t.Errorf("events: %s", ev)
	}
	waitFor(t, "the redeploy", 20*time.Second, func() bool { st, _ := f.state("killed"); return st == "running" })
	again := f.nodePID("killed")
	if again == node || !alivePID(again) {
		t.Fatalf("node %d after the redeploy", again)
	}

	// Killed again, STATUS notices at once (the sweep runs hourly here).
	if err := syscall.Kill(again, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the node to die", 5*time.Second, func() bool { return !alivePID(again) && !f.nodeRunning() })
	waitFor(t, "STATUS to say failed", 5*time.Second, func() bool { st, _ := f.state("killed"); return st == "failed" })
	if _, reason := f.state("killed"); !strings.Contains(reason, "lost") {
		t.Fatalf("STATUS after the node was killed: %q", reason)
	}
	if p := f.procs(); len(p) > 0 {
		t.Errorf("the failed cluster's processes still run: %v", p)
	}
	mustCLI(t, "destroy", "killed", "--wait")
}

// TestFaultSIGTERMLongPolls: SIGTERM while long polls wait on a deploy
// that is not done answers each poll at once with the operation, still
// pending, and serve exits 0; the restarted serve answers the same poll.
func TestFaultSIGTERMLongPolls(t *testing.T) {
	f := faultServe(t, "NODE_NEVER=1")
	var dep struct {
		Status    string
		Operation struct{ ID string }
	}
	if code := f.call(http.MethodPost, "/deploy", `{"cluster":"slow","node_capacity":1,"ttl":30,"version":"v4.5.1"}`, &dep); code != http.StatusAccepted {
		t.Fatalf("deploy: %d %+v", code, dep)
	}
	type answer struct {
		code  int
		state string
		err   error
		took  time.Duration
	}
	answers := make(chan answer, 3)
	for range 3 {
		go func() {
			var op struct{ Status string }
			start := time.Now()
			code, err := f.callCtx(context.Background(), http.MethodGet, "/operations/"+dep.Operation.ID+"?wait=25s", "", &op)
			answers <- answer{code, op.Status, err, time.Since(start)}
		}()
	}
	time.Sleep(500 * time.Millisecond) // the polls are waiting
	start := time.Now()
	if err := f.srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		a := <-answers
		if a.err != nil || a.code != http.StatusAccepted || a.state != "pending" || a.took > 5*time.Second {
			t.Errorf("long poll at shutdown: %+v", a)
		}
	}
	select {
	case err := <-f.srv.done:
		if err != nil {
			t.Fatalf("serve exited with %v after SIGTERM\n%s", err, f.srv.stderr)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not exit after SIGTERM")
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("shutdown took %s; the service logged:\n%s", took, f.srv.stderr)
	}

	// The restarted service answers the clients' next poll.
	addr := strings.TrimPrefix(f.srv.URL, "http://")
	f.start(addr, "NODE_NEVER=1")
	var op struct{ Status string }
	if code := f.call(http.MethodGet, "/operations/"+dep.Operation.ID+"?wait=1s", "", &op); code != http.StatusAccepted || op.Status != "pending" {
		t.Fatalf("poll after the restart: %d %+v", code, op)
	}
	mustCLI(t, "destroy", "slow", "--wait")
	if p := f.procs(); len(p) > 0 {
		t.Errorf("processes left after the destroy: %v", p)
	}
	if ev := f.events("slow"); !strings.Contains(ev, "state.absent") {
		t.Errorf("events: %s", ev)
	}
}
