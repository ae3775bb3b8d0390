package http_test

import (
	"testing"
	"time"

	"provisioner"
	"provisioner/app"
	phttp "provisioner/http"
	"provisioner/prices"
	"provisioner/testkit"
)

// withCosts prices with the shipped table in us-west-2, meters into the
// store, and runs the app on clock.
func withCosts(clock *testkit.Clock) func(*app.Config, *phttp.Config) {
	return func(a *app.Config, _ *phttp.Config) {
		a.Now = clock.Now
		a.Costs = app.CostConfig{Prices: prices.NewBook(prices.Shipped(), prices.Options{}),
			Layout: provisioner.DefaultLayout("us-west-2"), Usage: a.Store.(provisioner.UsageStore)}
	}
}

func estimate(t *testing.T, r resp) map[string]any {
	t.Helper()
	e, _ := r.body["estimated_cost"].(map[string]any)
	if e == nil {
		t.Fatalf("no estimated_cost: %d %s", r.status, r.raw)
	}
	return e
}

// TestEstimatesInAnswers: DEPLOY, EXTEND and node groups answer their
// estimated cost (hand figures of the shipped us-west-2 prices: a cluster
// of 2 nodes 0.772723 an hour, a node 0.275814), a dry run answers it
// and deploys nothing; every answer is checked against the spec.
func TestEstimatesInAnswers(t *testing.T) {
	clock := testkit.NewClock(time.Now().UTC().Truncate(time.Hour))
	e := newEnv(t, withCosts(clock))
	org := e.login("tok-org")

	r := e.do("POST", "/deploy", org, map[string]any{"cluster": "c1", "node_capacity": 2, "ttl": 120, "dry_run": true})
	if r.status != 200 || r.body["dry_run"] != true || r.str("state") != "absent" || r.body["ttl"] != 120.0 {
		t.Fatalf("dry run: %d %s", r.status, r.raw)
	}
	if est := estimate(t, r); est["hourly"] != 0.772723 || est["total"] != 1.545445 || est["hours"] != 2.0 || est["fixed_hourly"] != 0.221095 {
		t.Errorf("dry run estimate: %s", r.raw)
	}
	if s := e.do("POST", "/status", org, map[string]string{"cluster": "c1"}); s.str("state") != "absent" {
		t.Fatalf("a dry run deployed: %s", s.raw)
	}
	// A dry run is checked as DEPLOY is.
	wantError(t, e.do("POST", "/deploy", org, map[string]any{"cluster": "c1", "node_capacity": 50, "dry_run": true}), 403, provisioner.ELIMIT)
	wantError(t, e.do("POST", "/deploy", org, map[string]any{"cluster": "Bad", "node_capacity": 1, "dry_run": true}), 400, provisioner.EINVALID)
	wantError(t, e.do("POST", "/deploy", org, map[string]any{"cluster": "c1", "node_capacity": 1, "dry_run": "yes"}), 400, provisioner.EINVALID)

	// DEPLOY: the 202 (or 200) carries the estimate of the TTL asked.
	r = e.do("POST", "/deploy", org, map[string]any{"cluster": "c1", "node_capacity": 2, "ttl": 120})
	if est := estimate(t, r); est["total"] != 1.545445 || est["nodes"] != 2.0 {
		t.Errorf("deploy estimate: %s", r.raw)
	}
	e.settle(r, org)
	r = e.do("POST", "/extend", org, map[string]any{"cluster": "c1", "ttl": 60})
	if est := estimate(t, r); r.status != 200 || est["hours"] != 1.0 || est["total"] != 0.772723 {
		t.Errorf("extend estimate: %s", r.raw)
	}
	// STATUS has none: only the answers that set the cost.
	if s := e.do("POST", "/status", org, map[string]string{"cluster": "c1"}); s.body["estimated_cost"] != nil {
		t.Errorf("status carries an estimate: %s", s.raw)
	}

	// A node group: its nodes alone.
	r = e.do("POST", "/deploy/otto", org, map[string]any{"cluster": "c1", "node_capacity": 3, "ttl": 90, "dry_run": true})
	if est := estimate(t, r); r.status != 200 || r.str("user") != "otto" || est["total"] != 1.241162 {
		t.Errorf("group dry run: %d %s", r.status, r.raw)
	}
	if s := e.do("POST", "/status/otto", org, map[string]string{"cluster": "c1"}); s.str("state") != "absent" {
		t.Fatalf("a group's dry run deployed it: %s", s.raw)
	}
	r = e.do("POST", "/deploy/otto", org, map[string]any{"cluster": "c1", "node_capacity": 3, "ttl": 90})
	if est := estimate(t, r); est["hourly"] != 0.827441 {
		t.Errorf("group deploy estimate: %s", r.raw)
	}
	e.settle(r, org)
	r = e.do("POST", "/extend/otto", org, map[string]any{"cluster": "c1", "ttl": 30})
	if est := estimate(t, r); est["total"] != 0.413721 {
		t.Errorf("group extend estimate: %s", r.raw)
	}
}

