package http_test

import (
	"strings"
	"testing"
	"time"

	"provisioner"
	"provisioner/app"
	phttp "provisioner/http"
	"provisioner/testkit"
)

// withBudgets is withCosts under budgets.
func withBudgets(clock *testkit.Clock, budgets ...provisioner.Budget) func(*app.Config, *phttp.Config) {
	costs := withCosts(clock)
	return func(a *app.Config, h *phttp.Config) {
		costs(a, h)
		a.Budgets = budgets
	}
}

// TestBudgetsAPI: what a user sees when a budget shrinks a DEPLOY (the
// answer's budget note, as in its dry run and an EXTEND's), refuses one
// (403 limit_exceeded with the amounts), and GET /report/budgets; every
// answer is checked against the spec.
func TestBudgetsAPI(t *testing.T) {
	// Mid-month, so that the hours below stay in one month.
	clock := testkit.NewClock(time.Date(2026, 6, 15, 10, 0, 0, 0, time.UTC))
	each := provisioner.Budget{Scope: "user:*", Monthly: 1, Policy: provisioner.BudgetShrink, Grace: time.Hour, WarnAt: []int{80}}
	org := provisioner.Budget{Scope: "org", Monthly: 100, Policy: provisioner.BudgetRefuse, AdminsExempt: true, Grace: 2 * time.Hour}
	e := newEnv(t, withBudgets(clock, each, org))
	otto, ada, mia := e.login("tok-org"), e.login("tok-admin"), e.login("tok-member")

	// 4 hours of 1 node (1.99) asked; 1.00 covers 2h0m.
	r := e.do("POST", "/deploy", otto, map[string]any{"cluster": "c1", "node_capacity": 1, "ttl": 240, "dry_run": true})
	b, _ := r.body["budget"].(map[string]any)
	if r.status != 200 || r.body["ttl"] != 120.0 || b == nil || b["ttl_asked"] != 240.0 || b["scope"] != "user:otto" {
		t.Fatalf("dry run: %d %s", r.status, r.raw)
	}
	r = e.do("POST", "/deploy", otto, map[string]any{"cluster": "c1", "node_capacity": 1, "ttl": 240})
	b, _ = r.body["budget"].(map[string]any)
	if b == nil || b["ttl"] != 120.0 || b["left"] != 1.0 || !strings.Contains(b["message"].(string), "cut from 4h to 2h") {
		t.Fatalf("deploy: %d %s", r.status, r.raw)
	}
	if est := estimate(t, r); est["hours"] != 2.0 {
		t.Errorf("the estimate is not of the TTL granted: %s", r.raw)
	}
	e.settle(r, otto)
	if s := e.do("POST", "/status", otto, map[string]string{"cluster": "c1"}); s.str("expires_at") != clock.Now().Add(2*time.Hour).Format(time.RFC3339) {
		t.Fatalf("status: %s", s.raw)
	}
	// Nothing left for another: refused, with the amounts.
	r = e.do("POST", "/deploy", otto, map[string]any{"cluster": "c2", "node_capacity": 1, "ttl": 60})
	wantError(t, r, 403, provisioner.ELIMIT)
	if d := r.str("error_description"); !strings.Contains(d, "user:otto has $0.01 left") || !strings.Contains(d, "estimated at $0.50") {
		t.Fatalf("refusal: %s", r.raw)
	}
	// An hour on, an EXTEND to 3 hours gets what half the budget covers.
	clock.Add(time.Hour)
	if r = e.do("POST", "/extend", otto, map[string]any{"cluster": "c1", "ttl": 30}); r.status != 200 || r.body["budget"] != nil {
		t.Fatalf("a shorter EXTEND: %d %s", r.status, r.raw)
	}
	r = e.do("POST", "/extend", otto, map[string]any{"cluster": "c1", "ttl": 180})
	if b, _ = r.body["budget"].(map[string]any); r.status != 200 || b == nil || b["ttl"] != 60.0 || b["ttl_asked"] != 180.0 {
		t.Fatalf("extend: %d %s", r.status, r.raw)
	}
	r = e.do("POST", "/schedule_destroy", otto, map[string]any{"cluster": "c1", "time": clock.Now().Add(5 * time.Hour).Format(time.RFC3339)})
	wantError(t, r, 403, provisioner.ELIMIT)

	// The report: otto sees his own and the organization's.
	r = e.do("GET", "/report/budgets", otto, nil)
	list, _ := r.body["budgets"].([]any)
	if r.status != 200 || len(list) != 2 || r.str("source") != "metered" || r.str("month") != clock.Now().Format("2006-01") {
		t.Fatalf("report: %d %s", r.status, r.raw)
	}
	mine := list[0].(map[string]any)
	if mine["scope"] != "user:otto" || mine["policy"] != "shrink" || mine["spent"] != 0.496909 || mine["left"].(float64) > 0.01 ||
		mine["state"] != "warning" || mine["live"] != 1.0 || mine["grace"] != 60.0 {
		t.Fatalf("otto's budget: %v", mine)
	}
	// mia's own has nothing spent; the administrator sees every budget.
	r = e.do("GET", "/report/budgets", mia, nil)
	if list, _ = r.body["budgets"].([]any); len(list) != 2 || list[0].(map[string]any)["scope"] != "user:mia" || list[0].(map[string]any)["state"] != "ok" {
		t.Fatalf("mia's report: %s", r.raw)
	}
	r = e.do("GET", "/report/budgets", ada, nil)
	if list, _ = r.body["budgets"].([]any); len(list) != 2 || list[0].(map[string]any)["scope"] != "org" || list[1].(map[string]any)["scope"] != "user:otto" {
		t.Fatalf("the administrator's report: %s", r.raw)
	}
	wantError(t, e.do("GET", "/report/budgets", "", nil), 401, provisioner.EUNAUTHORIZED)

	// Without budgets, an empty report.
	f := newEnv(t, withCosts(clock))
	if r = f.do("GET", "/report/budgets", f.login("tok-org"), nil); r.status != 200 || len(r.body["budgets"].([]any)) != 0 {
		t.Fatalf("no budgets: %s", r.raw)
	}
}

