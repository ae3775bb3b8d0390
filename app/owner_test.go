package app

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"provisioner"
)

var (
	olga  = Caller{User: provisioner.User{Login: "olga", ID: 4, Level: provisioner.LevelOrgMember, Teams: []string{"developers"}}, Source: "test"}
	oscar = Caller{User: provisioner.User{Login: "oscar", ID: 5, Level: provisioner.LevelOrgMember}, Source: "test"}
	dev   = Caller{User: provisioner.User{Login: "dora", ID: 6, Level: provisioner.LevelOrgMember, Teams: []string{"Developers"}}, Source: "test"}
)

// TestOwnershipOfClusters (RELIABILITY.md "Ownership and visibility"): an
// org member may not shorten, reschedule or destroy a private cluster that
// is not its own (an admin's included); it may still DEPLOY it (success)
// and lengthen it. The owner, a member of its team and admins may.
func TestOwnershipOfClusters(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.deployed(t, admin, "adm", false)
	before := f.cluster(t, "adm")
	now := f.clock.Now()

	_, err := f.app.Extend(ctx, oscar, "adm", 30*time.Minute) // earlier than its 1 h TTL
	wantCode(t, err, provisioner.EFORBIDDEN)
	_, err = f.app.ScheduleDestroy(ctx, oscar, "adm", now.Add(2*time.Hour)) // even later
	wantCode(t, err, provisioner.EFORBIDDEN)
	_, err = f.app.Destroy(ctx, oscar, "adm")
	wantCode(t, err, provisioner.EFORBIDDEN)
	if cl := f.cluster(t, "adm"); cl.State != provisioner.StateRunning || !cl.DestroyTime().Equal(before.DestroyTime()) {
		t.Fatalf("refused changes changed the cluster: %+v", cl)
	}
	if t0, _ := f.sched.get("adm"); !t0.Equal(before.DestroyTime()) {
		t.Fatalf("schedule moved to %s", t0)
	}
	// Reaching it stays open: DEPLOY of the running cluster, lengthening.
	if r, err := f.app.Deploy(ctx, oscar, DeployRequest{Cluster: "adm", NodeCapacity: 1}); err != nil || !r.Done {
		t.Fatalf("deploy of a running cluster: %+v, %v", r, err)
	}
	cl, err := f.app.Extend(ctx, oscar, "adm", 3*time.Hour)
	if err != nil || !cl.ExpiresAt.Equal(now.Add(3*time.Hour)) || cl.CreatedBy != "ada" {
		t.Fatalf("lengthening: %+v, %v", cl, err)
	}
	// The same length again is not shortening.
	if _, err := f.app.Extend(ctx, oscar, "adm", 3*time.Hour); err != nil {
		t.Fatalf("extend to the same time: %v", err)
	}
	// The owner and admins may do all of it.
	if _, err := f.app.Extend(ctx, admin, "adm", 30*time.Minute); err != nil {
		t.Fatal(err)
	}

	f.deployed(t, orgMem, "mine", false)
	_, err = f.app.Destroy(ctx, oscar, "mine")
	wantCode(t, err, provisioner.EFORBIDDEN)
	if _, err := f.app.Extend(ctx, orgMem, "mine", 20*time.Minute); err != nil {
		t.Fatalf("owner shortens: %v", err)
	}
	if _, err := f.app.ScheduleDestroy(ctx, orgMem, "mine", now.Add(40*time.Minute)); err != nil {
		t.Fatalf("owner schedules: %v", err)
	}
	if r, err := f.app.Destroy(ctx, orgMem, "mine"); err != nil || r.Cluster.State == provisioner.StateRunning {
		t.Fatalf("owner destroys: %+v, %v", r, err)
	}
	// Admins destroy anyone's.
	f.deployed(t, orgMem, "mine2", false)
	if _, err := f.app.Destroy(ctx, admin, "mine2"); err != nil {
		t.Fatal(err)
	}
	// A refused change is in the audit trail.
	entries, err := f.store.ListAudit(ctx, provisioner.AuditFilter{Actor: "oscar"})
	if err != nil {
		t.Fatal(err)
	}
	refused := 0
	for _, e := range entries {
		if e.Result == provisioner.EFORBIDDEN {
			refused++
		}
	}
	if refused < 4 {
		t.Errorf("%d refusals of oscar audited, want 4: %+v", refused, entries)
	}
}

