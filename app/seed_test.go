package app

import (
	"context"
	"errors"
	"testing"
	"time"

	"provisioner"
)

var bg = context.Background()

// DEPLOY: "If jwt_user fails authorization as github organization member
// for private clusters or administrator for public cluster, then return failure".
func TestDeployAuthorization(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		c      Caller
		public bool
		code   string
	}{
		{anon, false, provisioner.EUNAUTHORIZED},
		{member, false, provisioner.EFORBIDDEN},
		{orgMem, true, provisioner.EFORBIDDEN},
		{orgMem, false, ""},
		{admin, true, ""},
	} {
		_, err := f.app.Deploy(bg, tc.c, DeployRequest{Cluster: "c-" + tc.c.User.Level.String()[:3], IsPublic: tc.public, NodeCapacity: 1})
		if provisioner.ErrorCode(err) != tc.code {
			t.Errorf("%s public=%t: want %q, got %v", tc.c.User.Level, tc.public, tc.code, err)
		}
	}
}

// DEPLOY: "If the cluster is running then return success".
func TestDeployRunningSucceedsAtOnce(t *testing.T) {
	f := newFixture(t)
	f.deployed(t, orgMem, "c1", false)
	r, err := f.app.Deploy(bg, orgMem, DeployRequest{Cluster: "c1", NodeCapacity: 2})
	if err != nil || !r.Done || r.Cluster.State != provisioner.StateRunning {
		t.Fatalf("%+v %v", r, err)
	}
	if f.driver.deploys["c1"] != 1 {
		t.Errorf("driver deployed %d times", f.driver.deploys["c1"])
	}
}

// DEPLOY: "If the cluster is scheduled for delete then return failure".
func TestDeployScheduledForDelete(t *testing.T) {
	f := newFixture(t)
	f.driver.stuck = true
	f.deployed(t, orgMem, "c1", false)
	r, err := f.app.Destroy(bg, orgMem, "c1")
	if err != nil || r.Done {
		t.Fatalf("destroy should be pending with a stuck driver: %+v %v", r, err)
	}
	_, err = f.app.Deploy(bg, orgMem, DeployRequest{Cluster: "c1", NodeCapacity: 2})
	wantCode(t, err, provisioner.ESCHEDULED)

	// A deploying cluster whose destroy time is within 5 minutes.
	f.driver.upAfter = -1
	r, err = f.app.Deploy(bg, orgMem, DeployRequest{Cluster: "c2", NodeCapacity: 1, TTL: 6 * time.Minute})
	if err != nil || r.Done {
		t.Fatalf("%+v %v", r, err)
	}
	f.clock.Add(2 * time.Minute)
	_, err = f.app.Deploy(bg, orgMem, DeployRequest{Cluster: "c2", NodeCapacity: 1})
	wantCode(t, err, provisioner.ESCHEDULED)
}

// DEPLOY: "Deploy the cluster and wait up to 10 minutes; if running then
// return success, else return failure".
func TestDeployWaitsThenSucceedsOrFails(t *testing.T) {
	f := newFixture(t)
	f.driver.upAfter = 3
	r, err := f.app.Deploy(bg, orgMem, DeployRequest{Cluster: "ok", NodeCapacity: 2, TTL: time.Hour, Version: "v4.5.1"})
	if err != nil || r.Done || r.Operation.State != provisioner.OpPending {
		t.Fatalf("want a pending operation: %+v %v", r, err)
	}
	if !r.Operation.Deadline.Equal(f.clock.Now().Add(10 * time.Minute)) {
		t.Errorf("deadline %v is not 10 minutes away", r.Operation.Deadline)
	}
	if op := f.wait(t, r.Operation.ID); op.State != provisioner.OpSuccess {
		t.Fatalf("%+v", op)
	}
	cl := f.cluster(t, "ok")
	if cl.State != provisioner.StateRunning || cl.Endpoint == "" || cl.CreatedBy != "otto" || cl.Version != "v4.5.1" || cl.NodeCapacity != 2 {
		t.Errorf("%+v", cl)
	}

	// Never healthy: failure at the deadline, and cleaned up.
	f.driver.upAfter = -1
	r, _ = f.app.Deploy(bg, orgMem, DeployRequest{Cluster: "slow", NodeCapacity: 1})
	_ = f.app.advance(bg, "slow")
	if op, _ := f.app.Operation(bg, admin, r.Operation.ID, 0); op.Done() {
		t.Fatal("failed before the deadline")
	}
	f.clock.Add(10*time.Minute + time.Second)
	op := f.wait(t, r.Operation.ID)
	if op.State != provisioner.OpFailure || op.ErrorCode != provisioner.EFAILED {
		t.Fatalf("%+v", op)
	}
	if cl := f.cluster(t, "slow"); cl.State != provisioner.StateFailed || cl.Reason == "" {
		t.Errorf("%+v", cl)
	}
	if f.driver.has("slow") {
		t.Error("a failed deploy left the cluster behind")
	}
	if _, ok := f.sched.get("slow"); ok {
		t.Error("a failed deploy left its schedule")
	}

	// The driver reports failure: failure with its reason.
	f.driver.failWith = "upstream exited"
	r, _ = f.app.Deploy(bg, orgMem, DeployRequest{Cluster: "bad", NodeCapacity: 1})
	if op := f.wait(t, r.Operation.ID); op.State != provisioner.OpFailure || op.Message == "" {
		t.Fatalf("%+v", op)
	}
	// The driver refuses at once: the answer is the failure.
	f.driver.failWith, f.driver.deployErr = "", errors.New("boom")
	r, err = f.app.Deploy(bg, orgMem, DeployRequest{Cluster: "refused", NodeCapacity: 1})
	if err != nil || !r.Done || r.Operation.State != provisioner.OpFailure {
		t.Fatalf("%+v %v", r, err)
	}
}

