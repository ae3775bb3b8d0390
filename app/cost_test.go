package app

import (
	"context"
	"testing"
	"time"

	"provisioner"
	"provisioner/prices"
)

// staticPrices is a price table that never changes.
type staticPrices provisioner.PriceTable

func (p staticPrices) PriceTable(context.Context) (provisioner.PriceTable, error) {
	return provisioner.PriceTable(p), nil
}

// costFixture is a fixture that prices with the shipped table in
// us-west-2 and meters into its SQLite store.
func costFixture(t *testing.T) *fixture {
	f := newFixture(t)
	f.app.costs = CostConfig{Prices: staticPrices(prices.Shipped()), Layout: provisioner.DefaultLayout("us-west-2"), Usage: f.store}
	return f
}

var (
	tess = Caller{User: provisioner.User{Login: "tess", ID: 4, Level: provisioner.LevelOrgMember, Teams: []string{"dev"}}, Source: "test"}
	tim  = Caller{User: provisioner.User{Login: "tim", ID: 5, Level: provisioner.LevelOrgMember, Teams: []string{"dev"}}, Source: "test"}
)

// The hand figures, us-west-2 shipped prices: a cluster's fixed parts
// (2 × c8g.large 0.15952, NAT 0.045, 2 addresses 0.01, 60 GiB gp3
// 0.0065753) 0.2210953 an hour; a node (t4g.2xlarge 0.2688 and 64 GiB
// 0.0070137) 0.2758137.
func TestEstimatesOfAnswers(t *testing.T) {
	f := costFixture(t)
	cl := f.deployed(t, orgMem, "c1", false) // 2 nodes, 1 hour
	e := f.app.ClusterEstimate(bg, cl)
	if e == nil || e.Hourly != 0.772723 || e.FixedHourly != 0.221095 || e.Hours != 1 || e.Total != 0.772723 || e.Nodes != 2 {
		t.Fatalf("estimate at deploy = %+v", e)
	}
	// Half an hour on, the answer covers what is left of the TTL.
	f.clock.Add(30 * time.Minute)
	if e := f.app.ClusterEstimate(bg, f.cluster(t, "c1")); e == nil || e.Hours != 0.5 || e.Total != 0.386361 {
		t.Errorf("estimate later = %+v", e)
	}
	// EXTEND by 2 hours from now: 2 hours of the same cluster.
	ext, err := f.app.Extend(bg, orgMem, "c1", 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if e := f.app.ClusterEstimate(bg, ext); e == nil || e.Hours != 2 || e.Total != 1.545445 {
		t.Errorf("estimate after EXTEND = %+v", e)
	}
	// A group of 3 for 90 minutes: 3 × 0.2758137 × 1.5 = 1.2411616.
	r, err := f.app.DeployGroup(bg, orgMem, GroupRequest{Cluster: "c1", User: "otto", NodeCapacity: 3, TTL: 90 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if e := f.app.GroupEstimate(bg, r.Group); e == nil || e.Hourly != 0.827441 || e.Total != 1.241162 || e.FixedHourly != 0 {
		t.Errorf("group estimate = %+v", e)
	}
	// No estimate for what is going away, or without a table.
	if e := f.app.ClusterEstimate(bg, provisioner.Cluster{Name: "x", Deployment: provisioner.Deployment{State: provisioner.StateDestroying, ExpiresAt: f.clock.Now().Add(time.Hour)}}); e != nil {
		t.Errorf("estimate of a cluster being destroyed: %+v", e)
	}
	f.app.costs.Prices = nil
	if e := f.app.ClusterEstimate(bg, ext); e != nil {
		t.Errorf("estimate without prices: %+v", e)
	}
	_, err = f.app.EstimateCluster(bg, 1, time.Hour)
	wantCode(t, err, provisioner.EUNAVAILABLE)
}

func TestPlanDeployDeploysNothing(t *testing.T) {
	f := costFixture(t)
	p, err := f.app.PlanDeploy(bg, orgMem, DeployRequest{Cluster: "dry", NodeCapacity: 2, TTL: 2 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if p.Cluster != "dry" || p.Nodes != 2 || p.TTL != 2*time.Hour || p.State != provisioner.StateAbsent || p.Estimate.Total != 1.545445 {
		t.Errorf("plan = %+v", p)
	}
	// Nothing written, scheduled or deployed.
	if _, err := f.store.GetCluster(bg, "dry"); provisioner.ErrorCode(err) != provisioner.ENOTFOUND {
		t.Errorf("a dry run wrote the cluster: %v", err)
	}
	if _, ok := f.sched.get("dry"); ok || f.driver.has("dry") {
		t.Error("a dry run scheduled or deployed")
	}
	if u, _ := f.store.ListUsage(bg, f.clock.Now().Add(-time.Hour), f.clock.Now().Add(time.Hour)); len(u) != 0 {
		t.Errorf("a dry run metered: %+v", u)
	}
	// The default TTL, and a running cluster's state.
	f.deployed(t, orgMem, "c1", false)
	p, err = f.app.PlanDeploy(bg, orgMem, DeployRequest{Cluster: "c1", NodeCapacity: 1})
	if err != nil || p.State != provisioner.StateRunning || p.TTL != time.Hour || p.Estimate.Hours != 1 {
		t.Errorf("plan of a running cluster = %+v, %v", p, err)
	}
	// DEPLOY's checks: name, nodes, the level, the limits, the live clusters.
	for _, tc := range []struct {
		c    Caller
		req  DeployRequest
		code string
	}{
		{orgMem, DeployRequest{Cluster: "Bad_Name", NodeCapacity: 1}, provisioner.EINVALID},
		{orgMem, DeployRequest{Cluster: "dry", NodeCapacity: 0}, provisioner.EINVALID},
		{orgMem, DeployRequest{Cluster: "dry", NodeCapacity: 5}, provisioner.ELIMIT},
		{orgMem, DeployRequest{Cluster: "dry", NodeCapacity: 1, TTL: 9 * time.Hour}, provisioner.ELIMIT},
		{orgMem, DeployRequest{Cluster: "dry", NodeCapacity: 1, Version: "$(id)"}, provisioner.EINVALID},
		{member, DeployRequest{Cluster: "dry", NodeCapacity: 1}, provisioner.EFORBIDDEN},
		{orgMem, DeployRequest{Cluster: "dry", NodeCapacity: 1, IsPublic: true}, provisioner.EFORBIDDEN},
		{anon, DeployRequest{Cluster: "dry", NodeCapacity: 1}, provisioner.EUNAUTHORIZED},
	} {
		_, err := f.app.PlanDeploy(bg, tc.c, tc.req)
		if provisioner.ErrorCode(err) != tc.code {
			t.Errorf("%s %+v: %v, want %s", tc.c.User.Login, tc.req, err, tc.code)
		}
	}
	f.deployed(t, orgMem, "c2", false) // otto's second, the limit
	_, err = f.app.PlanDeploy(bg, orgMem, DeployRequest{Cluster: "c3", NodeCapacity: 1})
	wantCode(t, err, provisioner.ELIMIT)

	// A group's plan: its nodes alone, and the group's checks.
	g, err := f.app.PlanGroup(bg, orgMem, GroupRequest{Cluster: "c1", User: "otto", NodeCapacity: 3, TTL: 90 * time.Minute})
	if err != nil || g.User != "otto" || g.State != provisioner.StateAbsent || g.Estimate.Total != 1.241162 {
		t.Errorf("group plan = %+v, %v", g, err)
	}
	if f.driver.hasGroup("c1", "otto") {
		t.Error("a group's dry run deployed it")
	}
	_, err = f.app.PlanGroup(bg, orgMem, GroupRequest{Cluster: "c1", User: "ada", NodeCapacity: 1})
	wantCode(t, err, provisioner.EFORBIDDEN)
	_, err = f.app.PlanGroup(bg, orgMem, GroupRequest{Cluster: "nope", User: "otto", NodeCapacity: 1})
	wantCode(t, err, provisioner.ENOTFOUND)
	_, err = f.app.PlanGroup(bg, member, GroupRequest{Cluster: "c1", User: "mia", NodeCapacity: 1})
	wantCode(t, err, provisioner.ENOTFOUND) // private: it does not exist for mia
}

func waitDone(t *testing.T, f *fixture, op provisioner.Operation, done bool) {
	t.Helper()
	if !done {
		if got := f.wait(t, op.ID); got.State != provisioner.OpSuccess {
			t.Fatalf("operation failed: %+v", got)
		}
	}
}

// TestMeteredCosts runs clusters and a node group on the test clock and
// checks the spend report against hand figures: stretches priced at the
// hourly estimate (rounded to the micro-dollar) when they started.
func TestMeteredCosts(t *testing.T) {
	f := costFixture(t)
	at := func(h, m int) time.Time { return time.Date(2026, 6, 1, h, m, 0, 0, time.UTC) }
	f.clock.Set(at(12, 0))
	// otto: c1, 2 nodes (0.772723 an hour), 12:00 to 14:00.
	r, err := f.app.Deploy(bg, orgMem, DeployRequest{Cluster: "c1", NodeCapacity: 2, TTL: 8 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	waitDone(t, f, r.Operation, r.Done)
	// tess: c2 shared with dev, 1 node (0.496909 an hour), from 12:00, still running at 15:00.
	r, err = f.app.Deploy(bg, tess, DeployRequest{Cluster: "c2", NodeCapacity: 1, TTL: 8 * time.Hour, Team: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	waitDone(t, f, r.Operation, r.Done)
	// otto's group on c1, 1 node (0.275814 an hour), 12:30 to 13:30.
	f.clock.Set(at(12, 30))
	g, err := f.app.DeployGroup(bg, orgMem, GroupRequest{Cluster: "c1", User: "otto", NodeCapacity: 1, TTL: 2 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	waitDone(t, f, g.Operation, g.Done)
	f.clock.Set(at(13, 30))
	g, err = f.app.DestroyGroup(bg, orgMem, "c1", "otto")
	if err != nil {
		t.Fatal(err)
	}
	waitDone(t, f, g.Operation, g.Done)
	f.clock.Set(at(14, 0))
	r, err = f.app.Destroy(bg, orgMem, "c1")
	if err != nil {
		t.Fatal(err)
	}
	waitDone(t, f, r.Operation, r.Done)
	f.clock.Set(at(15, 0))

	// c1: 2 h × 0.772723 + 1 h × 0.275814 = 1.82126; c2: 3 h × 0.496909 = 1.490727.
	since := at(0, 0)
	type group struct {
		key   string
		total float64
	}
	check := func(c Caller, by string, want ...group) {
		t.Helper()
		rep, err := f.app.Costs(bg, c, CostQuery{By: by, Since: since})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Source != SpendMetered || rep.Currency != "USD" || !rep.Since.Equal(since) || !rep.Until.Equal(at(15, 0)) {
			t.Errorf("%s by %s: report = %+v", c.User.Login, by, rep)
		}
		var sum float64
		if len(rep.Groups) != len(want) {
			t.Fatalf("%s by %s: groups = %+v, want %+v", c.User.Login, by, rep.Groups, want)
		}
		for i, w := range want {
			g := rep.Groups[i]
			if g.Key != w.key || g.Total != w.total || len(g.Days) != 1 || !g.Days[0].Day.Equal(since) || g.Days[0].Amount != w.total {
				t.Errorf("%s by %s: group %d = %+v, want %+v", c.User.Login, by, i, g, w)
			}
			sum += w.total
		}
		if rep.Total != provisioner.RoundMoney(sum) {
			t.Errorf("%s by %s: total %v, want %v", c.User.Login, by, rep.Total, sum)
		}
	}
	check(admin, "cluster", group{"c1", 1.82126}, group{"c2", 1.490727})
	check(admin, "user", group{"otto", 1.82126}, group{"tess", 1.490727})
	check(admin, "team", group{"", 1.82126}, group{"dev", 1.490727})
	check(admin, "", group{"c1", 1.82126}, group{"c2", 1.490727}) // by cluster by default
	// A user sees its own; team members their team's; others nothing.
	check(orgMem, "cluster", group{"c1", 1.82126})
	check(tess, "user", group{"tess", 1.490727})
	check(tim, "cluster", group{"c2", 1.490727})
	check(member, "cluster")

	// Since defaults to the first of the month.
	if rep, err := f.app.Costs(bg, admin, CostQuery{}); err != nil || !rep.Since.Equal(time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)) || rep.Total != 3.311987 {
		t.Errorf("default window: %+v, %v", rep, err)
	}
	for _, q := range []CostQuery{{By: "zone", Since: since}, {By: "Cluster", Since: since}, {Since: at(16, 0)}, {Since: at(0, 0).AddDate(-2, 0, 0)}} {
		_, err := f.app.Costs(bg, admin, q)
		wantCode(t, err, provisioner.EINVALID)
	}
	_, err = f.app.Costs(bg, anon, CostQuery{Since: since})
	wantCode(t, err, provisioner.EUNAUTHORIZED)
}

// TestReconcileEndsLostStretches: a stretch left open by a crash (its
// cluster's record gone) is ended by the sweep, at the sweep's time.
func TestReconcileEndsLostStretches(t *testing.T) {
	f := costFixture(t)
	start := f.clock.Now()
	if err := f.store.StartUsage(bg, provisioner.Usage{Key: "ghost", Cluster: "ghost", Owner: "otto", Nodes: 1, Hourly: 1, Start: start}); err != nil {
		t.Fatal(err)
	}
	f.deployed(t, orgMem, "live", false) // a TTL of an hour
	f.clock.Add(30 * time.Minute)
	if err := f.app.Reconcile(bg); err != nil {
		t.Fatal(err)
	}
	u, err := f.store.ListUsage(bg, start, f.clock.Now().Add(time.Hour))
	if err != nil || len(u) != 2 {
		t.Fatalf("usage = %+v, %v", u, err)
	}
	for _, s := range u {
		switch s.Key {
		case "ghost":
			if !s.End.Equal(f.clock.Now()) {
				t.Errorf("the lost stretch = %+v", s)
			}
		case "live":
			if !s.End.IsZero() {
				t.Errorf("the live cluster's stretch was ended: %+v", s)
			}
		}
	}
}

// billed is a SpendSource with canned rows.
type billed []provisioner.SpendRow

func (b billed) Spend(_ context.Context, since, until time.Time) ([]provisioner.SpendRow, error) {
	var out []provisioner.SpendRow
	for _, r := range b {
		if !r.Day.Before(since) && r.Day.Before(until) {
			out = append(out, r)
		}
	}
	return out, nil
}

// TestBilledCosts: with a bill the report is the bill's, not the meter's,
// under the same rules of who sees what.
func TestBilledCosts(t *testing.T) {
	f := costFixture(t)
	d1, d2 := time.Date(2026, 5, 30, 0, 0, 0, 0, time.UTC), time.Date(2026, 5, 31, 0, 0, 0, 0, time.UTC)
	f.app.costs.Spend = billed{
		{Day: d1, Cluster: "c1", Owner: "otto", Amount: 5.25},
		{Day: d2, Cluster: "c1", Owner: "otto", Amount: 2.5},
		{Day: d2, Cluster: "c1", Owner: "tess", Amount: 1},
		{Day: d2, Cluster: "c2", Owner: "ada", Team: "dev", Amount: 3},
		{Day: d2, Cluster: "", Owner: "ada", Amount: 0.75},
	}
	rep, err := f.app.Costs(bg, admin, CostQuery{By: "cluster", Since: d1})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Source != SpendBilled || rep.Total != 12.5 || len(rep.Groups) != 3 || rep.Groups[0].Key != "c1" || rep.Groups[0].Total != 8.75 ||
		len(rep.Groups[0].Days) != 2 || rep.Groups[0].Days[0].Amount != 5.25 || rep.Groups[2].Key != "" {
		t.Errorf("admin = %+v", rep)
	}
	rep, err = f.app.Costs(bg, tim, CostQuery{By: "user", Since: d2})
	if err != nil || rep.Total != 3 || len(rep.Groups) != 1 || rep.Groups[0].Key != "ada" {
		t.Errorf("tim (team dev) = %+v, %v", rep, err)
	}
	rep, err = f.app.Costs(bg, orgMem, CostQuery{By: "cluster", Since: d1})
	if err != nil || rep.Total != 7.75 || len(rep.Groups) != 1 {
		t.Errorf("otto = %+v, %v", rep, err)
	}
}
