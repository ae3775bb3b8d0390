package cluster

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"provisioner"
)

func TestDeployRunning(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t, "")
	deploy(t, d, spec("alpha"))
	st := waitState(t, d, "alpha", provisioner.StateRunning)
	if !strings.HasPrefix(st.Endpoint, "http://127.0.0.1:") || st.Nodes != 3 || st.Reason != "" {
		t.Fatalf("status = %+v", st)
	}

	// The gateway answers the SlideRule client's capacity check.
	res, err := http.Post(st.Endpoint+"/discovery/status", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var disc struct{ Nodes int }
	if err := json.NewDecoder(res.Body).Decode(&disc); err != nil || disc.Nodes != 3 {
		t.Fatalf("/discovery/status: nodes %d, err %v", disc.Nodes, err)
	}

	// It was started with the agreed flags, private by default.
	log, _ := os.ReadFile(filepath.Join(d.Dir(), "alpha"+gatewayLogExt))
	want := "fake gateway cluster=alpha public=false upstream=http://127.0.0.1:1 issuer=" + testIssuer + " nodes=3"
	if !strings.Contains(string(log), want) {
		t.Errorf("gateway log %q lacks %q", log, want)
	}

	for path, mode := range map[string]os.FileMode{
		d.Dir():                           0o700 | os.ModeDir,
		d.statePath("alpha"):              0o600,
		d.logPath("alpha", gatewayLogExt): 0o600,
	} {
		if fi, err := os.Stat(path); err != nil || fi.Mode() != mode {
			t.Errorf("%s: mode %v, err %v; want %v", path, fi.Mode(), err, mode)
		}
	}
}

func TestDeployCommand(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t, `exec "$FAKE_BIN" upstream`)
	s := spec("beta")
	s.IsPublic = true
	deploy(t, d, s)
	st := waitState(t, d, "beta", provisioner.StateRunning)

	state, _ := d.readState("beta")
	up, _ := os.ReadFile(state.Upstream.Log)
	want := "fake upstream cluster=beta nodes=3 version=v4.5.1 port=" + strconv.Itoa(state.Upstream.Port)
	if !strings.Contains(string(up), want) {
		t.Errorf("upstream log %q lacks %q", up, want)
	}
	gw, _ := os.ReadFile(state.Gateway.Log)
	if want := "public=true upstream=http://127.0.0.1:" + strconv.Itoa(state.Upstream.Port); !strings.Contains(string(gw), want) {
		t.Errorf("gateway log %q lacks %q", gw, want)
	}
	if st.Endpoint != "http://127.0.0.1:"+strconv.Itoa(state.Gateway.Port) {
		t.Errorf("endpoint %s, gateway port %d", st.Endpoint, state.Gateway.Port)
	}
}

// Request values reach the command only through the environment: a
// version that would be shell syntax in the command text is inert.
func TestCommandGetsValuesOnlyInEnvironment(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := newTestDriver(t, `printf '%s\n' "$VERSION" > "$OUT/version"; exec "$FAKE_BIN" upstream`, "OUT="+dir)
	s := spec("gamma")
	s.Version = "v1.0.0-rc.1"
	deploy(t, d, s)
	waitState(t, d, "gamma", provisioner.StateRunning)
	if b, _ := os.ReadFile(filepath.Join(dir, "version")); string(b) != "v1.0.0-rc.1\n" {
		t.Fatalf("VERSION = %q", b)
	}
	if strings.Contains(d.cfg.Command, "v1.0.0") {
		t.Fatal("the command text was edited")
	}
}

func TestDeployIdempotent(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t, `exec "$FAKE_BIN" upstream`)
	deploy(t, d, spec("alpha"))
	waitState(t, d, "alpha", provisioner.StateRunning)
	gw, up := pids(t, d, "alpha")
	deploy(t, d, spec("alpha"))
	if gw2, up2 := pids(t, d, "alpha"); gw2 != gw || up2 != up {
		t.Fatalf("second deploy restarted: pids %d/%d, then %d/%d", gw, up, gw2, up2)
	}
	waitState(t, d, "alpha", provisioner.StateRunning)
}

func TestUpstreamCommandExits(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t, `echo "config error: bad bucket" >&2; exit 3`)
	deploy(t, d, spec("alpha"))
	st := waitState(t, d, "alpha", provisioner.StateFailed)
	for _, want := range []string{"upstream command", "exited with status 3", d.logPath("alpha", upstreamLogExt), "config error: bad bucket"} {
		if !strings.Contains(st.Reason, want) {
			t.Errorf("reason %q lacks %q", st.Reason, want)
		}
	}
}

func TestUpstreamCommandNotFound(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t, `exec /nonexistent/sliderule-server --port "$PORT"`)
	deploy(t, d, spec("alpha"))
	st := waitState(t, d, "alpha", provisioner.StateFailed)
	if !strings.Contains(st.Reason, "status 127") && !strings.Contains(st.Reason, "status 2") {
		t.Errorf("reason %q: want the shell's not-found status", st.Reason)
	}
	if !strings.Contains(st.Reason, "/nonexistent/sliderule-server") {
		t.Errorf("reason %q lacks the shell's message", st.Reason)
	}
}

