package app

import (
	"slices"
	"strings"
	"testing"
	"time"

	"provisioner"
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
