package app

import (
	"context"
	"strings"
	"testing"
	"time"

	"provisioner"
)

// group deploys a node group and waits until it runs.
func (f *fixture) group(t *testing.T, c Caller, cluster, user string, nodes int, ttl time.Duration) provisioner.NodeGroup {
	t.Helper()
	r, err := f.app.DeployGroup(context.Background(), c, GroupRequest{Cluster: cluster, User: user, NodeCapacity: nodes, TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Done {
		if op := f.wait(t, r.Operation.ID); op.State != provisioner.OpSuccess {
			t.Fatalf("group deploy failed: %+v", op)
		}
	}
	g, err := f.app.GroupStatus(context.Background(), c, cluster, user)
	if err != nil {
		t.Fatal(err)
	}
	if g.State != provisioner.StateRunning {
		t.Fatalf("group not running: %+v", g)
	}
	return g
}

func TestGroupDeployStatusAndSchedule(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.deployed(t, admin, "pub", true)
	g := f.group(t, member, "pub", "mia", 2, 30*time.Minute)
	if g.NodeCapacity != 2 || g.CreatedBy != "mia" || !g.ExpiresAt.Equal(f.clock.Now().Add(30*time.Minute)) {
		t.Fatalf("group = %+v", g)
	}
	if at, ok := f.sched.get("pub/mia"); !ok || !at.Equal(g.ExpiresAt) {
		t.Fatalf("group schedule = %v %v, want %v", at, ok, g.ExpiresAt)
	}
	if clusterAt, _ := f.sched.get("pub"); clusterAt.Equal(g.ExpiresAt) {
		t.Fatal("the group's TTL replaced the cluster's schedule")
	}
	// A second DEPLOY of a running group succeeds at once.
	r, err := f.app.DeployGroup(ctx, member, GroupRequest{Cluster: "pub", User: "mia", NodeCapacity: 2, TTL: time.Hour})
	if err != nil || !r.Done {
		t.Fatalf("redeploy = %+v, %v", r, err)
	}
	// EXTEND moves the group's schedule only.
	f.clock.Add(10 * time.Minute)
	ext, err := f.app.ExtendGroup(ctx, member, "pub", "mia", 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	g2 := ext.Group
	if at, _ := f.sched.get("pub/mia"); !at.Equal(g2.ExpiresAt) || !g2.ExpiresAt.Equal(f.clock.Now().Add(2*time.Hour)) {
		t.Fatalf("extended schedule %v, group %+v", at, g2)
	}
	evs, err := f.app.store.ListEvents(ctx, "pub/mia", 0)
	if err != nil || len(evs) == 0 {
		t.Fatalf("group events = %v, %v", evs, err)
	}
	// The group's schedule fires: the group goes, the cluster stays.
	f.clock.Add(3 * time.Hour)
	if err := f.app.FireDestroy(ctx, "pub/mia", g2.ExpiresAt); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10 && f.driver.hasGroup("pub", "mia"); i++ {
		f.app.advanceGroup(ctx, "pub", "mia")
	}
	g3, err := f.app.GroupStatus(ctx, member, "pub", "mia")
	if err != nil || g3.State != provisioner.StateAbsent || f.driver.hasGroup("pub", "mia") {
		t.Fatalf("after the group's TTL: %+v, %v", g3, err)
	}
	if _, ok := f.sched.get("pub/mia"); ok {
		t.Fatal("group schedule left behind")
	}
	if cl := f.cluster(t, "pub"); cl.State != provisioner.StateRunning || !f.driver.has("pub") {
		t.Fatalf("the group's TTL touched the cluster: %+v", cl)
	}
}

func TestGroupAuthorizationAndLimits(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.deployed(t, admin, "pub", true)
	f.deployed(t, admin, "priv", false)
	deploy := func(c Caller, cluster, user string, nodes int, ttl time.Duration) error {
		_, err := f.app.DeployGroup(ctx, c, GroupRequest{Cluster: cluster, User: user, NodeCapacity: nodes, TTL: ttl})
		return err
	}
	wantCode(t, deploy(anon, "pub", "mia", 1, time.Hour), provisioner.EUNAUTHORIZED)
	// Another user's group: refused, for every action.
	wantCode(t, deploy(member, "pub", "otto", 1, time.Hour), provisioner.EFORBIDDEN)
	wantCode(t, deploy(orgMem, "pub", "mia", 1, time.Hour), provisioner.EFORBIDDEN)
	_, err := f.app.GroupStatus(ctx, member, "pub", "otto")
	wantCode(t, err, provisioner.EFORBIDDEN)
	_, err = f.app.DestroyGroup(ctx, member, "pub", "otto")
	wantCode(t, err, provisioner.EFORBIDDEN)
	_, err = f.app.ExtendGroup(ctx, member, "pub", "otto", time.Hour)
	wantCode(t, err, provisioner.EFORBIDDEN)
	// A member (not of the organization): public clusters only.
	// A private cluster it may not see is answered as a missing one.
	wantCode(t, deploy(member, "priv", "mia", 1, time.Hour), provisioner.ENOTFOUND)
	// DEPLOY's limits of the level.
	wantCode(t, deploy(orgMem, "priv", "otto", 5, time.Hour), provisioner.ELIMIT)
	wantCode(t, deploy(orgMem, "priv", "otto", 1, 9*time.Hour), provisioner.ELIMIT)
	wantCode(t, deploy(orgMem, "priv", "otto", 0, time.Hour), provisioner.EINVALID)
	wantCode(t, deploy(orgMem, "priv", "otto", 1, time.Second), provisioner.EINVALID)
	wantCode(t, deploy(orgMem, "priv", "bad/name", 1, time.Hour), provisioner.EINVALID)
	// A running cluster is required.
	wantCode(t, deploy(orgMem, "nope", "otto", 1, time.Hour), provisioner.ENOTFOUND)
	f.group(t, orgMem, "priv", "otto", 4, 8*time.Hour)
	// Administrators: beyond the limits, and anyone's group.
	f.group(t, admin, "priv", "mia", 6, 9*time.Hour)
	if _, err := f.app.DestroyGroup(ctx, admin, "priv", "otto"); err != nil {
		t.Fatal(err)
	}
}

func TestGroupDestroyedWithCluster(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.deployed(t, admin, "pub", true)
	f.group(t, member, "pub", "mia", 1, time.Hour)
	f.group(t, orgMem, "pub", "otto", 2, time.Hour)
	r, err := f.app.Destroy(ctx, admin, "pub")
	if err != nil {
		t.Fatal(err)
	}
	if !r.Done {
		f.wait(t, r.Operation.ID)
	}
	for _, u := range []string{"mia", "otto"} {
		if f.driver.hasGroup("pub", u) {
			t.Fatalf("group of %s still in the driver", u)
		}
		if _, ok := f.sched.get("pub/" + u); ok {
			t.Fatalf("schedule of the group of %s left", u)
		}
	}
	groups, err := f.store.ListNodeGroups(ctx, "")
	if err != nil || len(groups) != 0 {
		t.Fatalf("groups left: %+v %v", groups, err)
	}
	// No group attaches to a cluster being destroyed or gone.
	_, err = f.app.DeployGroup(ctx, member, GroupRequest{Cluster: "pub", User: "mia", NodeCapacity: 1})
	wantCode(t, err, provisioner.ENOTFOUND)
}

func TestParentDestroyRefused(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.deployed(t, admin, "shared", false)
	f.group(t, orgMem, "shared", "otto", 1, time.Hour)
	_, err := f.app.Destroy(ctx, orgMem, "shared")
	wantCode(t, err, provisioner.EFORBIDDEN)
	if !strings.Contains(provisioner.ErrorMessage(err), "/destroy/otto") {
		t.Fatalf("message does not point at /destroy/otto: %v", err)
	}
	if cl := f.cluster(t, "shared"); cl.State != provisioner.StateRunning || !f.driver.has("shared") {
		t.Fatalf("the parent was touched: %+v", cl)
	}
	// The released client's default: the public alias is never destroyed.
	_, err = f.app.Destroy(ctx, orgMem, provisioner.PublicClusterAlias)
	wantCode(t, err, provisioner.EFORBIDDEN)
	// Its own group goes by /destroy/{username}.
	r, err := f.app.DestroyGroup(ctx, orgMem, "shared", "otto")
	if err != nil {
		t.Fatal(err)
	}
	if !r.Done {
		f.wait(t, r.Operation.ID)
	}
	if f.driver.hasGroup("shared", "otto") || !f.driver.has("shared") {
		t.Fatal("DestroyGroup did not destroy the group alone")
	}
}

func TestGroupPublicAlias(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	_, err := f.app.DeployGroup(ctx, member, GroupRequest{Cluster: "sliderule", User: "mia", NodeCapacity: 1})
	wantCode(t, err, provisioner.ENOTFOUND) // no public cluster runs
	f.deployed(t, admin, "earth", true)
	f.deployed(t, admin, "priv", false)
	g := f.group(t, member, "sliderule", "mia", 1, time.Hour)
	if g.Cluster != "earth" {
		t.Fatalf("alias resolved to %q, want earth", g.Cluster)
	}
	g2, err := f.app.GroupStatus(ctx, member, "sliderule", "mia")
	if err != nil || g2.Cluster != "earth" || g2.State != provisioner.StateRunning {
		t.Fatalf("status through the alias: %+v %v", g2, err)
	}
	// The alias is no cluster name elsewhere.
	_, err = f.app.Deploy(ctx, admin, DeployRequest{Cluster: "sliderule", NodeCapacity: 1})
	wantCode(t, err, provisioner.EINVALID)
}

func TestGroupSweep(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.deployed(t, admin, "pub", true)
	g := f.group(t, member, "pub", "mia", 1, 30*time.Minute)
	f.clock.Add(31 * time.Minute) // the schedule was lost: the sweep catches it
	if err := f.app.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10 && f.driver.hasGroup("pub", "mia"); i++ {
		f.app.advanceGroup(ctx, "pub", "mia")
	}
	if _, err := f.store.GetNodeGroup(ctx, "pub", "mia"); provisioner.ErrorCode(err) != provisioner.ENOTFOUND {
		t.Fatalf("group past %s still there: %v", g.ExpiresAt, err)
	}
	if cl := f.cluster(t, "pub"); cl.State != provisioner.StateRunning {
		t.Fatalf("cluster %+v", cl)
	}
}