func TestGatewayExits(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t, "", "FAKE_GATEWAY_EXIT=4")
	deploy(t, d, spec("alpha"))
	st := waitState(t, d, "alpha", provisioner.StateFailed)
	for _, want := range []string{"gateway (pid", "exited with status 4", "failing on purpose"} {
		if !strings.Contains(st.Reason, want) {
			t.Errorf("reason %q lacks %q", st.Reason, want)
		}
	}
}

// A command that runs but never answers its health check keeps the
// cluster deploying; the application applies the deadline.
func TestNeverHealthyStaysDeploying(t *testing.T) {
	t.Parallel()
	for name, cmd := range map[string]string{
		"silent":    `exec sleep 300`,
		"unhealthy": `FAKE_UPSTREAM_HEALTH=503 exec "$FAKE_BIN" upstream`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := newTestDriver(t, cmd)
			deploy(t, d, spec("alpha"))
			end := time.Now().Add(time.Second)
			for time.Now().Before(end) {
				st, err := d.Status(context.Background(), "alpha")
				if err != nil || st.State != provisioner.StateDeploying {
					t.Fatalf("status = %+v, %v; want deploying", st, err)
				}
				if !strings.Contains(st.Reason, "health check") || st.Nodes != 0 {
					t.Fatalf("reason %q does not say what it waits for", st.Reason)
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
}

func TestGatewayUnhealthyStaysDeploying(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t, "", "FAKE_GATEWAY_HEALTH=503")
	deploy(t, d, spec("alpha"))
	time.Sleep(500 * time.Millisecond)
	st, err := d.Status(context.Background(), "alpha")
	if err != nil || st.State != provisioner.StateDeploying || !strings.Contains(st.Reason, "gateway") {
		t.Fatalf("status = %+v, %v", st, err)
	}
}

// A failed cluster is redeployed from scratch.
func TestRedeployFailed(t *testing.T) {
	t.Parallel()
	flag := filepath.Join(t.TempDir(), "fail")
	os.WriteFile(flag, nil, 0o600)
	d := newTestDriver(t, `if [ -e "$FAIL" ]; then exit 1; fi; exec "$FAKE_BIN" upstream`, "FAIL="+flag)
	deploy(t, d, spec("alpha"))
	waitState(t, d, "alpha", provisioner.StateFailed)
	gw, _ := pids(t, d, "alpha")

	os.Remove(flag)
	deploy(t, d, spec("alpha"))
	waitState(t, d, "alpha", provisioner.StateRunning)
	waitGonePID(t, gw) // the old gateway was stopped
	if gw2, _ := pids(t, d, "alpha"); gw2 == gw {
		t.Fatal("the failed cluster's gateway was kept")
	}
}

// When the gateway cannot start, Deploy fails and stops the upstream it
// already started.
func TestGatewayStartFailure(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t, `exec sleep 300`)
	notExec := filepath.Join(t.TempDir(), "provisioner")
	os.WriteFile(notExec, []byte("not a program"), 0o600)
	d.cfg.Executable = notExec
	err := d.Deploy(context.Background(), spec("alpha"))
	wantCode(t, err, provisioner.EUNAVAILABLE)
	if pids := procsWithEnv(testTag(d)); len(pids) > 0 {
		t.Errorf("the upstream command was left running: %v", pids)
	}
	if st, _ := d.Status(context.Background(), "alpha"); st.State != provisioner.StateAbsent {
		t.Fatalf("status after a failed start = %+v", st)
	}
}

func TestStatusAbsent(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t, "")
	st, err := d.Status(context.Background(), "nothing")
	if err != nil || st.State != provisioner.StateAbsent {
		t.Fatalf("status = %+v, %v", st, err)
	}
}

func TestList(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t, `exec "$FAKE_BIN" upstream`)
	deploy(t, d, spec("bravo"))
	deploy(t, d, spec("alpha"))
	waitState(t, d, "alpha", provisioner.StateRunning)
	waitState(t, d, "bravo", provisioner.StateRunning)
	list, err := d.List(context.Background())
	if err != nil || len(list) != 2 || list[0].Spec.Name != "alpha" || list[1].Spec.Name != "bravo" {
		t.Fatalf("list = %+v, %v", list, err)
	}
	a := list[0]
	if a.Status.State != provisioner.StateRunning || len(a.Processes) != 2 || !a.Processes[0].Alive ||
		a.Processes[0].Role != roleUpstream || a.Spec.NodeCapacity != 3 || a.Spec.CreatedBy != "alice" ||
		a.Spec.Version != "v4.5.1" || a.StartedAt.IsZero() {
		t.Fatalf("alpha = %+v", a)
	}
}