// TestCostReportAPI: the metered spend through GET /report/costs on the
// test clock, who sees what, and the refusals.
func TestCostReportAPI(t *testing.T) {
	start := time.Now().UTC().Truncate(24 * time.Hour).Add(time.Hour)
	clock := testkit.NewClock(start)
	e := newEnv(t, withCosts(clock))
	org, admin, guest := e.login("tok-org"), e.login("tok-admin"), e.login("tok-member")
	e.settle(e.do("POST", "/deploy", org, map[string]any{"cluster": "c1", "node_capacity": 2, "ttl": 240}), org)
	clock.Add(2 * time.Hour)
	day := start.Format(time.DateOnly)

	r := e.do("GET", "/report/costs?by=cluster&since="+day, admin, nil)
	groups, _ := r.body["groups"].([]any)
	if r.status != 200 || r.str("source") != "metered" || r.str("since") != day || r.body["total"] != 1.545446 || len(groups) != 1 {
		t.Fatalf("admin: %d %s", r.status, r.raw)
	}
	if g := groups[0].(map[string]any); g["key"] != "c1" || len(g["days"].([]any)) != 1 {
		t.Errorf("group: %s", r.raw)
	}
	if r = e.do("GET", "/report/costs?by=user&since="+start.Format(time.RFC3339), org, nil); r.status != 200 || r.body["total"] != 1.545446 {
		t.Errorf("owner by user: %d %s", r.status, r.raw)
	}
	if r = e.do("GET", "/report/costs", guest, nil); r.status != 200 || r.body["total"] != 0.0 || len(r.body["groups"].([]any)) != 0 {
		t.Errorf("a member who owns nothing: %d %s", r.status, r.raw)
	}
	wantError(t, e.do("GET", "/report/costs?by=zone", admin, nil), 400, provisioner.EINVALID)
	wantError(t, e.do("GET", "/report/costs?since=last-week", admin, nil), 400, provisioner.EINVALID)
	wantError(t, e.do("GET", "/report/costs?since="+start.AddDate(0, 0, 2).Format(time.DateOnly), admin, nil), 400, provisioner.EINVALID)
	wantError(t, e.do("GET", "/report/costs?since=2000-01-01", admin, nil), 400, provisioner.EINVALID)
	wantError(t, e.do("GET", "/report/costs", "", nil), 401, provisioner.EUNAUTHORIZED)
}

// TestNoPrices: without a price table answers carry no estimate, a dry
// run is unavailable, and so is the spend report without a meter.
func TestNoPrices(t *testing.T) {
	e := newEnv(t)
	org := e.login("tok-org")
	r := e.do("POST", "/deploy", org, map[string]any{"cluster": "c1", "node_capacity": 1, "ttl": 30})
	if r.body["estimated_cost"] != nil {
		t.Errorf("estimate without prices: %s", r.raw)
	}
	wantError(t, e.do("POST", "/deploy", org, map[string]any{"cluster": "c2", "node_capacity": 1, "dry_run": true}), 503, provisioner.EUNAVAILABLE)
	wantError(t, e.do("GET", "/report/costs", org, nil), 503, provisioner.EUNAVAILABLE)
}