// TestOwnershipTeams: a cluster deployed with a team is managed by that
// team's members too (case-insensitively, as slugs are); the deployer must
// be in the team, unless an administrator; the team is kept and shown.
func TestOwnershipTeams(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	req := DeployRequest{Cluster: "developers", NodeCapacity: 1, TTL: time.Hour, Team: "developers"}
	_, err := f.app.Deploy(ctx, oscar, req)
	wantCode(t, err, provisioner.EFORBIDDEN) // not in the team
	bad := req
	bad.Team = "no/such team"
	_, err = f.app.Deploy(ctx, olga, bad)
	wantCode(t, err, provisioner.EINVALID)
	r, err := f.app.Deploy(ctx, olga, req)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Done {
		f.wait(t, r.Operation.ID)
	}
	if cl := f.cluster(t, "developers"); cl.CreatedBy != "olga" || cl.Team != "developers" {
		t.Fatalf("owner %q team %q", cl.CreatedBy, cl.Team)
	}
	_, err = f.app.Extend(ctx, oscar, "developers", 10*time.Minute)
	wantCode(t, err, provisioner.EFORBIDDEN)
	_, err = f.app.Destroy(ctx, oscar, "developers")
	wantCode(t, err, provisioner.EFORBIDDEN)
	// dora is in the team (its slug in another case): she manages it.
	if _, err := f.app.Extend(ctx, dev, "developers", 10*time.Minute); err != nil {
		t.Fatalf("team member shortens: %v", err)
	}
	if _, err := f.app.Destroy(ctx, dev, "developers"); err != nil {
		t.Fatalf("team member destroys: %v", err)
	}
	// An administrator may share with any team.
	if _, err := f.app.Deploy(ctx, admin, DeployRequest{Cluster: "ops", NodeCapacity: 1, TTL: time.Hour, Team: "ops-team"}); err != nil {
		t.Fatal(err)
	}
}

