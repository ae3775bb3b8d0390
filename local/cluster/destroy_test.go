package cluster

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"provisioner/local/internal/proc"
	"slices"
	"syscall"
	"testing"
	"time"

	"provisioner"
)

// Destroy ends the gateway, the upstream command and what it started in
// the background, and is idempotent.
func TestDestroyKillsEverything(t *testing.T) {
	t.Parallel()
	pidFile := filepath.Join(t.TempDir(), "pid")
	d := newTestDriver(t, `sleep 300 & echo $! > "$PIDFILE"; exec "$FAKE_BIN" upstream`, "PIDFILE="+pidFile)
	deploy(t, d, spec("alpha"))
	waitState(t, d, "alpha", provisioner.StateRunning)
	gw, up := pids(t, d, "alpha")
	bg := readPID(t, pidFile)

	if err := d.Destroy(context.Background(), "alpha"); err != nil {
		t.Fatal(err)
	}
	for _, pid := range []int{gw, up, bg} {
		if running(pid) {
			t.Errorf("process %d survived the destroy", pid)
		}
	}
	if _, err := os.Stat(d.statePath("alpha")); !os.IsNotExist(err) {
		t.Errorf("state file: %v", err)
	}
	if st, err := d.Status(context.Background(), "alpha"); err != nil || st.State != provisioner.StateAbsent {
		t.Errorf("status after destroy = %+v, %v", st, err)
	}
	if err := d.Destroy(context.Background(), "alpha"); err != nil {
		t.Errorf("second destroy: %v", err)
	}
	if err := d.Destroy(context.Background(), "never-deployed"); err != nil {
		t.Errorf("destroy of an absent cluster: %v", err)
	}
}

// A process that left the cluster's process group (setsid) is still found
// by the instance marker in its environment.
func TestDestroyKillsEscapedProcess(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/proc/self/environ"); err != nil {
		t.Skip("no /proc: only process groups are stopped")
	}
	setsid, err := exec.LookPath("setsid")
	if err != nil {
		t.Skip("no setsid(1)")
	}
	pidFile := filepath.Join(t.TempDir(), "pid")
	d := newTestDriver(t, `"$SETSID" sleep 300 & echo $! > "$PIDFILE"; exec "$FAKE_BIN" upstream`,
		"PIDFILE="+pidFile, "SETSID="+setsid)
	deploy(t, d, spec("alpha"))
	waitState(t, d, "alpha", provisioner.StateRunning)
	escaped := readPID(t, pidFile)
	waitFor(t, func() bool { return pgid(escaped) == escaped }) // setsid has run

	if err := d.Destroy(context.Background(), "alpha"); err != nil {
		t.Fatal(err)
	}
	if running(escaped) {
		t.Fatalf("escaped process %d survived", escaped)
	}
}

// A process that ignores SIGTERM is killed after StopTimeout.
func TestDestroyEscalatesToSIGKILL(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t, `exec "$FAKE_BIN" upstream`, "FAKE_IGNORE_TERM=1")
	d.cfg.StopTimeout = 300 * time.Millisecond
	deploy(t, d, spec("alpha"))
	waitState(t, d, "alpha", provisioner.StateRunning)
	gw, up := pids(t, d, "alpha")
	start := time.Now()
	if err := d.Destroy(context.Background(), "alpha"); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) < 300*time.Millisecond {
		t.Error("SIGTERM was not ignored; the test proves nothing")
	}
	if running(gw) || running(up) {
		t.Fatal("a process survived SIGKILL")
	}
}

// After the service crashed (its Driver is gone), a new Driver on the same
// directory re-adopts the live cluster and cleans up the dead one,
// killing what is left of it.
func TestAdoptAfterCrash(t *testing.T) {
	t.Parallel()
	old := newTestDriver(t, `exec "$FAKE_BIN" upstream`)
	deploy(t, old, spec("alive"))
	deploy(t, old, spec("dead"))
	waitState(t, old, "alive", provisioner.StateRunning)
	waitState(t, old, "dead", provisioner.StateRunning)
	aliveGW, aliveUp := pids(t, old, "alive")
	deadGW, deadUp := pids(t, old, "dead")
	killGroup(t, deadUp) // its upstream died while the service was down

	d := driverFor(t, old.cfg) // the restarted service
	adopted, err := d.Adopt(context.Background())
	if err != nil || !slices.Equal(adopted, []string{"alive"}) {
		t.Fatalf("adopt = %v, %v", adopted, err)
	}
	waitGonePID(t, deadGW)
	if _, err := os.Stat(d.statePath("dead")); !os.IsNotExist(err) {
		t.Errorf("dead cluster's state: %v", err)
	}
	st := waitState(t, d, "alive", provisioner.StateRunning)
	if gw, up := pids(t, d, "alive"); gw != aliveGW || up != aliveUp || st.Nodes != 3 {
		t.Fatalf("adopted cluster changed: %d/%d -> %d/%d, %+v", aliveGW, aliveUp, gw, up, st)
	}

	// The new Driver did not start them, yet destroys them.
	if err := d.Destroy(context.Background(), "alive"); err != nil {
		t.Fatal(err)
	}
	if running(aliveGW) || running(aliveUp) {
		t.Fatal("adopted processes survived the destroy")
	}
}

