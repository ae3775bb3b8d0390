package cluster

import (
	"context"
	"os"
	"path/filepath"
	"provisioner/local/internal/proc"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"provisioner"
)

const testIssuer = "http://127.0.0.1:1/issuer"

// fakeBin is the test binary, which plays the cluster's processes.
func fakeBin(t testing.TB) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

// newTestDriver returns a Driver whose gateway is the fake; with command
// set it runs that upstream command, else a shared upstream URL. Every
// cluster left behind is destroyed at the end of the test, and then no
// process started for the test may be left.
func newTestDriver(t testing.TB, command string, env ...string) *Driver {
	t.Helper()
	tag := "LOCAL_TEST_TAG=" + newInstance()
	t.Cleanup(func() { // runs after driverFor's destroys
		if pids := procsWithEnv(tag); len(pids) > 0 {
			t.Errorf("processes left behind: %v", pids)
			for _, pid := range pids {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	cfg := Config{
		Dir:           filepath.Join(t.TempDir(), "clusters"),
		Executable:    fakeBin(t),
		Issuer:        testIssuer,
		HealthTimeout: 500 * time.Millisecond,
		StopTimeout:   2 * time.Second,
		Env:           append([]string{fakeEnv + "=1", "FAKE_BIN=" + fakeBin(t), tag}, env...),
	}
	if command != "" {
		cfg.Command = command
	} else {
		cfg.Upstream = "http://127.0.0.1:1"
	}
	return driverFor(t, cfg)
}

// driverFor opens a Driver on cfg and destroys its clusters at cleanup.
func driverFor(t testing.TB, cfg Config) *Driver {
	t.Helper()
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		names, _ := d.stateNames()
		for _, n := range names {
			if err := d.Destroy(context.Background(), n); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
	})
	return d
}

func spec(name string) provisioner.ClusterSpec {
	return provisioner.ClusterSpec{Name: name, NodeCapacity: 3, Version: "v4.5.1", CreatedBy: "alice",
		ExpiresAt: time.Now().Add(time.Hour).UTC().Truncate(time.Second)}
}

func deploy(t testing.TB, d *Driver, s provisioner.ClusterSpec) {
	t.Helper()
	if err := d.Deploy(context.Background(), s); err != nil {
		t.Fatalf("deploy %s: %v", s.Name, err)
	}
}

// waitState polls Status until it reports want.
func waitState(t testing.TB, d *Driver, name string, want provisioner.ClusterState) provisioner.DriverStatus {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		st, err := d.Status(context.Background(), name)
		if err != nil {
			t.Fatalf("status %s: %v", name, err)
		}
		if st.State == want {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("status %s = %+v, want %s", name, st, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pids returns the recorded gateway and upstream pids (0 for none).
func pids(t testing.TB, d *Driver, name string) (gateway, upstream int) {
	t.Helper()
	s, err := d.readState(name)
	if err != nil {
		t.Fatal(err)
	}
	return s.Gateway.PID, upstreamPID(s)
}

// running says whether pid is a live (non-zombie) process.
func running(pid int) bool {
	_, ok, err := proc.Identity(pid)
	return err == nil && ok
}

// waitGonePID waits for pid to end; zombies count as gone.
func waitGonePID(t testing.TB, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for running(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d is still running", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// readPID reads a pid a command wrote to a file, waiting for it.
func readPID(t testing.TB, path string) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && perr == nil && strings.HasSuffix(string(b), "\n") {
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("no pid in %s", path)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func killGroup(t testing.TB, pid int) {
	t.Helper()
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitGonePID(t, pid)
}

// procsWithEnv lists the running processes whose environment holds kv;
// none where there is no /proc.
func procsWithEnv(kv string) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err == nil && slices.Contains(strings.Split(string(b), "\x00"), kv) && running(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// testTag is the variable newTestDriver marks the test's processes with.
func testTag(d *Driver) string {
	for _, kv := range d.cfg.Env {
		if strings.HasPrefix(kv, "LOCAL_TEST_TAG=") {
			return kv
		}
	}
	panic("not a test driver")
}

func wantCode(t testing.TB, err error, code string) {
	t.Helper()
	if got := provisioner.ErrorCode(err); got != code {
		t.Fatalf("error %v: code %q, want %q", err, got, code)
	}
}
