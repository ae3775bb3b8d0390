package app

import (
	"slices"
	"strings"
	"testing"
	"time"

	"provisioner"
	"provisioner/prices"
)

// A node of a user node group costs 0.2758137 an hour at the shipped
// us-west-2 prices (cost_test.go): the node and its disk, no fixed parts.

// TestBudgetGroupRefuse: a node group's DEPLOY and EXTEND are checked
// against the budgets of its user as a cluster's are: what does not fit
// a refuse budget is refused with the amounts, nothing recorded or
// deployed, the group's time unchanged.
func TestBudgetGroupRefuse(t *testing.T) {
	f := budgetFixture(t, budget("user:otto", 1, provisioner.BudgetRefuse))
	f.deployed(t, admin, "pub", true)
	f.deployed(t, admin, "pub2", true)
	// 2 hours of 1 node: 0.551627 of 1.00.
	g := f.group(t, orgMem, "pub", "otto", 1, 2*time.Hour)
	// Another 2 hours on pub2 needs 0.551627 of the 0.448373 left.
	_, err := f.app.DeployGroup(bg, orgMem, GroupRequest{Cluster: "pub2", User: "otto", NodeCapacity: 1, TTL: 2 * time.Hour})
	wantCode(t, err, provisioner.ELIMIT)
	for _, want := range []string{"node group of otto", "user:otto", "$0.45 left", "$0.55 reserved by 1 live deployment)", "estimated at $0.55 (1 node for 2h)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not say %q", err, want)
		}
	}
	if f.driver.hasGroup("pub2", "otto") {
		t.Fatal("a refused DEPLOY deployed its group")
	}
	if st, err := f.app.GroupStatus(bg, orgMem, "pub2", "otto"); err != nil || st.State != provisioner.StateAbsent {
		t.Fatalf("a refused DEPLOY recorded its group: %+v, %v", st, err)
	}
	// EXTEND to 4 hours from now: 1.103255 of the 1.00 the budget has
	// without the group itself.
	_, err = f.app.ExtendGroup(bg, orgMem, "pub", "otto", 4*time.Hour)
	wantCode(t, err, provisioner.ELIMIT)
	if got, _ := f.app.GroupStatus(bg, orgMem, "pub", "otto"); !got.ExpiresAt.Equal(g.ExpiresAt) || got.Revision != g.Revision {
		t.Fatalf("a refused EXTEND changed the group: %+v, was %+v", got, g)
	}
	// 3 hours fit (0.827441).
	if _, err := f.app.ExtendGroup(bg, orgMem, "pub", "otto", 3*time.Hour); err != nil {
		t.Fatal(err)
	}
	// Another user's group is not this budget's business.
	f.group(t, member, "pub2", "mia", 2, 4*time.Hour)
}