// TestOwnershipOfNodeGroups: a node group is its user's; another org
// member may not extend (shorten or lengthen) or destroy it.
func TestOwnershipOfNodeGroups(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.deployed(t, admin, "pub", true)
	r, err := f.app.DeployGroup(ctx, orgMem, GroupRequest{Cluster: "pub", User: "otto", NodeCapacity: 1, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Done {
		f.wait(t, r.Operation.ID)
	}
	_, err = f.app.ExtendGroup(ctx, oscar, "pub", "otto", 10*time.Minute)
	wantCode(t, err, provisioner.EFORBIDDEN)
	_, err = f.app.DestroyGroup(ctx, oscar, "pub", "otto")
	wantCode(t, err, provisioner.EFORBIDDEN)
	if g, _ := f.app.GroupStatus(ctx, orgMem, "pub", "otto"); g.State != provisioner.StateRunning {
		t.Fatalf("group after refusals: %+v", g)
	}
	if _, err := f.app.ExtendGroup(ctx, orgMem, "pub", "otto", 10*time.Minute); err != nil {
		t.Fatalf("its user shortens: %v", err)
	}
}

// TestMemberCannotTellPrivateClusters: a member outside the organization
// gets the same answers for a private cluster, a destroyed one and one
// that never existed, on status, events, operations by id, ACCESS and the
// node group paths; organization members and admins see them.
func TestMemberCannotTellPrivateClusters(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	start := func(name string) string {
		r, err := f.app.Deploy(ctx, orgMem, DeployRequest{Cluster: name, NodeCapacity: 1, TTL: time.Hour})
		if err != nil || r.Done {
			t.Fatalf("deploy %s: %+v, %v", name, r, err)
		}
		f.wait(t, r.Operation.ID)
		return r.Operation.ID
	}
	privOp := start("priv")
	goneOp := start("gone")
	if _, err := f.app.Destroy(ctx, orgMem, "gone"); err != nil {
		t.Fatal(err)
	}
	if cl := f.cluster(t, "gone"); cl.State != provisioner.StateAbsent {
		t.Fatalf("gone is %s", cl.State)
	}
	f.deployed(t, admin, "pub", true)

	same := func(what string, answers map[string]string) {
		t.Helper()
		var first string
		for name, a := range answers {
			a = strings.ReplaceAll(a, name, "NAME")
			if first == "" {
				first = a
			} else if a != first {
				t.Errorf("%s: answers differ: %v", what, answers)
				return
			}
		}
	}
	names := []string{"priv", "gone", "never"}
	status, events, access, gstatus, gdeploy := map[string]string{}, map[string]string{}, map[string]string{}, map[string]string{}, map[string]string{}
	for _, n := range names {
		cl, err := f.app.Status(ctx, member, n)
		status[n] = describe(cl, err)
		evs, err := f.app.Events(ctx, member, n, 0)
		events[n] = fmt.Sprint(len(evs), err)
		_, err = f.app.Access(ctx, member, n)
		access[n] = describe(nil, err)
		g, err := f.app.GroupStatus(ctx, member, n, "mia")
		gstatus[n] = describe(g, err)
		_, err = f.app.DeployGroup(ctx, member, GroupRequest{Cluster: n, User: "mia", NodeCapacity: 1, TTL: time.Hour})
		gdeploy[n] = describe(nil, err)
	}
	same("status", status)
	same("events", events)
	if events["gone"] != "0 <nil>" {
		t.Errorf("events of a destroyed private cluster shown to a member: %s", events["gone"])
	}
	same("access", access)
	same("group status", gstatus)
	same("group deploy", gdeploy)
	if !strings.Contains(status["never"], "absent") || !strings.Contains(access["never"], provisioner.ENOTFOUND) {
		t.Errorf("status %s, access %s", status["never"], access["never"])
	}
	ops := map[string]string{}
	for n, id := range map[string]string{"priv": privOp, "gone": goneOp, "never": "0123456789abcdef"} {
		_, err := f.app.Operation(ctx, member, id, 0)
		ops[n] = strings.ReplaceAll(describe(nil, err), id, "ID")
	}
	same("operation", ops)
	if !strings.Contains(ops["never"], provisioner.ENOTFOUND) {
		t.Errorf("operation: %s", ops["never"])
	}
	// Public clusters stay visible to members.
	if cl, err := f.app.Status(ctx, member, "pub"); err != nil || cl.State != provisioner.StateRunning {
		t.Errorf("public cluster: %+v, %v", cl, err)
	}
	// Those who may see them see everything.
	for _, c := range []Caller{orgMem, oscar, admin} {
		if cl, err := f.app.Status(ctx, c, "priv"); err != nil || cl.State != provisioner.StateRunning {
			t.Errorf("%s: status %+v, %v", c.User.Login, cl, err)
		}
		if evs, err := f.app.Events(ctx, c, "gone", 0); err != nil || len(evs) == 0 {
			t.Errorf("%s: events of a destroyed cluster: %d, %v", c.User.Login, len(evs), err)
		}
		if _, err := f.app.Operation(ctx, c, privOp, 0); err != nil {
			t.Errorf("%s: operation: %v", c.User.Login, err)
		}
	}
}

func describe(v any, err error) string {
	if err != nil {
		return provisioner.ErrorCode(err) + ": " + provisioner.ErrorMessage(err)
	}
	if cl, ok := v.(provisioner.Cluster); ok {
		return string(cl.State) + " " + cl.CreatedBy + " " + cl.Version
	}
	if g, ok := v.(provisioner.NodeGroup); ok {
		return string(g.State) + " " + g.Cluster
	}
	return "ok"
}