// A deploy interrupted after starting a process but before recording its
// pid is cleaned up by Adopt through the instance marker.
func TestAdoptInterruptedDeploy(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/proc/self/environ"); err != nil {
		t.Skip("no /proc")
	}
	d := newTestDriver(t, `exec sleep 300`)
	s, err := d.newState(spec("alpha")) // pending, no pids yet
	if err != nil {
		t.Fatal(err)
	}
	orphan := exec.Command("sleep", "300")
	orphan.Env = []string{proc.ClusterMarker + "=" + s.Instance}
	orphan.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := orphan.Start(); err != nil {
		t.Fatal(err)
	}
	go orphan.Wait()
	t.Cleanup(func() { orphan.Process.Kill() })

	if st, _ := d.Status(context.Background(), "alpha"); st.State != provisioner.StateFailed {
		t.Errorf("interrupted deploy: status %+v, want failed", st)
	}
	adopted, err := d.Adopt(context.Background())
	if err != nil || len(adopted) != 0 {
		t.Fatalf("adopt = %v, %v", adopted, err)
	}
	waitGonePID(t, orphan.Process.Pid)
}

// A state file whose pid now belongs to another process (pid recycled
// after a reboot or a long time) never gets that process signalled.
func TestRecycledPIDNotKilled(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t, "")
	stranger := exec.Command("sleep", "300")
	stranger.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // a group a kill(-pid) would hit
	if err := stranger.Start(); err != nil {
		t.Fatal(err)
	}
	go stranger.Wait()
	t.Cleanup(func() { stranger.Process.Kill() })
	pid := stranger.Process.Pid

	write := func(name string) {
		s := &clusterState{Format: stateFormat, Name: name, Instance: newInstance(), Endpoint: "http://127.0.0.1:1",
			Spec: stateSpec{Nodes: 1}, Gateway: &procState{Role: roleGateway, PID: pid, Ident: "0:1", Port: 1,
				Log: d.logPath(name, gatewayLogExt)}}
		if err := d.writeState(s); err != nil {
			t.Fatal(err)
		}
	}
	write("recycled")
	if st, _ := d.Status(context.Background(), "recycled"); st.State != provisioner.StateFailed {
		t.Errorf("status = %+v, want failed", st)
	}
	if err := d.Destroy(context.Background(), "recycled"); err != nil {
		t.Fatal(err)
	}
	write("recycled-2")
	if adopted, err := d.Adopt(context.Background()); err != nil || len(adopted) != 0 {
		t.Fatalf("adopt = %v, %v", adopted, err)
	}
	write("recycled-3")
	if err := d.Deploy(context.Background(), spec("recycled-3")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if !running(pid) {
		t.Fatal("the stranger was killed")
	}
}

// A state file that cannot be trusted is never used to signal anything.
func TestCorruptState(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t, "")
	for name, body := range map[string]string{
		"garbage": "{not json",
		"pid-one": `{"format":1,"name":"pid-one","instance":"x","gateway":{"role":"gateway","pid":1,"ident":"a"}}`,
		"other":   `{"format":1,"name":"someone-else","instance":"x","gateway":{"role":"gateway","pid":5,"ident":"a"}}`,
	} {
		os.WriteFile(d.statePath(name), []byte(body), 0o600)
		st, err := d.Status(context.Background(), name)
		if err != nil || st.State != provisioner.StateFailed {
			t.Errorf("%s: status %+v, %v", name, st, err)
		}
		if err := d.Destroy(context.Background(), name); err != nil {
			t.Errorf("%s: destroy: %v", name, err)
		}
		if st, _ := d.Status(context.Background(), name); st.State != provisioner.StateAbsent {
			t.Errorf("%s: after destroy %+v", name, st)
		}
	}
}

func pgid(pid int) int {
	g, err := syscall.Getpgid(pid)
	if err != nil {
		return -1
	}
	return g
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