// TestBudgetsGroupAPI: a budget that shrinks a node group's DEPLOY and
// EXTEND says so in the answers (checked against the spec), as for a
// cluster.
func TestBudgetsGroupAPI(t *testing.T) {
	clock := testkit.NewClock(time.Date(2026, 6, 15, 10, 0, 0, 0, time.UTC))
	each := provisioner.Budget{Scope: "user:*", Monthly: 1, Policy: provisioner.BudgetShrink, Grace: time.Hour, WarnAt: []int{80}}
	e := newEnv(t, withBudgets(clock, each))
	otto, ada := e.login("tok-org"), e.login("tok-admin")
	e.settle(e.do("POST", "/deploy", ada, map[string]any{"cluster": "pub", "is_public": true, "node_capacity": 1, "ttl": 60}), ada)

	// 4 hours of a group of 1 node (1.10) asked; 1.00 covers 3h37m.
	r := e.do("POST", "/deploy/otto", otto, map[string]any{"cluster": "pub", "node_capacity": 1, "ttl": 240})
	b, _ := r.body["budget"].(map[string]any)
	if r.status != 202 || b == nil || b["ttl"] != 217.0 || b["ttl_asked"] != 240.0 || b["scope"] != "user:otto" ||
		!strings.Contains(b["message"].(string), "cut from 4h to 3h37m") {
		t.Fatalf("group deploy: %d %s", r.status, r.raw)
	}
	if est := estimate(t, r); est["hours"] != 3.616667 {
		t.Errorf("the estimate is not of the TTL granted: %s", r.raw)
	}
	e.settle(r, otto)
	// An EXTEND within the budget carries no note; one beyond it is cut.
	clock.Add(time.Hour)
	if r = e.do("POST", "/extend/otto", otto, map[string]any{"cluster": "pub", "ttl": 30}); r.status != 200 || r.body["budget"] != nil {
		t.Fatalf("short extend: %d %s", r.status, r.raw)
	}
	r = e.do("POST", "/extend/otto", otto, map[string]any{"cluster": "pub", "ttl": 240})
	if b, _ = r.body["budget"].(map[string]any); r.status != 200 || b == nil || b["ttl_asked"] != 240.0 || b["ttl"] == 240.0 {
		t.Fatalf("group extend: %d %s", r.status, r.raw)
	}
}
