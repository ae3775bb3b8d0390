package app

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"provisioner"
	"provisioner/prices"
)

// The hand figures (cost_test.go): a cluster of 1 node costs 0.496909 an
// hour at the shipped us-west-2 prices (fixed parts 0.2210953, a node
// 0.2758137), of 2 nodes 0.772723.
const oneNodeHourly = 0.496909

// budgetFixture is a cost fixture (shipped prices, metered into SQLite)
// under budgets.
func budgetFixture(t *testing.T, budgets ...provisioner.Budget) *fixture {
	f := costFixture(t)
	f.app.budgets = fixedBudgets(budgets)
	return f
}

func budget(scope string, monthly float64, policy provisioner.BudgetPolicy) provisioner.Budget {
	return provisioner.Budget{Scope: scope, Monthly: monthly, Policy: policy, Grace: 30 * time.Minute, WarnAt: []int{80}}
}

// deploy1 deploys a cluster of 1 node for ttl as c and waits until it runs.
func (f *fixture) deploy1(t *testing.T, c Caller, name string, ttl time.Duration) Result {
	t.Helper()
	r, err := f.app.Deploy(bg, c, DeployRequest{Cluster: name, NodeCapacity: 1, TTL: ttl})
	if err != nil {
		t.Fatalf("DEPLOY of %s: %v", name, err)
	}
	if op := f.wait(t, r.Operation.ID); op.State != provisioner.OpSuccess {
		t.Fatalf("deploy of %s failed: %+v", name, op)
	}
	return r
}