// TestBudgetGroupShrink: a shrink budget cuts a node group's TTL to what
// it covers, says so in the answer and in a budget.shrink event of the
// group, and cuts an EXTEND the same way.
func TestBudgetGroupShrink(t *testing.T) {
	f := budgetFixture(t, budget("user:otto", 1, provisioner.BudgetShrink))
	f.deployed(t, admin, "pub", true)
	now := f.clock.Now()
	// Asked 4 hours (1.103255); 1.00 covers 3.6257 hours of 1 node: 3h37m.
	r, err := f.app.DeployGroup(bg, orgMem, GroupRequest{Cluster: "pub", User: "otto", NodeCapacity: 1, TTL: 4 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	want := 3*time.Hour + 37*time.Minute
	if r.Budget == nil || r.Budget.Scope != "user:otto" || r.Budget.Asked != 4*time.Hour || r.Budget.TTL != want || r.Budget.Left != 1 {
		t.Fatalf("the answer's budget note: %+v", r.Budget)
	}
	if !strings.Contains(r.Budget.Message, "cut from 4h to 3h37m") {
		t.Errorf("message %q", r.Budget.Message)
	}
	if !r.Group.ExpiresAt.Equal(now.Add(want)) {
		t.Fatalf("expires %s, want the cut TTL's end %s", r.Group.ExpiresAt, now.Add(want))
	}
	if at, _ := f.sched.get("pub/otto"); !at.Equal(now.Add(want)) {
		t.Fatalf("destroy schedule at %s", at)
	}
	_, evs, err := f.app.GroupEvents(bg, orgMem, "pub", "otto")
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.IndexFunc(evs, func(e provisioner.Event) bool { return e.Type == eventBudgetShrink }); i < 0 ||
		!strings.Contains(evs[i].Message, "cut from 4h to 3h37m") || evs[i].Actor != "otto" {
		t.Fatalf("no shrink event of the group: %+v", evs)
	}
	if op := f.wait(t, r.Operation.ID); op.State != provisioner.OpSuccess {
		t.Fatalf("group deploy: %+v", op)
	}

	// An hour on, an EXTEND to 3 hours from now gets nothing beyond
	// its destroy time: refused.
	f.clock.Add(time.Hour)
	_, err = f.app.ExtendGroup(bg, orgMem, "pub", "otto", 3*time.Hour)
	wantCode(t, err, provisioner.ELIMIT)
	// Shorter is always allowed; then what is left covers 2h37m from now.
	if _, err := f.app.ExtendGroup(bg, orgMem, "pub", "otto", 30*time.Minute); err != nil {
		t.Fatal(err)
	}
	got, err := f.app.ExtendGroup(bg, orgMem, "pub", "otto", 3*time.Hour)
	want = 2*time.Hour + 37*time.Minute
	if err != nil || got.Budget == nil || got.Budget.TTL != want || !got.Group.ExpiresAt.Equal(f.clock.Now().Add(want)) {
		t.Fatalf("EXTEND under the budget: %+v, %v", got, err)
	}
	if at, _ := f.sched.get("pub/otto"); !at.Equal(got.Group.ExpiresAt) {
		t.Fatalf("destroy schedule at %s, group until %s", at, got.Group.ExpiresAt)
	}
}

// TestBudgetGroupExemptAdmin: an administrator deploying a node group
// under a budget that exempts administrators is not refused (the group
// is recorded exempt, and its cost counts for the others); under one
// that does not, it is refused as anyone.
func TestBudgetGroupExemptAdmin(t *testing.T) {
	exempt := budget("org", 1, provisioner.BudgetRefuse)
	exempt.AdminsExempt = true
	f := budgetFixture(t, exempt)
	f.deployed(t, admin, "pub", true)
	// 4 hours of 4 nodes: 4.41 of a 1.00 budget.
	f.group(t, admin, "pub", "mia", 4, 4*time.Hour)
	_, err := f.app.DeployGroup(bg, orgMem, GroupRequest{Cluster: "pub", User: "otto", NodeCapacity: 1, TTL: 30 * time.Minute})
	wantCode(t, err, provisioner.ELIMIT)
	if l, err := f.store.GetBudgetLedger(bg, "org"); err != nil || !slices.Contains(l.Exempt, "pub/mia") {
		t.Fatalf("ledger %+v, %v: the exempt group is not recorded", l, err)
	}
	// The administrator's EXTEND of it is exempt too.
	if _, err := f.app.ExtendGroup(bg, admin, "pub", "mia", 6*time.Hour); err != nil {
		t.Fatalf("an exempt administrator's EXTEND was refused: %v", err)
	}

	strict := budget("org", 1, provisioner.BudgetRefuse)
	g := budgetFixture(t, strict)
	g.deployed(t, admin, "pub", true) // 2 nodes for 1 hour: 0.772723
	_, err = g.app.DeployGroup(bg, admin, GroupRequest{Cluster: "pub", User: "mia", NodeCapacity: 4, TTL: 4 * time.Hour})
	wantCode(t, err, provisioner.ELIMIT)
	// Within the budget, an administrator deploys as anyone: 0.137907.
	g.group(t, admin, "pub", "mia", 1, 30*time.Minute)
}

// TestBudgetGroupPlan: a node group's dry run answers what its DEPLOY
// would: refused with the same error under a refuse budget, the TTL cut
// with the same note under a shrink budget, and writes nothing (no
// store write, ledger, group, event or schedule).
func TestBudgetGroupPlan(t *testing.T) {
	f, ws := newWriteFixture(t)
	f.app.costs = CostConfig{Prices: staticPrices(prices.Shipped()), Layout: provisioner.DefaultLayout("us-west-2"), Usage: f.store}
	f.app.budgets = fixedBudgets([]provisioner.Budget{budget("user:otto", 1, provisioner.BudgetRefuse)})
	f.deployed(t, admin, "pub", true)
	nothingWritten := func(t *testing.T) {
		t.Helper()
		if n := ws.count(); n != 0 {
			t.Errorf("the dry run wrote the store %d times", n)
		}
		if l, err := f.store.GetBudgetLedger(bg, "user:otto"); provisioner.ErrorCode(err) != provisioner.ENOTFOUND {
			t.Errorf("the dry run wrote the ledger: %+v, %v", l, err)
		}
		if g, err := f.store.GetNodeGroup(bg, "pub", "otto"); provisioner.ErrorCode(err) != provisioner.ENOTFOUND {
			t.Errorf("the dry run recorded the group: %+v, %v", g, err)
		}
		if evs, err := f.store.ListEvents(bg, "pub/otto", 0); err != nil || len(evs) != 0 {
			t.Errorf("the dry run recorded events: %+v, %v", evs, err)
		}
		if at, ok := f.sched.get("pub/otto"); ok {
			t.Errorf("the dry run scheduled a destroy at %s", at)
		}
		if f.driver.hasGroup("pub", "otto") {
			t.Error("the dry run deployed the group")
		}
	}
	// 4 hours of 1 node: 1.103255 of 1.00.
	req := GroupRequest{Cluster: "pub", User: "otto", NodeCapacity: 1, TTL: 4 * time.Hour}
	ws.count()
	_, planErr := f.app.PlanGroup(bg, orgMem, req)
	wantCode(t, planErr, provisioner.ELIMIT)
	nothingWritten(t)
	_, err := f.app.DeployGroup(bg, orgMem, req)
	if err == nil || planErr.Error() != err.Error() {
		t.Fatalf("the dry run answered %q, the DEPLOY %v", planErr, err)
	}
	ws.count()

	f.app.budgets = fixedBudgets([]provisioner.Budget{budget("user:otto", 1, provisioner.BudgetShrink)})
	p, err := f.app.PlanGroup(bg, orgMem, req)
	if err != nil {
		t.Fatal(err)
	}
	want := 3*time.Hour + 37*time.Minute // 1.00 covers 3.6257 hours of 1 node
	if p.Budget == nil || p.Budget.Scope != "user:otto" || p.Budget.Asked != 4*time.Hour || p.Budget.TTL != want || p.TTL != want ||
		!strings.Contains(p.Budget.Message, "cut from 4h to 3h37m") {
		t.Fatalf("the dry run's budget note: %+v, TTL %s", p.Budget, p.TTL)
	}
	if e, _ := f.app.EstimateGroup(bg, 1, want); p.Estimate.Total != e.Total {
		t.Errorf("the dry run estimates %v, want the cut TTL's %v", p.Estimate.Total, e.Total)
	}
	nothingWritten(t)
	r, err := f.app.DeployGroup(bg, orgMem, req)
	if err != nil {
		t.Fatal(err)
	}
	if r.Budget == nil || *r.Budget != *p.Budget {
		t.Fatalf("the DEPLOY's note %+v, the dry run's %+v", r.Budget, p.Budget)
	}
	f.wait(t, r.Operation.ID)
	// A group that runs is joined by a DEPLOY, not claimed again: no note.
	if p, err := f.app.PlanGroup(bg, orgMem, req); err != nil || p.Budget != nil || p.State != provisioner.StateRunning {
		t.Fatalf("dry run of a running group: %+v, %v", p, err)
	}
}

// TestBudgetGroupGraceThenDestroy: a node group charged to a budget that
// runs out, on a cluster that stays (the public one, an administrator's),
// gets notice, its own destroy brought forward to the end of the grace
// period through its schedule, and is destroyed when that fires, saying
// why; the cluster stays, and an exempt administrator's group is left
// alone.
func TestBudgetGroupGraceThenDestroy(t *testing.T) {
	b := budget("user:otto", 2, provisioner.BudgetRefuse)
	b.AdminsExempt = true
	f := budgetFixture(t, b)
	for _, name := range []string{"pub", "pub2"} {
		if _, err := f.app.Deploy(bg, admin, DeployRequest{Cluster: name, IsPublic: true, NodeCapacity: 1, TTL: 8 * time.Hour}); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 5 && f.cluster(t, name).State != provisioner.StateRunning; i++ {
			_ = f.app.advance(bg, name)
		}
	}
	clusterUntil := f.cluster(t, "pub").DestroyTime()
	f.group(t, orgMem, "pub", "otto", 1, 3*time.Hour)
	exempt := f.group(t, admin, "pub2", "otto", 1, 4*time.Hour)

	// The operator lowers the budget to 0.60; after 1h15m the two groups
	// spent 2 × 0.344767.
	b.Monthly = 0.6
	f.app.budgets = fixedBudgets([]provisioner.Budget{b})
	f.clock.Add(75 * time.Minute)
	exhaustedAt := f.clock.Now()
	grace := exhaustedAt.Add(30 * time.Minute)
	if err := f.app.Reconcile(bg); err != nil {
		t.Fatal(err)
	}
	groupEvents := func(cluster string) []provisioner.Event {
		t.Helper()
		_, evs, err := f.app.GroupEvents(bg, admin, cluster, "otto")
		if err != nil {
			t.Fatal(err)
		}
		return evs
	}
	countType := func(evs []provisioner.Event, typ string) int {
		return len(slices.DeleteFunc(slices.Clone(evs), func(e provisioner.Event) bool { return e.Type != typ }))
	}
	evs := groupEvents("pub")
	if i := slices.IndexFunc(evs, func(e provisioner.Event) bool { return e.Type == eventBudgetExhausted }); i < 0 ||
		!strings.Contains(evs[i].Message, "has run out") || !strings.Contains(evs[i].Message, grace.Format(time.RFC3339)) {
		t.Fatalf("no exhausted notice of the group: %+v", evs)
	}
	if i := slices.IndexFunc(evs, func(e provisioner.Event) bool { return e.Type == eventBudgetGrace }); i < 0 ||
		!strings.Contains(evs[i].Message, "budget exhausted (user:otto)") {
		t.Fatalf("no grace event of the group: %+v", evs)
	}
	g, err := f.app.GroupStatus(bg, orgMem, "pub", "otto")
	if err != nil || !g.DestroyTime().Equal(grace) || !strings.HasPrefix(g.Reason, "budget exhausted (user:otto)") || g.State != provisioner.StateRunning {
		t.Fatalf("after the notice: %+v, %v; want destroy at %s", g, err, grace)
	}
	if at, _ := f.sched.get("pub/otto"); !at.Equal(grace) {
		t.Fatalf("group schedule %s, want %s", at, grace)
	}
	if e, _ := f.app.GroupStatus(bg, admin, "pub2", "otto"); !e.DestroyTime().Equal(exempt.DestroyTime()) || countType(groupEvents("pub2"), eventBudgetExhausted) != 0 {
		t.Fatalf("the exempt group was reached: %+v", e)
	}
	if cl := f.cluster(t, "pub"); !cl.DestroyTime().Equal(clusterUntil) || count(f.eventTypes(t, "pub"), eventBudgetExhausted) != 0 {
		t.Fatalf("the cluster, outside the budget, was reached: %+v", cl)
	}
	// Later sweeps repeat nothing.
	f.clock.Add(10 * time.Minute)
	_ = f.app.Reconcile(bg)
	if evs := groupEvents("pub"); countType(evs, eventBudgetExhausted) != 1 || countType(evs, eventBudgetGrace) != 1 {
		t.Fatalf("notices repeated: %+v", evs)
	}
	// The grace period ends: the group's schedule fires and it goes; its
	// cluster stays.
	f.clock.Set(grace)
	if err := f.app.FireDestroy(bg, "pub/otto", grace); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5 && f.driver.hasGroup("pub", "otto"); i++ {
		_ = f.app.advanceGroup(bg, "pub", "otto")
	}
	if g, err := f.app.GroupStatus(bg, orgMem, "pub", "otto"); err != nil || g.State != provisioner.StateAbsent || f.driver.hasGroup("pub", "otto") {
		t.Fatalf("the group outlived its grace period: %+v, %v", g, err)
	}
	evs = groupEvents("pub")
	if i := slices.IndexFunc(evs, func(e provisioner.Event) bool { return e.Type == "schedule.fired" }); i < 0 ||
		!strings.Contains(evs[i].Message, "budget exhausted (user:otto)") {
		t.Fatalf("the destroy does not say why: %+v", evs)
	}
	if cl := f.cluster(t, "pub"); cl.State != provisioner.StateRunning {
		t.Fatalf("the cluster went with the group: %+v", cl)
	}
}