// A failed cluster is redeployed; a deploying one is joined.
func TestDeployRedeployAndJoin(t *testing.T) {
	f := newFixture(t)
	f.driver.failWith = "nope"
	r, _ := f.app.Deploy(bg, orgMem, DeployRequest{Cluster: "c1", NodeCapacity: 1})
	f.wait(t, r.Operation.ID)
	f.driver.failWith, f.driver.upAfter = "", -1
	r1, err := f.app.Deploy(bg, orgMem, DeployRequest{Cluster: "c1", NodeCapacity: 1})
	if err != nil || r1.Done {
		t.Fatalf("redeploy: %+v %v", r1, err)
	}
	r2, err := f.app.Deploy(bg, admin, DeployRequest{Cluster: "c1", NodeCapacity: 1})
	if err != nil || r2.Operation.ID != r1.Operation.ID {
		t.Fatalf("second DEPLOY must join %s, got %+v %v", r1.Operation.ID, r2, err)
	}
	if f.driver.deploys["c1"] != 2 {
		t.Errorf("driver deploys %d, want 2 (fail + redeploy)", f.driver.deploys["c1"])
	}
}

// Every deployed cluster has a destroy schedule from its TTL.
func TestDeployCreatesTTLSchedule(t *testing.T) {
	f := newFixture(t)
	cl := f.deployed(t, orgMem, "c1", false)
	at, ok := f.sched.get("c1")
	if !ok || !at.Equal(f.clock.Now().Add(time.Hour)) || !cl.ExpiresAt.Equal(at) {
		t.Fatalf("schedule %v %v, expires %v", at, ok, cl.ExpiresAt)
	}
	// A DEPLOY without a TTL gets the default one.
	r, _ := f.app.Deploy(bg, admin, DeployRequest{Cluster: "c2", NodeCapacity: 1})
	if at, ok := f.sched.get("c2"); !ok || !at.Equal(f.clock.Now().Add(time.Hour)) || !r.Cluster.ExpiresAt.Equal(at) {
		t.Fatalf("default TTL schedule %v %v", at, ok)
	}
}

func TestDeployLimitsAndInput(t *testing.T) {
	f := newFixture(t)
	for name, tc := range map[string]struct {
		c    Caller
		req  DeployRequest
		code string
	}{
		"too many nodes": {orgMem, DeployRequest{Cluster: "c1", NodeCapacity: 5}, provisioner.ELIMIT},
		"ttl too long":   {orgMem, DeployRequest{Cluster: "c1", NodeCapacity: 1, TTL: 9 * time.Hour}, provisioner.ELIMIT},
		"zero nodes":     {admin, DeployRequest{Cluster: "c1", NodeCapacity: 0}, provisioner.EINVALID},
		"absurd nodes":   {admin, DeployRequest{Cluster: "c1", NodeCapacity: 100000}, provisioner.EINVALID},
		"absurd ttl":     {admin, DeployRequest{Cluster: "c1", NodeCapacity: 1, TTL: 365 * 24 * time.Hour}, provisioner.EINVALID},
		"tiny ttl":       {admin, DeployRequest{Cluster: "c1", NodeCapacity: 1, TTL: time.Second}, provisioner.EINVALID},
		"bad name":       {admin, DeployRequest{Cluster: "C1;rm", NodeCapacity: 1}, provisioner.EINVALID},
		"reserved":       {admin, DeployRequest{Cluster: "login", NodeCapacity: 1}, provisioner.EINVALID},
		"option version": {admin, DeployRequest{Cluster: "c1", NodeCapacity: 1, Version: "--upload-pack=x"}, provisioner.EINVALID},
		"shell version":  {admin, DeployRequest{Cluster: "c1", NodeCapacity: 1, Version: "v1;rm -rf /"}, provisioner.EINVALID},
		"dotdot version": {admin, DeployRequest{Cluster: "c1", NodeCapacity: 1, Version: "../etc"}, provisioner.EINVALID},
	} {
		if _, err := f.app.Deploy(bg, tc.c, tc.req); provisioner.ErrorCode(err) != tc.code {
			t.Errorf("%s: want %s, got %v", name, tc.code, err)
		}
	}
	f.deployed(t, orgMem, "m1", false)
	f.deployed(t, orgMem, "m2", false)
	_, err := f.app.Deploy(bg, orgMem, DeployRequest{Cluster: "m3", NodeCapacity: 1})
	wantCode(t, err, provisioner.ELIMIT)
	f.deployed(t, admin, "a3", false) // admins have no cluster limit
}

