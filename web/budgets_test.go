package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"provisioner"
	"provisioner/app"
)

// withBudgets is withCosts under budgets: every user has $1.00 a month and
// a DEPLOY that does not fit is cut to what is left (shrink); the
// organization has $50 and $10 of carry-over, and refuses.
func withBudgets(sink *noticeSink) envConfig {
	ec := withCosts(sink)
	costs := ec.app
	ec.app = func(c *app.Config, issuer string) {
		costs(c, issuer)
		c.Budgets = []provisioner.Budget{
			{Scope: "org", Monthly: 50, CarryOverCap: 10, Policy: provisioner.BudgetRefuse, Grace: time.Hour, WarnAt: []int{80}},
			{Scope: "user:*", Monthly: 1, Policy: provisioner.BudgetShrink, Grace: 30 * time.Minute, WarnAt: []int{50, 80}},
		}
	}
	return ec
}

// budgetNote is the wire form of a budget's cut of the TTL.
type budgetNote struct {
	Scope    string  `json:"scope"`
	TTLAsked int     `json:"ttl_asked"`
	TTL      int     `json:"ttl"`
	Left     float64 `json:"left"`
	Message  string  `json:"message"`
}

// cutSentence is what the page says of a budget note.
func cutSentence(t *testing.T, n budgetNote) string {
	t.Helper()
	hm := func(min int) string {
		switch {
		case min >= 60 && min%60 == 0:
			return fmt.Sprintf("%dh", min/60)
		case min >= 60:
			return fmt.Sprintf("%dh%dm", min/60, min%60)
		}
		return fmt.Sprintf("%dm", min)
	}
	// The message's own account of the cut is not said twice.
	detail := strings.TrimPrefix(n.Message, fmt.Sprintf("the TTL was cut from %s to %s: ", hm(n.TTLAsked), hm(n.TTL)))
	if detail == n.Message {
		t.Fatalf("the budget note's message does not begin with the cut: %q", n.Message)
	}
	return fmt.Sprintf("Budget %s covers only %s (%s left): TTL cut from %s to %s. %s.",
		n.Scope, hm(n.TTL), dollars(n.Left), hm(n.TTLAsked), hm(n.TTL), strings.ToUpper(detail[:1])+detail[1:])
}

