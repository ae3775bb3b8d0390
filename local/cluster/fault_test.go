package cluster

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"provisioner"
	"provisioner/local/ilb/ilbtest"
)

// fakeClock is the grace period's clock: tests move it instead of sleeping.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestFaultNodeStopped freezes (SIGSTOP) the nodes of a cluster on
// production's ILB: a frozen node stays registered with the ILB but stops
// answering. Within the grace period nothing changes; past it the node is
// no longer counted, and when no node answers the cluster is failed, with
// the reason. Nodes that answer again count again; the destroy leaves no
// process.
func TestFaultNodeStopped(t *testing.T) {
	t.Parallel()
	haproxy, _ := ilbtest.HAProxy(t)
	key := newRSAKey(t, "k1")
	tag := "LOCAL_TEST_TAG=" + newInstance()
	t.Cleanup(func() {
		if pids := procsWithEnv(tag); len(pids) > 0 {
			t.Errorf("processes left behind: %v", pids)
		}
	})
	clock := &fakeClock{now: time.Now()}
	d := driverFor(t, Config{
		Dir:            filepath.Join(t.TempDir(), "clusters"),
		Executable:     fakeBin(t),
		Issuer:         testIssuer,
		Command:        `exec "$FAKE_BIN" node`,
		HealthTimeout:  300 * time.Millisecond,
		UnhealthyGrace: 10 * time.Second,
		Now:            clock.Now,
		StopTimeout:    2 * time.Second,
		Env:            []string{fakeEnv + "=1", "FAKE_BIN=" + fakeBin(t), tag},
		ILB:            &ILBConfig{HAProxy: haproxy, Dir: ilbtest.Dir(t), Key: func(context.Context) ([]byte, error) { return key.pem(t), nil }},
	})
	sp := spec("frozen")
	sp.NodeCapacity = 2
	deploy(t, d, sp)
	if st := waitState(t, d, "frozen", provisioner.StateRunning); st.Nodes != 2 {
		t.Fatalf("running with %d nodes, want 2", st.Nodes)
	}
	s, err := d.readState("frozen")
	if err != nil {
		t.Fatal(err)
	}
	node1, node2 := s.Nodes[0].PID, s.Nodes[1].PID
	t.Cleanup(func() { // a stopped process ends only once continued or killed
		syscall.Kill(node1, syscall.SIGCONT)
		syscall.Kill(node2, syscall.SIGCONT)
	})
	status := func(want provisioner.ClusterState, nodes int, reason string) {
		t.Helper()
		st, err := d.Status(context.Background(), "frozen")
		if err != nil {
			t.Fatal(err)
		}
		if st.State != want || st.Nodes != nodes || !strings.Contains(st.Reason, reason) {
			t.Fatalf("status %+v, want %s with %d nodes and a reason with %q", st, want, nodes, reason)
		}
	}

	if err := syscall.Kill(node1, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	status(provisioner.StateRunning, 2, "node 1 does not answer")
	clock.Add(11 * time.Second)
	status(provisioner.StateRunning, 1, "node 1 does not answer its health check since")
	status(provisioner.StateRunning, 1, "past the grace period")

	if err := syscall.Kill(node2, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	status(provisioner.StateRunning, 1, "node 2 does not answer")
	clock.Add(11 * time.Second)
	status(provisioner.StateFailed, 0, "node 2 does not answer")

	// Continued, they answer again and count again.
	syscall.Kill(node1, syscall.SIGCONT)
	syscall.Kill(node2, syscall.SIGCONT)
	status(provisioner.StateRunning, 2, "")

	if err := d.Destroy(context.Background(), "frozen"); err != nil {
		t.Fatal(err)
	}
	if running(node1) || running(node2) {
		t.Error("a node outlived the destroy")
	}
	status(provisioner.StateAbsent, 0, "")
}