// eventTypes lists a cluster's event types, oldest first.
func (f *fixture) eventTypes(t *testing.T, name string) []string {
	t.Helper()
	evs, err := f.app.Events(bg, admin, name, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

// eventOf is a cluster's last event of type typ.
func (f *fixture) eventOf(t *testing.T, name, typ string) provisioner.Event {
	t.Helper()
	evs, err := f.app.Events(bg, admin, name, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Type == typ {
			return evs[i]
		}
	}
	t.Fatalf("%s has no %s event: %v", name, typ, f.eventTypes(t, name))
	return provisioner.Event{}
}

func count(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

// TestBudgetRefuse: a refuse budget lets through what fits, refuses with
// the amounts what does not (nothing recorded, nothing deployed), and
// gives back what a cluster destroyed early did not spend.
func TestBudgetRefuse(t *testing.T) {
	f := budgetFixture(t, budget("user:otto", 1.5, provisioner.BudgetRefuse))
	// 2 hours of 1 node: 0.993818, within 1.50.
	f.deploy1(t, orgMem, "c1", 2*time.Hour)
	// The next 2 hours would need 0.993818 of the 0.506182 left.
	_, err := f.app.Deploy(bg, orgMem, DeployRequest{Cluster: "c2", NodeCapacity: 1, TTL: 2 * time.Hour})
	wantCode(t, err, provisioner.ELIMIT)
	for _, want := range []string{"user:otto", "$0.51 left", "$1.50 allowance", "$0.99 reserved by 1 live deployment)", "estimated at $0.99 (1 node for 2h)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not say %q", err, want)
		}
	}
	if f.driver.has("c2") || f.cluster(t, "c2").State != provisioner.StateAbsent {
		t.Fatal("a refused DEPLOY deployed or recorded its cluster")
	}
	// Its dry run says the same.
	_, err = f.app.PlanDeploy(bg, orgMem, DeployRequest{Cluster: "c2", NodeCapacity: 1, TTL: 2 * time.Hour})
	wantCode(t, err, provisioner.ELIMIT)
	// Another user's deploy is not this budget's business.
	f.deploy1(t, tess, "t1", 4*time.Hour)

	// c1 destroyed after 30 minutes spent 0.248455; its other 1.5 hours
	// are free again: 1.251546 left, and c2 fits.
	f.clock.Add(30 * time.Minute)
	if r, err := f.app.Destroy(bg, orgMem, "c1"); err != nil || !r.Done {
		t.Fatalf("destroy: %+v, %v", r, err)
	}
	st := f.budgetStatus(t, orgMem, "user:otto")
	if st.Spent != 0.248455 || st.Reserved != 0 || st.Left != 1.251545 {
		t.Fatalf("after the early destroy: %+v", st)
	}
	f.deploy1(t, orgMem, "c2", 2*time.Hour)
}

// budgetStatus is scope's line of c's budget report.
func (f *fixture) budgetStatus(t *testing.T, c Caller, scope string) BudgetStatus {
	t.Helper()
	all, err := f.app.Budgets(bg, c)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range all.Budgets {
		if s.Budget.Scope == scope {
			return s
		}
	}
	t.Fatalf("%s's budget report has no %s: %+v", c.User.Login, scope, all)
	return BudgetStatus{}
}

// TestBudgetShrink: a shrink budget cuts the TTL to what it covers, says
// so in the answer and an event, refuses when that is less than the
// shortest TTL, and cuts an EXTEND the same way.
func TestBudgetShrink(t *testing.T) {
	f := budgetFixture(t, budget("user:otto", 1, provisioner.BudgetShrink))
	now := f.clock.Now()
	// Asked 4 hours (1.99); 1.00 covers 2.0124 hours of 1 node: 2h0m.
	p, err := f.app.PlanDeploy(bg, orgMem, DeployRequest{Cluster: "c1", NodeCapacity: 1, TTL: 4 * time.Hour})
	if err != nil || p.TTL != 2*time.Hour || p.Budget == nil || p.Budget.Asked != 4*time.Hour || p.Estimate.Total != 0.993818 {
		t.Fatalf("dry run: %+v, %v", p, err)
	}
	r := f.deploy1(t, orgMem, "c1", 4*time.Hour)
	if r.Budget == nil || r.Budget.Scope != "user:otto" || r.Budget.Asked != 4*time.Hour || r.Budget.TTL != 2*time.Hour || r.Budget.Left != 1 {
		t.Fatalf("the answer's budget note: %+v", r.Budget)
	}
	if !strings.Contains(r.Budget.Message, "cut from 4h to 2h") {
		t.Errorf("message %q", r.Budget.Message)
	}
	cl := f.cluster(t, "c1")
	if !cl.ExpiresAt.Equal(now.Add(2 * time.Hour)) {
		t.Fatalf("expires %s, want the cut TTL's end %s", cl.ExpiresAt, now.Add(2*time.Hour))
	}
	if at, _ := f.sched.get("c1"); !at.Equal(now.Add(2 * time.Hour)) {
		t.Fatalf("destroy schedule at %s", at)
	}
	if ev := f.eventOf(t, "c1", "budget.shrink"); !strings.Contains(ev.Message, "cut from 4h to 2h") || ev.Actor != "otto" {
		t.Fatalf("shrink event %+v", ev)
	}
	// 0.006182 left covers under a minute: refused.
	_, err = f.app.Deploy(bg, orgMem, DeployRequest{Cluster: "c2", NodeCapacity: 1, TTL: time.Hour})
	wantCode(t, err, provisioner.ELIMIT)
	if !strings.Contains(err.Error(), "less than the shortest TTL") {
		t.Fatalf("refusal %v", err)
	}
	// An EXTEND that would keep it 3 hours from now gets what is left:
	// nothing beyond its destroy time.
	f.clock.Add(time.Hour)
	_, err = f.app.Extend(bg, orgMem, "c1", 3*time.Hour)
	wantCode(t, err, provisioner.ELIMIT)
	// Shorter is always allowed, and frees money for a later EXTEND.
	if _, err := f.app.Extend(bg, orgMem, "c1", 30*time.Minute); err != nil {
		t.Fatal(err)
	}
	// 1 - 0.496909 spent = 0.503091 covers 1h0m44s from now: 1h.
	got, err := f.app.ExtendBudgeted(bg, orgMem, "c1", 3*time.Hour)
	if err != nil || got.Budget == nil || got.Budget.TTL != time.Hour || !got.Cluster.ExpiresAt.Equal(f.clock.Now().Add(time.Hour)) {
		t.Fatalf("EXTEND under the budget: %+v, %v", got, err)
	}
	// SCHEDULE_DESTROY later is an extension too.
	_, err = f.app.ScheduleDestroy(bg, orgMem, "c1", f.clock.Now().Add(5*time.Hour))
	wantCode(t, err, provisioner.ELIMIT)
}

// TestBudgetGraceThenDestroy: the sweep warns once a threshold is
// passed; when the budget has run out, its live clusters get notice,
// their destroys are brought forward to the end of the grace period
// (never later), and the destroy schedule destroys them then, saying
// why. An exempt administrator's cluster is left alone.
func TestBudgetGraceThenDestroy(t *testing.T) {
	org := budget("org", 2, provisioner.BudgetRefuse)
	org.AdminsExempt, org.WarnAt = true, []int{50, 80}
	f := budgetFixture(t, org)
	f.deploy1(t, orgMem, "c1", 3*time.Hour)    // 1.490727 reserved
	f.deploy1(t, admin, "adm", 10*time.Minute) // exempt: not checked, but counted
	if err := f.app.Reconcile(bg); err != nil {
		t.Fatal(err)
	}
	// 1.573545 of 2 spent or reserved: 78 %, the 50 % warning.
	if ev := f.eventOf(t, "c1", "budget.warning"); !strings.Contains(ev.Message, "warning at 50%") {
		t.Fatalf("warning %+v", ev)
	}
	if n := count(f.eventTypes(t, "adm"), "budget.warning"); n != 0 {
		t.Fatalf("the exempt cluster got %d warnings", n)
	}
	_ = f.app.Reconcile(bg) // once
	if n := count(f.eventTypes(t, "c1"), "budget.warning"); n != 1 {
		t.Fatalf("%d warnings after two sweeps", n)
	}

	// The operator lowers the budget to 0.60: after 1h15m, 0.621 is
	// spent (c1 0.621136; adm 0.082818 went with its TTL).
	f.clock.Add(10 * time.Minute)
	_ = f.app.FireDestroy(bg, "adm", f.clock.Now())
	org.Monthly = 0.6
	f.app.budgets = fixedBudgets([]provisioner.Budget{org})
	f.clock.Add(65 * time.Minute)
	f.deploy1(t, admin, "adm2", time.Hour) // exempt again
	exhaustedAt := f.clock.Now()
	if err := f.app.Reconcile(bg); err != nil {
		t.Fatal(err)
	}
	ev := f.eventOf(t, "c1", "budget.exhausted")
	if !strings.Contains(ev.Message, "has run out") || !strings.Contains(ev.Message, exhaustedAt.Add(30*time.Minute).Format(time.RFC3339)) {
		t.Fatalf("exhausted notice %+v", ev)
	}
	grace := exhaustedAt.Add(30 * time.Minute)
	cl := f.cluster(t, "c1")
	if !cl.DestroyTime().Equal(grace) || !strings.HasPrefix(cl.Reason, "budget exhausted (org)") || cl.State != provisioner.StateRunning {
		t.Fatalf("after the notice: destroy %s (want %s), reason %q, %s", cl.DestroyTime(), grace, cl.Reason, cl.State)
	}
	if at, _ := f.sched.get("c1"); !at.Equal(grace) {
		t.Fatalf("schedule %s, want %s", at, grace)
	}
	if types := f.eventTypes(t, "c1"); !slices.Contains(types, "budget.grace") {
		t.Fatalf("no grace event: %v", types)
	}
	if adm := f.cluster(t, "adm2"); !adm.DestroyTime().Equal(exhaustedAt.Add(time.Hour)) || count(f.eventTypes(t, "adm2"), "budget.exhausted") != 0 {
		t.Fatalf("the exempt cluster was reached: %+v %v", adm, f.eventTypes(t, "adm2"))
	}
	// The owner cannot keep it longer while the budget is out.
	_, err := f.app.Extend(bg, orgMem, "c1", 2*time.Hour)
	wantCode(t, err, provisioner.ELIMIT)
	// Later sweeps neither repeat the notice nor move the destroy.
	f.clock.Add(10 * time.Minute)
	_ = f.app.Reconcile(bg)
	if n := count(f.eventTypes(t, "c1"), "budget.exhausted"); n != 1 {
		t.Fatalf("%d exhausted notices", n)
	}
	if cl := f.cluster(t, "c1"); !cl.DestroyTime().Equal(grace) {
		t.Fatalf("destroy moved to %s", cl.DestroyTime())
	}
	// The grace period ends: the schedule fires, the cluster goes, and
	// its events say why.
	f.clock.Set(grace)
	if err := f.app.FireDestroy(bg, "c1", grace); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5 && f.cluster(t, "c1").State != provisioner.StateAbsent; i++ {
		_ = f.app.advance(bg, "c1")
	}
	if f.cluster(t, "c1").State != provisioner.StateAbsent || f.driver.has("c1") {
		t.Fatal("c1 outlived its grace period")
	}
	if ev := f.eventOf(t, "c1", "schedule.fired"); !strings.Contains(ev.Message, "budget exhausted (org)") {
		t.Fatalf("the destroy does not say why: %+v", ev)
	}
	types := f.eventTypes(t, "c1")
	order := []string{"budget.warning", "budget.exhausted", "budget.grace", "schedule.fired", "destroy.requested", "state.absent"}
	i := 0
	for _, typ := range types {
		if i < len(order) && typ == order[i] {
			i++
		}
	}
	if i != len(order) {
		t.Fatalf("events %v lack %v in order", types, order)
	}
}

// TestBudgetExemptAdmin: an administrator under a budget that exempts
// administrators is not refused (its cost still counts for the others);
// under one that does not, it is refused as anyone.
func TestBudgetExemptAdmin(t *testing.T) {
	exempt := budget("org", 1, provisioner.BudgetRefuse)
	exempt.AdminsExempt = true
	f := budgetFixture(t, exempt)
	// 4 hours of 2 nodes: 3.09 of a 1.00 budget.
	if _, err := f.app.Deploy(bg, admin, DeployRequest{Cluster: "big", NodeCapacity: 2, TTL: 4 * time.Hour}); err != nil {
		t.Fatalf("an exempt administrator was refused: %v", err)
	}
	_, err := f.app.Deploy(bg, orgMem, DeployRequest{Cluster: "small", NodeCapacity: 1, TTL: time.Minute})
	wantCode(t, err, provisioner.ELIMIT)
	if l, err := f.store.GetBudgetLedger(bg, "org"); err != nil || !slices.Equal(l.Exempt, []string{"big"}) {
		t.Fatalf("ledger %+v, %v: the exempt cluster is not recorded", l, err)
	}

	strict := budget("org", 1, provisioner.BudgetRefuse)
	g := budgetFixture(t, strict)
	_, err = g.app.Deploy(bg, admin, DeployRequest{Cluster: "big", NodeCapacity: 2, TTL: 4 * time.Hour})
	wantCode(t, err, provisioner.ELIMIT)
	// Within the budget, an administrator deploys as anyone.
	g.deploy1(t, admin, "fits", time.Hour)
}

// TestBudgetScopes: a deploy must fit every budget that covers it (its
// owner's, its team's, the organization's); "*" gives every user a
// budget of its own.
func TestBudgetScopes(t *testing.T) {
	f := budgetFixture(t,
		budget("user:*", 0.6, provisioner.BudgetRefuse),
		budget("team:dev", 0.9, provisioner.BudgetRefuse),
		budget("org", 100, provisioner.BudgetRefuse))
	// tess: her own 0.60 covers an hour (0.496909), and the team's 0.90.
	if _, err := f.app.Deploy(bg, tess, DeployRequest{Cluster: "t1", NodeCapacity: 1, TTL: time.Hour, Team: "dev"}); err != nil {
		t.Fatal(err)
	}
	// tim has 0.60 of his own, but on the dev team's clusters the team's
	// 0.90 has 0.403 left: refused there, fine elsewhere.
	_, err := f.app.Deploy(bg, tim, DeployRequest{Cluster: "t2", NodeCapacity: 1, TTL: time.Hour, Team: "dev"})
	wantCode(t, err, provisioner.ELIMIT)
	if !strings.Contains(err.Error(), "team:dev") {
		t.Fatalf("refusal %v names the wrong budget", err)
	}
	_, err = f.app.Deploy(bg, tim, DeployRequest{Cluster: "t2", NodeCapacity: 1, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	// tess's own budget is spent, whatever the cluster's team.
	_, err = f.app.Deploy(bg, tess, DeployRequest{Cluster: "t3", NodeCapacity: 1, TTL: time.Hour})
	wantCode(t, err, provisioner.ELIMIT)

	// The report: each sees its own, its teams' and the organization's;
	// an administrator all of them.
	mine, err := f.app.Budgets(bg, tess)
	if err != nil {
		t.Fatal(err)
	}
	var scopes []string
	for _, s := range mine.Budgets {
		scopes = append(scopes, s.Budget.Scope)
	}
	if !slices.Equal(scopes, []string{"user:tess", "org", "team:dev"}) {
		t.Fatalf("tess sees %v", scopes)
	}
	if s := mine.Budgets[0]; s.Reserved != 0.496909 || s.Left != 0.103091 || s.Source != SpendMetered || s.Live != 1 {
		t.Fatalf("tess's own: %+v", s)
	}
	all, err := f.app.Budgets(bg, admin)
	if err != nil {
		t.Fatal(err)
	}
	scopes = nil
	for _, s := range all.Budgets {
		scopes = append(scopes, s.Budget.Scope)
	}
	if !slices.Equal(scopes, []string{"org", "team:dev", "user:tess", "user:tim"}) {
		t.Fatalf("the administrator sees %v", scopes)
	}
	_, err = f.app.Budgets(bg, anon)
	wantCode(t, err, provisioner.EUNAUTHORIZED)
}

// TestBudgetCarryOver: what a month leaves unspent is carried into the
// next, up to the cap, counted from the month the budget was first used.
func TestBudgetCarryOver(t *testing.T) {
	b := budget("user:otto", 1, provisioner.BudgetRefuse)
	b.CarryOverCap = 0.3
	f := budgetFixture(t, b)
	// June: an hour of 1 node, 0.496909 spent: 0.503091 unspent, 0.30 carried.
	f.deploy1(t, orgMem, "c1", time.Hour)
	f.clock.Add(time.Hour)
	if err := f.app.Reconcile(bg); err != nil { // the TTL's destroy
		t.Fatal(err)
	}
	for i := 0; i < 5 && f.cluster(t, "c1").State != provisioner.StateAbsent; i++ {
		_ = f.app.advance(bg, "c1")
	}
	june := f.budgetStatus(t, orgMem, "user:otto")
	if june.Carried != 0 || june.Spent != oneNodeHourly || june.Left != 0.503091 {
		t.Fatalf("June: %+v", june)
	}
	// 2h30m of 1 node (1.242273) does not fit 1.00 ...
	f.clock.Set(time.Date(2026, 7, 1, 0, 30, 0, 0, time.UTC))
	july := f.budgetStatus(t, orgMem, "user:otto")
	if july.Carried != 0.3 || july.Available != 1.3 || july.Spent != 0 {
		t.Fatalf("July: %+v", july)
	}
	// ... but fits the 1.30 July has.
	f.deploy1(t, orgMem, "c2", 150*time.Minute)

	// Without a carry-over cap, nothing carries.
	b.CarryOverCap = 0
	f.app.budgets = fixedBudgets([]provisioner.Budget{b})
	if s := f.budgetStatus(t, orgMem, "user:otto"); s.Carried != 0 || s.Available != 1 {
		t.Fatalf("no cap: %+v", s)
	}
}

// TestBudgetsReadAtFirstUse: budgets read at first use (an S3 object on
// AWS) fail closed while they cannot be read, then are kept.
func TestBudgetsReadAtFirstUse(t *testing.T) {
	f := costFixture(t)
	loads, broken := 0, true
	f.app.budgets = &budgetSource{load: func(context.Context) ([]provisioner.Budget, error) {
		loads++
		if broken {
			return nil, errors.New("s3://bucket/budgets.json: NoSuchKey")
		}
		return []provisioner.Budget{budget("user:*", 0.1, provisioner.BudgetRefuse)}, nil
	}}
	_, err := f.app.Deploy(bg, orgMem, DeployRequest{Cluster: "c1", NodeCapacity: 1, TTL: time.Hour})
	wantCode(t, err, provisioner.EUNAVAILABLE)
	if !strings.Contains(err.Error(), "NoSuchKey") || f.cluster(t, "c1").State != provisioner.StateAbsent {
		t.Fatalf("a DEPLOY without its budgets: %v", err)
	}
	_, err = f.app.Budgets(bg, orgMem)
	wantCode(t, err, provisioner.EUNAVAILABLE)
	broken = false
	_, err = f.app.Deploy(bg, orgMem, DeployRequest{Cluster: "c1", NodeCapacity: 1, TTL: time.Hour})
	wantCode(t, err, provisioner.ELIMIT)
	if _, err := f.app.Budgets(bg, orgMem); err != nil || loads != 3 {
		t.Fatalf("the budgets were read %d times (%v); want 3: twice broken, then kept", loads, err)
	}
}

// TestBudgetNotices: the budget's notices reach the notice sinks (a
// signed webhook here) as budget.threshold notices for the cluster's
// owner, each once, however many sweeps see them.
func TestBudgetNotices(t *testing.T) {
	f := newNoticeFixture(t)
	f.app.costs = CostConfig{Prices: staticPrices(prices.Shipped()), Layout: provisioner.DefaultLayout("us-west-2"), Usage: f.store}
	b := budget("user:otto", 1, provisioner.BudgetRefuse)
	f.app.budgets = fixedBudgets([]provisioner.Budget{b})
	f.deploy1(t, orgMem, "c1", 110*time.Minute) // 0.910999: 91 %
	_ = f.app.Reconcile(bg)
	_ = f.app.Reconcile(bg)
	got := f.hook.notices()
	if len(got) != 1 || got[0].Kind != provisioner.NoticeBudget || got[0].Reason != "budget.warning" || got[0].Owner != "otto" ||
		got[0].Cluster != "c1" || !strings.Contains(got[0].Subject, "91% of the budget of user:otto") || !strings.Contains(got[0].Text, "provisioner budgets") {
		t.Fatalf("warning notices: %+v", got)
	}
	// The operator halves the budget; an hour on, 0.496909 is spent.
	b.Monthly = 0.45
	f.app.budgets = fixedBudgets([]provisioner.Budget{b})
	f.clock.Add(time.Hour)
	_ = f.app.Reconcile(bg)
	_ = f.app.Reconcile(bg)
	got = f.hook.notices()
	var kinds []string
	for _, n := range got {
		if n.Kind == provisioner.NoticeBudget {
			kinds = append(kinds, n.Reason)
		}
	}
	if !slices.Equal(kinds, []string{"budget.warning", "budget.exhausted", "budget.grace"}) {
		t.Fatalf("budget notices %v", kinds)
	}
	grace := f.clock.Now().Add(30 * time.Minute)
	for _, n := range got {
		if n.Reason == "budget.grace" && (!n.DestroyAt.Equal(grace) || !strings.Contains(n.Subject, "c1 is destroyed at "+grace.Format(time.RFC3339))) {
			t.Fatalf("grace notice %+v", n)
		}
	}
}

// TestBudgetWritesPerDeploy: under budgets a DEPLOY still writes the store
// three times; the ledgers (the user's and the organization's) ride in
// the first, with the cluster.
func TestBudgetWritesPerDeploy(t *testing.T) {
	f, ws := newWriteFixture(t)
	f.app.costs = CostConfig{Prices: staticPrices(prices.Shipped()), Layout: provisioner.DefaultLayout("us-west-2"), Usage: f.store}
	f.app.budgets = fixedBudgets([]provisioner.Budget{budget("user:*", 10, provisioner.BudgetRefuse), budget("org", 100, provisioner.BudgetShrink)})
	ws.count()
	r, err := f.app.Deploy(bg, orgMem, DeployRequest{Cluster: "c1", NodeCapacity: 1})
	if err != nil {
		t.Fatal(err)
	}
	f.wait(t, r.Operation.ID)
	if n := ws.count(); n > maxWritesPerChange {
		t.Errorf("DEPLOY under budgets wrote the store %d times, want at most %d", n, maxWritesPerChange)
	}
	for _, scope := range []string{"user:otto", "org"} {
		if l, err := f.store.GetBudgetLedger(bg, scope); err != nil || l.Revision != 1 {
			t.Errorf("ledger %s: %+v, %v; want it written once, by the DEPLOY", scope, l, err)
		}
	}
}