// TestDashboardBudgetsInChromium: a member's estimate and DEPLOY that its
// budget cuts show the cut (the API's note) as a warning; a DEPLOY the
// budget refuses shows the API's limit_exceeded; the Costs view's Budgets
// table shows the figures GET /report/budgets gives the caller; and both
// pass axe.
func TestDashboardBudgetsInChromium(t *testing.T) {
	e := newEnvWith(t, withBudgets(&noticeSink{}))
	ctx := context.Background()
	now := time.Now().UTC()
	e.clock.Set(time.Date(now.Year(), now.Month(), 1, 9, 0, 0, 0, time.UTC))
	otto, err := e.app.LoginToken(ctx, "127.0.0.1", memberToken)
	if err != nil {
		t.Fatal(err)
	}

	// What the API says of a 4-hour DEPLOY of 1 node: $1.00 covers 2h.
	deploy := map[string]any{"cluster": "demo", "node_capacity": 1, "ttl": 240, "version": "v4.5.1", "dry_run": true}
	res := e.request("POST", "/deploy", deploy, "Authorization", "Bearer "+otto.Token)
	var plan struct {
		TTL    int         `json:"ttl"`
		Budget *budgetNote `json:"budget"`
	}
	if err := json.NewDecoder(res.Body).Decode(&plan); err != nil || res.StatusCode != 200 || plan.Budget == nil {
		t.Fatalf("the dry run: %d %v %+v", res.StatusCode, err, plan)
	}
	note := *plan.Budget
	if note.Scope != "user:otto" || note.TTLAsked != 240 || note.TTL <= 0 || note.TTL >= 240 || plan.TTL != note.TTL {
		t.Fatalf("the budget note: %+v (ttl %d)", note, plan.TTL)
	}
	want := cutSentence(t, note)

	b := newBrowser(t, 1280, 900)
	b.signIn(e.srv.URL+"/", memberToken)
	b.wait(`!document.getElementById('view-clusters').hidden`)

	// The estimate: the cut in its own marked paragraph and in the notice.
	b.fill("#deploy-cluster", "demo")
	b.fill("#deploy-ttl", "240")
	b.fill("#deploy-version", "v4.5.1")
	b.click("#deploy-estimate-button")
	b.wait(`!document.getElementById('deploy-estimate').hidden`)
	if got := b.text("#deploy-estimate-budget-text"); got != want {
		t.Errorf("the estimate's budget note reads %q, want %q", got, want)
	}
	if eval[bool](b, `document.getElementById('deploy-estimate-budget').hidden`) {
		t.Error("the estimate's budget note is hidden")
	}
	if n := b.text("#notice"); !strings.Contains(n, want+" Nothing was deployed.") || !eval[bool](b, `document.getElementById('notice').classList.contains('warn')`) {
		t.Errorf("the estimate's notice (a warning): %q", n)
	}
	b.checkA11y("an estimate cut by a budget")
	b.screenshot("01-estimate-cut")

	// The DEPLOY: the cut in its notice, and the cluster kept what it says.
	b.click("#deploy-form button[type=submit]")
	b.wait(`document.getElementById('notice').textContent.includes('Deploy demo: done')`)
	if n := b.text("#notice"); !strings.Contains(n, "Deploy demo: done. "+want) || !eval[bool](b, `document.getElementById('notice').classList.contains('warn')`) {
		t.Errorf("the deploy's notice: %q, want it to say %q as a warning", n, want)
	}
	waitRunning(t, e, "demo")
	cl, err := e.store.GetCluster(ctx, "demo")
	if err != nil {
		t.Fatal(err)
	}
	if got := cl.DestroyTime().Sub(e.clock.Now()); got != time.Duration(note.TTL)*time.Minute {
		t.Errorf("demo is kept %v, the note says %d minutes", got, note.TTL)
	}

	// Nothing left: a second DEPLOY is refused with the amounts.
	b.fill("#deploy-cluster", "demo2")
	b.click("#deploy-form button[type=submit]")
	b.wait(`document.getElementById('notice').textContent.includes('Deploy demo2 failed')`)
	if n := b.text("#notice"); !strings.Contains(n, "limit_exceeded: ") || !strings.Contains(n, "the budget of user:otto has") {
		t.Errorf("a refused deploy's notice: %q", n)
	}

	// Half an hour later (spent and reserved differ): the Budgets table
	// shows what the API reports.
	e.clock.Add(30 * time.Minute)
	b.click(`#nav a[href="#costs"]`)
	b.wait(`!document.getElementById('budgets-table').hidden`)
	checkBudgets(t, b, e, otto.Token, []string{"user:otto", "org"})
	b.checkA11y("budgets")
	b.screenshot("02-budgets")

	// The administrator sees every budget, a user:* one per user it covers.
	admin := newBrowser(t, 1280, 900)
	admin.signIn(e.srv.URL+"/#costs", adminToken)
	admin.wait(`!document.getElementById('budgets-table').hidden`)
	ada, err := e.app.LoginToken(ctx, "127.0.0.1", adminToken)
	if err != nil {
		t.Fatal(err)
	}
	checkBudgets(t, admin, e, ada.Token, nil)
	b.noProblems()
	admin.noProblems()
}

