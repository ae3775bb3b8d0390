package cluster

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"provisioner"
	"provisioner/local/ilb"
	"provisioner/local/ilb/ilbtest"
)

func waitGroup(t testing.TB, d *Driver, cluster, user string, want provisioner.ClusterState) provisioner.DriverStatus {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		st, err := d.GroupStatus(context.Background(), cluster, user)
		if err != nil {
			t.Fatalf("group status %s/%s: %v", cluster, user, err)
		}
		if st.State == want {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("group status %s/%s = %+v, want %s", cluster, user, st, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRealILBGroups attaches a user node group to a local cluster on
// production's ILB: its nodes register under service = the user, the ILB
// routes x-sliderule-service: <sub> to them (and refuses another user's
// service), a key refresh keeps them registered, a restarted service
// re-adopts them, and the cluster's destroy takes them with it.
func TestRealILBGroups(t *testing.T) {
	if testing.Short() {
		t.Skip("runs HAProxy")
	}
	t.Parallel()
	haproxy, _ := ilbtest.HAProxy(t)
	src := ilbtest.Dir(t)
	var mu sync.Mutex
	current := newRSAKey(t, "k1")
	keyPEM := func(context.Context) ([]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		return current.pem(t), nil
	}
	tag := "LOCAL_TEST_TAG=" + newInstance()
	t.Cleanup(func() {
		if pids := procsWithEnv(tag); len(pids) > 0 {
			t.Errorf("processes left behind: %v", pids)
		}
	})
	cfg := Config{
		Dir: filepath.Join(t.TempDir(), "clusters"), Executable: fakeBin(t), Issuer: testIssuer,
		Command: `exec "$FAKE_BIN" node`, HealthTimeout: time.Second, StopTimeout: 3 * time.Second,
		Env: []string{fakeEnv + "=1", "FAKE_BIN=" + fakeBin(t), tag},
		ILB: &ILBConfig{HAProxy: haproxy, Dir: src, Key: keyPEM},
	}
	d := driverFor(t, cfg)
	ctx := context.Background()
	err := d.DeployGroup(ctx, provisioner.NodeGroupSpec{Cluster: "grp-demo", User: "alice", NodeCapacity: 1})
	if provisioner.ErrorCode(err) != provisioner.ENOTFOUND {
		t.Fatalf("group on an absent cluster: %v", err)
	}
	deploy(t, d, spec("grp-demo"))
	st := waitState(t, d, "grp-demo", provisioner.StateRunning)
	if err := d.DeployGroup(ctx, provisioner.NodeGroupSpec{Cluster: "grp-demo", User: "alice", NodeCapacity: 2}); err != nil {
		t.Fatal(err)
	}
	if gs := waitGroup(t, d, "grp-demo", "alice", provisioner.StateRunning); gs.Nodes != 2 {
		t.Fatalf("group running with %+v", gs)
	}
	if err := d.DeployGroup(ctx, provisioner.NodeGroupSpec{Cluster: "grp-demo", User: "alice", NodeCapacity: 2}); err != nil {
		t.Fatalf("deploy of a running group: %v", err)
	}
	if n, err := ilb.Nodes(ctx, st.Endpoint, "alice"); err != nil || n != 2 {
		t.Fatalf("/discovery/status {service: alice}: %d %v", n, err)
	}
	if n, err := ilb.Nodes(ctx, st.Endpoint, ""); err != nil || n != 3 {
		t.Fatalf("the cluster's own nodes: %d %v, want its 3", n, err)
	}
	served := func(tok, service string) (int, string) {
		t.Helper()
		hdr := []string{"Authorization", "Bearer " + tok}
		if service != "" {
			hdr = append(hdr, "x-sliderule-service", service)
		}
		code, body := get(t, st.Endpoint+"/source/version", hdr...)
		var e map[string]any
		json.Unmarshal([]byte(body), &e)
		s, _ := e["cluster"].(string)
		return code, s
	}
	tok := current.clusterToken(t, testIssuer, "grp-demo") // sub alice
	if code, svc := served(tok, "alice"); code != http.StatusOK || svc != "alice" {
		t.Errorf("x-sliderule-service alice: %d from %q, want 200 from the group", code, svc)
	}
	if code, svc := served(tok, ""); code != http.StatusOK || svc != "grp-demo" {
		t.Errorf("no service: %d from %q, want the cluster's nodes", code, svc)
	}
	if code, _ := served(tok, "bob"); code == http.StatusOK {
		t.Errorf("another user's service was served")
	}

	// A key refresh reloads HAProxy: the group's nodes are registered again.
	mu.Lock()
	current = newRSAKey(t, "k2")
	mu.Unlock()
	if err := d.RefreshKeys(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := ilb.Nodes(ctx, st.Endpoint, "alice"); err != nil || n != 2 {
		t.Errorf("after the reload: %d %v", n, err)
	}

	// Destroying the group alone leaves the cluster.
	if err := d.DeployGroup(ctx, provisioner.NodeGroupSpec{Cluster: "grp-demo", User: "bob", NodeCapacity: 1}); err != nil {
		t.Fatal(err)
	}
	waitGroup(t, d, "grp-demo", "bob", provisioner.StateRunning)
	if err := d.DestroyGroup(ctx, "grp-demo", "bob"); err != nil {
		t.Fatal(err)
	}
	waitGroup(t, d, "grp-demo", "bob", provisioner.StateAbsent)
	waitState(t, d, "grp-demo", provisioner.StateRunning)

	// A restarted service re-adopts the group; the cluster's destroy ends it.
	d2, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if alive, err := d2.Adopt(ctx); err != nil || len(alive) != 1 {
		t.Fatalf("adopt: %v %v", alive, err)
	}
	g, err := d2.readGroup("grp-demo", "alice")
	if err != nil {
		t.Fatalf("group after adopt: %v", err)
	}
	waitGroup(t, d2, "grp-demo", "alice", provisioner.StateRunning)
	if err := d2.Destroy(ctx, "grp-demo"); err != nil {
		t.Fatal(err)
	}
	for _, p := range g.Nodes {
		if running(p.PID) {
			t.Errorf("%s (pid %d) survived the cluster's destroy", p.Role, p.PID)
		}
	}
	if _, err := os.Stat(d.groupPath("grp-demo", "alice")); !os.IsNotExist(err) {
		t.Errorf("group state left: %v", err)
	}
	waitGroup(t, d2, "grp-demo", "alice", provisioner.StateAbsent)
}

// Behind our gateway (no ILB) a group is refused, saying why.
func TestGroupNeedsILB(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t, "")
	deploy(t, d, spec("gw-demo"))
	err := d.DeployGroup(context.Background(), provisioner.NodeGroupSpec{Cluster: "gw-demo", User: "alice", NodeCapacity: 1})
	if provisioner.ErrorCode(err) != provisioner.EUNAVAILABLE {
		t.Fatalf("group behind the gateway: %v", err)
	}
	if err := d.Destroy(context.Background(), "gw-demo"); err != nil {
		t.Fatal(err)
	}
}