// SCHEDULE_DESTROY: authorization; too late within 5 minutes; else replace.
func TestScheduleDestroy(t *testing.T) {
	f := newFixture(t)
	f.deployed(t, orgMem, "priv", false)
	f.deployed(t, admin, "pub", true)
	now := f.clock.Now()

	_, err := f.app.ScheduleDestroy(bg, member, "priv", now.Add(time.Hour))
	wantCode(t, err, provisioner.EFORBIDDEN)
	_, err = f.app.ScheduleDestroy(bg, orgMem, "pub", now.Add(time.Hour))
	wantCode(t, err, provisioner.EFORBIDDEN)
	_, err = f.app.ScheduleDestroy(bg, orgMem, "nosuch", now.Add(time.Hour))
	wantCode(t, err, provisioner.ENOTFOUND)
	_, err = f.app.ScheduleDestroy(bg, orgMem, "priv", now.Add(-time.Minute))
	wantCode(t, err, provisioner.EINVALID)
	_, err = f.app.ScheduleDestroy(bg, admin, "priv", now.Add(400*24*time.Hour))
	wantCode(t, err, provisioner.EINVALID)

	// Not scheduled within 5 minutes: the schedule is replaced.
	cl, err := f.app.ScheduleDestroy(bg, orgMem, "priv", now.Add(20*time.Minute))
	if err != nil || !cl.DestroyTime().Equal(now.Add(20*time.Minute)) {
		t.Fatalf("%+v %v", cl, err)
	}
	if at, _ := f.sched.get("priv"); !at.Equal(now.Add(20 * time.Minute)) {
		t.Fatalf("scheduler has %v", at)
	}
	// now >= scheduled time - 5 minutes: failure, schedule unchanged.
	f.clock.Add(15 * time.Minute)
	_, err = f.app.ScheduleDestroy(bg, orgMem, "priv", f.clock.Now().Add(time.Hour))
	wantCode(t, err, provisioner.ETOOLATE)
	if at, _ := f.sched.get("priv"); !at.Equal(now.Add(20 * time.Minute)) {
		t.Fatalf("a refused reschedule changed the schedule to %v", at)
	}
	// One second before the window it is still allowed.
	f.clock.Add(-time.Second)
	if _, err := f.app.ScheduleDestroy(bg, orgMem, "priv", f.clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
}

// DESTROY: authorization; destroy and wait; still running → failure; remove
// every schedule; absent → success.
func TestDestroy(t *testing.T) {
	f := newFixture(t)
	f.deployed(t, orgMem, "priv", false)
	f.deployed(t, admin, "pub", true)

	_, err := f.app.Destroy(bg, member, "priv")
	wantCode(t, err, provisioner.EFORBIDDEN)
	_, err = f.app.Destroy(bg, orgMem, "pub")
	wantCode(t, err, provisioner.EFORBIDDEN)

	r, err := f.app.Destroy(bg, orgMem, "priv")
	if err != nil {
		t.Fatal(err)
	}
	if !r.Done {
		r.Operation = f.wait(t, r.Operation.ID)
	}
	if r.Operation.State != provisioner.OpSuccess || f.cluster(t, "priv").State != provisioner.StateAbsent || f.driver.has("priv") {
		t.Fatalf("%+v", r)
	}
	if _, ok := f.sched.get("priv"); ok {
		t.Error("schedule left after DESTROY")
	}
	// Absent: success, idempotent.
	if r, err := f.app.Destroy(bg, orgMem, "priv"); err != nil || !r.Done {
		t.Fatalf("%+v %v", r, err)
	}

	// Still running after the deadline: failure, and the schedule stays.
	f.driver.stuck = true
	r, _ = f.app.Destroy(bg, admin, "pub")
	f.clock.Add(10*time.Minute + time.Second)
	op := f.wait(t, r.Operation.ID)
	if op.State != provisioner.OpFailure {
		t.Fatalf("%+v", op)
	}
	if cl := f.cluster(t, "pub"); cl.State != provisioner.StateRunning || cl.Reason == "" {
		t.Errorf("%+v", cl)
	}
	if _, ok := f.sched.get("pub"); !ok {
		t.Error("a failed DESTROY removed the schedule")
	}
}

// A DESTROY during a DEPLOY ends the deploy as failed and the cluster gone.
func TestDestroyWhileDeploying(t *testing.T) {
	f := newFixture(t)
	f.driver.upAfter = -1
	d, _ := f.app.Deploy(bg, orgMem, DeployRequest{Cluster: "c1", NodeCapacity: 1})
	r, err := f.app.Destroy(bg, orgMem, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if !r.Done {
		f.wait(t, r.Operation.ID)
	}
	if op, _ := f.app.Operation(bg, admin, d.Operation.ID, 0); op.State != provisioner.OpFailure {
		t.Errorf("deploy op %+v", op)
	}
	if f.cluster(t, "c1").State != provisioner.StateAbsent || f.driver.has("c1") {
		t.Error("cluster left")
	}
}

func TestExtend(t *testing.T) {
	f := newFixture(t)
	f.deployed(t, orgMem, "c1", false)
	cl, err := f.app.Extend(bg, orgMem, "c1", 3*time.Hour)
	if err != nil || !cl.ExpiresAt.Equal(f.clock.Now().Add(3*time.Hour)) {
		t.Fatalf("%+v %v", cl, err)
	}
	if at, _ := f.sched.get("c1"); !at.Equal(cl.ExpiresAt) {
		t.Errorf("schedule %v", at)
	}
	_, err = f.app.Extend(bg, orgMem, "c1", 9*time.Hour)
	wantCode(t, err, provisioner.ELIMIT)
	f.clock.Add(3*time.Hour - 4*time.Minute)
	_, err = f.app.Extend(bg, orgMem, "c1", time.Hour)
	wantCode(t, err, provisioner.ETOOLATE)
}

// The scheduler's fire destroys a due cluster and ignores a moved schedule.
func TestFireDestroy(t *testing.T) {
	f := newFixture(t)
	cl := f.deployed(t, orgMem, "c1", false)
	if err := f.app.FireDestroy(bg, "c1", cl.ExpiresAt); err != nil {
		t.Fatal(err)
	}
	if !f.driver.has("c1") {
		t.Fatal("fired before its time")
	}
	f.clock.Add(time.Hour)
	if err := f.app.FireDestroy(bg, "c1", cl.ExpiresAt); err != nil {
		t.Fatal(err)
	}
	if f.driver.has("c1") || f.cluster(t, "c1").State != provisioner.StateAbsent {
		t.Fatal("due schedule did not destroy")
	}
	if err := f.app.FireDestroy(bg, "c1", cl.ExpiresAt); err != nil {
		t.Fatal("firing twice must be harmless:", err)
	}
}

// The sweep destroys what is past its time and fails what its driver lost.
func TestReconcile(t *testing.T) {
	f := newFixture(t)
	f.deployed(t, orgMem, "late", false)
	f.deployed(t, orgMem, "lost", false)
	f.driver.mu.Lock()
	delete(f.driver.clusters, "lost")
	f.driver.mu.Unlock()
	f.clock.Add(30 * time.Minute)
	if err := f.app.Reconcile(bg); err != nil {
		t.Fatal(err)
	}
	if cl := f.cluster(t, "lost"); cl.State != provisioner.StateFailed {
		t.Errorf("lost cluster: %+v", cl)
	}
	if !f.driver.has("late") {
		t.Error("destroyed before its TTL")
	}
	f.clock.Add(31 * time.Minute)
	if err := f.app.Reconcile(bg); err != nil {
		t.Fatal(err)
	}
	if f.driver.has("late") || f.cluster(t, "late").State != provisioner.StateAbsent {
		t.Error("sweep left a cluster past its TTL")
	}
}

func TestEventsRecordEveryChange(t *testing.T) {
	f := newFixture(t)
	f.deployed(t, orgMem, "c1", false)
	if _, err := f.app.ScheduleDestroy(bg, orgMem, "c1", f.clock.Now().Add(30*time.Minute)); err != nil {
		t.Fatal(err)
	}
	r, _ := f.app.Destroy(bg, orgMem, "c1")
	if !r.Done {
		f.wait(t, r.Operation.ID)
	}
	evs, err := f.app.Events(bg, orgMem, "c1", 0)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range evs {
		types = append(types, e.Type)
	}
	want := []string{"deploy.requested", "schedule.set", "state.running", "schedule.set", "destroy.requested", "schedule.removed", "state.absent"}
	if len(types) != len(want) {
		t.Fatalf("events %v, want %v", types, want)
	}
	for i := range want {
		if types[i] != want[i] {
			t.Fatalf("events %v, want %v", types, want)
		}
	}
}