// checkBudgets: the Budgets table has a row per budget of the API's
// answer to token, in its order (scopes, when given, are what it must be),
// with the API's figures.
func checkBudgets(t *testing.T, b *browser, e *env, token string, scopes []string) {
	t.Helper()
	res := e.request("GET", "/report/budgets", nil, "Authorization", "Bearer "+token)
	var rep struct {
		Month    string `json:"month"`
		Currency string `json:"currency"`
		Budgets  []struct {
			Scope       string  `json:"scope"`
			Policy      string  `json:"policy"`
			Monthly     float64 `json:"monthly"`
			Carried     float64 `json:"carried"`
			Spent       float64 `json:"spent"`
			Reserved    float64 `json:"reserved"`
			Left        float64 `json:"left"`
			UsedPercent float64 `json:"used_percent"`
			Live        int     `json:"live"`
			State       string  `json:"state"`
		} `json:"budgets"`
	}
	if err := json.NewDecoder(res.Body).Decode(&rep); err != nil || res.StatusCode != 200 {
		t.Fatalf("GET /report/budgets: %d %v", res.StatusCode, err)
	}
	var got []string
	for _, bu := range rep.Budgets {
		got = append(got, bu.Scope)
	}
	if scopes != nil && strings.Join(got, ",") != strings.Join(scopes, ",") {
		t.Fatalf("the API reports budgets %q, want %q", got, scopes)
	}
	rows := eval[[][]string](b, `Array.from(document.querySelectorAll('#budgets-body tr')).map(r => [r.dataset.scope, ...Array.from(r.cells).map(c => c.textContent)])`)
	if len(rows) != len(rep.Budgets) {
		t.Fatalf("the table has %d rows, the API %d budgets: %q", len(rows), len(rep.Budgets), rows)
	}
	spentSome := false
	for i, bu := range rep.Budgets {
		want := []string{bu.Scope, bu.Scope, bu.Policy, dollars(bu.Monthly), dollars(bu.Carried), dollars(bu.Spent),
			dollars(bu.Reserved), dollars(bu.Left), fmt.Sprintf("%.1f%%", bu.UsedPercent), fmt.Sprint(bu.Live), bu.State}
		if strings.Join(rows[i], "|") != strings.Join(want, "|") {
			t.Errorf("row %d: %q, want %q", i, rows[i], want)
		}
		spentSome = spentSome || bu.Spent > 0 && bu.Reserved > 0 && bu.Spent != bu.Reserved
	}
	if !spentSome {
		t.Errorf("no budget has spent and reserved money, different amounts: the test shows too little (%+v)", rep.Budgets)
	}
	if about := b.text("#budgets-about"); !strings.HasPrefix(about, rep.Month+" (UTC), in "+rep.Currency+".") || !strings.Contains(about, "metered") {
		t.Errorf("the budgets' month and source: %q", about)
	}
}

// TestDashboardNoBudgetsInChromium: without budgets the API answers an
// empty list, and the Costs view says so plainly (to a member, that none
// covers it), with no table.
func TestDashboardNoBudgetsInChromium(t *testing.T) {
	e := newEnvWith(t, withCosts(&noticeSink{}))
	for _, c := range []struct{ token, want string }{
		{adminToken, "No budgets are set on this provisioner"},
		{memberToken, "No budget covers you: none is set on this provisioner"},
	} {
		s, err := e.app.LoginToken(context.Background(), "127.0.0.1", c.token)
		if err != nil {
			t.Fatal(err)
		}
		res := e.request("GET", "/report/budgets", nil, "Authorization", "Bearer "+s.Token)
		body := decode(t, res)
		if list, ok := body["budgets"].([]any); res.StatusCode != 200 || !ok || len(list) != 0 {
			t.Fatalf("GET /report/budgets without budgets: %d %v", res.StatusCode, body)
		}
		b := newBrowser(t, 1280, 900)
		b.signIn(e.srv.URL+"/#costs", c.token)
		b.wait(`!document.getElementById('budgets-none').hidden`)
		if got := b.text("#budgets-none"); !strings.HasPrefix(got, c.want) {
			t.Errorf("without budgets the page says %q, want %q…", got, c.want)
		}
		if !eval[bool](b, `document.getElementById('budgets-table').hidden`) {
			t.Error("a table of no budgets is shown")
		}
		b.checkA11y("no budgets")
		b.noProblems()
	}
}
