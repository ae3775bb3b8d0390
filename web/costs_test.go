package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"provisioner"
	"provisioner/app"
	"provisioner/prices"
)

// The notice leads of withCosts: the long one is due an hour after a
// 24-hour DEPLOY, the short one is the next notice after it.
const (
	longLead  = 23 * time.Hour
	shortLead = 30 * time.Minute
)

// withCosts prices clusters with the shipped table in us-west-2, meters
// them into the store (the embedded backend's spend), and sends notices
// before destroys to sink, with links to the dashboard.
func withCosts(sink *noticeSink) envConfig {
	return envConfig{app: func(c *app.Config, issuer string) {
		c.Costs = app.CostConfig{Prices: prices.NewBook(prices.Shipped(), prices.Options{}),
			Layout: provisioner.DefaultLayout("us-west-2"), Usage: c.Store.(provisioner.UsageStore)}
		c.Notices = app.NoticeConfig{Sinks: []provisioner.NoticeSink{sink}, Leads: []time.Duration{longLead, shortLead}, DashboardURL: issuer}
	}}
}

// listEstimates adds to each cluster of GET /clusters its estimated cost
// until its destroy time, which the API gives only in the answers of
// DEPLOY and EXTEND: the cards show one when the list has it.
func listEstimates(e *env, api http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "GET" || r.URL.Path != "/clusters" {
			api.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, r)
		var list struct {
			Status   string           `json:"status"`
			Clusters []map[string]any `json:"clusters"`
		}
		if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &list) != nil {
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
			return
		}
		for _, c := range list.Clusters {
			if cl, err := e.store.GetCluster(r.Context(), c["cluster"].(string)); err == nil {
				if est := e.app.ClusterEstimate(r.Context(), cl); est != nil {
					c["estimated_cost"] = est
				}
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(list)
	})
}

// noticeSink keeps the notices sent.
type noticeSink struct {
	mu   sync.Mutex
	sent []provisioner.Notice
}

func (s *noticeSink) Name() string { return "test" }

func (s *noticeSink) Send(_ context.Context, n provisioner.Notice) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, n)
	return nil
}

func (s *noticeSink) about(cluster string) (provisioner.Notice, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.sent {
		if n.Cluster == cluster {
			return n, true
		}
	}
	return provisioner.Notice{}, false
}

// dollars is an amount as the page (and the CLI) writes it.
func dollars(v float64) string {
	if v != 0 && math.Abs(v) < 1 {
		return fmt.Sprintf("$%.4f", v)
	}
	return fmt.Sprintf("$%.2f", v)
}

// TestDashboardCostsInChromium: the estimate of the deploy form (a dry
// run: shown part by part, nothing deployed, a refused one shown as the
// API's error), the deploy's answer with its estimate, the spend metered
// on the embedded backend as the injected clock moves, shown by cluster,
// user and team with its source and a bar per day, the next notice on a
// card, and a notice's link to a cluster scrolling to its card.
func TestDashboardCostsInChromium(t *testing.T) {
	sink := &noticeSink{}
	ec := withCosts(sink)
	ec.api = listEstimates
	e := newEnvWith(t, ec)
	ctx := context.Background()
	// 09:00 on the first of this month: the report's default window
	// (this month) holds the next 20 hours, over two UTC days.
	now := time.Now().UTC()
	t0 := time.Date(now.Year(), now.Month(), 1, 9, 0, 0, 0, time.UTC)
	e.clock.Set(t0)

	b := newBrowser(t, 1280, 900)
	b.signIn(e.srv.URL+"/", adminToken)
	b.wait(`!document.getElementById('view-clusters').hidden`)

	// The estimate before the deploy: DEPLOY's dry run, part by part.
	want, err := e.app.EstimateCluster(ctx, 2, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	summary := fmt.Sprintf("%s an hour, %s for 24h (2 nodes, us-west-2, prices of %s)", dollars(want.Hourly), dollars(want.Total), want.PricesAsOf)
	b.fill("#deploy-cluster", "demo")
	b.fill("#deploy-nodes", "2")
	b.fill("#deploy-ttl", "1440")
	b.fill("#deploy-version", "v4.5.1")
	b.click("#deploy-estimate-button")
	b.wait(`!document.getElementById('deploy-estimate').hidden`)
	if got := b.text("#deploy-estimate-summary"); got != summary {
		t.Errorf("the estimate reads %q, want %q", got, summary)
	}
	if h := b.text("#deploy-estimate-h"); h != "Estimated cost of demo (absent now)" {
		t.Errorf("the estimate's heading: %q", h)
	}
	fixed := 0
	for _, l := range want.Lines {
		if l.Fixed {
			fixed++
		}
	}
	rows := eval[[]string](b, `Array.from(document.querySelectorAll('#deploy-estimate-lines tr')).map(r => r.className + ' ' + r.cells[0].textContent + ' ' + r.cells[6].textContent)`)
	if len(rows) != len(want.Lines) {
		t.Fatalf("the estimate shows %d parts, want %d: %q", len(rows), len(want.Lines), rows)
	}
	for i, l := range want.Lines { // the fixed parts first, as the API lists them
		if w := fmt.Sprintf("%s %s %s", map[bool]string{true: "fixed", false: "per-node"}[l.Fixed], l.Part, dollars(l.Hourly)); rows[i] != w {
			t.Errorf("part %d: %q, want %q", i, rows[i], w)
		}
		if l.Fixed != (i < fixed) {
			t.Errorf("part %d (%s): the fixed parts are not listed first", i, l.Part)
		}
	}
	if n := b.text("#deploy-estimate-note"); !strings.Contains(n, "Fixed parts "+dollars(want.FixedHourly)+" an hour") ||
		!strings.Contains(n, want.Excludes) || !strings.Contains(n, "Nothing was deployed") {
		t.Errorf("the estimate's note: %q", n)
	}
	if n := b.text("#notice"); !strings.Contains(n, "Estimate for demo: "+summary+". Nothing was deployed.") {
		t.Errorf("notice after the estimate: %q", n)
	}
	if _, err := e.store.GetCluster(ctx, "demo"); provisioner.ErrorCode(err) != provisioner.ENOTFOUND {
		t.Fatalf("the estimate deployed demo: %v", err)
	}
	b.checkA11y("clusters with an estimate")
	b.screenshot("01-estimate")

	// A change makes the estimate stale; one the API refuses is its error.
	b.fill("#deploy-nodes", "9999")
	b.wait(`document.getElementById('deploy-estimate').hidden`)
	b.click("#deploy-estimate-button")
	b.wait(`document.getElementById('notice').textContent.includes('Estimate for demo failed')`)
	if n := b.text("#notice"); !strings.Contains(n, "invalid_request: node_capacity") {
		t.Errorf("a refused estimate: %q", n)
	}
	if !eval[bool](b, `document.getElementById('deploy-estimate').hidden`) {
		t.Error("a refused estimate shows an estimate")
	}
	dryRuns := 0
	for _, r := range e.requests() {
		if r.method == "POST" && r.path == "/deploy" {
			dryRuns++
		}
	}
	if dryRuns != 2 {
		t.Errorf("%d POST /deploy for two estimates", dryRuns)
	}
	if _, err := e.store.GetCluster(ctx, "demo"); provisioner.ErrorCode(err) != provisioner.ENOTFOUND {
		t.Fatalf("an estimate deployed demo: %v", err)
	}

	// The DEPLOY, whose answer carries the same estimate.
	b.fill("#deploy-nodes", "2")
	b.click("#deploy-form button[type=submit]")
	b.wait(`document.getElementById('notice').textContent.includes('Deploy demo: done')`)
	if n := b.text("#notice"); !strings.Contains(n, "Estimated cost until its destroy time: "+summary+"; not included: "+want.Excludes) {
		t.Errorf("the deploy's notice: %q", n)
	}

	// otto's cluster, through the API; then 20 hours on the server's clock.
	otto, err := e.app.LoginToken(ctx, "127.0.0.1", memberToken)
	if err != nil {
		t.Fatal(err)
	}
	ada, err := e.app.LoginToken(ctx, "127.0.0.1", adminToken)
	if err != nil {
		t.Fatal(err)
	}
	if res := e.request("POST", "/deploy", map[string]any{"cluster": "otto-c", "node_capacity": 1, "ttl": 1440, "version": "v4.5.1"},
		"Authorization", "Bearer "+otto.Token); res.StatusCode != 200 && res.StatusCode != 202 {
		t.Fatalf("deploy otto-c: %d", res.StatusCode)
	}
	for _, name := range []string{"demo", "otto-c"} {
		waitRunning(t, e, name)
	}
	e.clock.Add(20 * time.Hour)

	// The cost view: what was metered, by cluster.
	b.click(`#nav a[href="#costs"]`)
	b.wait(`document.querySelectorAll('#costs-body tr').length > 1`)
	if since := eval[string](b, `document.getElementById('costs-since').value`); since != t0.Format(time.DateOnly) {
		t.Errorf("the window starts %s, want this month's first day %s", since, t0.Format(time.DateOnly))
	}
	one, err := e.app.EstimateCluster(ctx, 1, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	hours := e.clock.Now().Sub(t0).Hours()
	checkCosts(t, b, e, ada.Token, "cluster", map[string]float64{"demo": want.Hourly * hours, "otto-c": one.Hourly * hours})
	about := b.text("#costs-about")
	if !strings.Contains(about, "since "+t0.Format(time.DateOnly)) || !strings.Contains(about, "metered") {
		t.Errorf("the report's source and window: %q", about)
	}
	// A bar per day of the window: 15 hours on the first, 5 on the second.
	bars := eval[[]string](b, `Array.from(document.querySelectorAll('#costs-chart rect.bar')).map(r => r.dataset.day + '=' + r.dataset.amount)`)
	if len(bars) != 2 {
		t.Fatalf("the chart has %d bars, want one per day: %q", len(bars), bars)
	}
	for i, h := range []float64{15, 5} {
		var day string
		var amount float64
		if _, err := fmt.Sscanf(strings.Replace(bars[i], "=", " ", 1), "%s %g", &day, &amount); err != nil {
			t.Fatal(err)
		}
		wantDay := t0.AddDate(0, 0, i).Format(time.DateOnly)
		if wantAmount := (want.Hourly + one.Hourly) * h; day != wantDay || math.Abs(amount-wantAmount) > 1e-4 {
			t.Errorf("bar %d: %s %v, want %s %v", i, day, amount, wantDay, wantAmount)
		}
	}
	b.checkA11y("costs")
	b.screenshot("02-costs")

	// One cluster's days; then by user and by team.
	eval[chromedp.Void](b, `(() => { const s = document.getElementById('costs-chart-of');
		s.value = Array.from(s.options).find(o => o.text === 'otto-c').value; s.dispatchEvent(new Event('change')); })()`)
	b.wait(`document.getElementById('cc-title').textContent === 'Daily spend of otto-c'`)
	if got := eval[float64](b, `Array.from(document.querySelectorAll('#costs-chart rect.bar')).reduce((n, r) => n + Number(r.dataset.amount), 0)`); math.Abs(got-one.Hourly*hours) > 1e-4 {
		t.Errorf("otto-c's bars add up to %v, want %v", got, one.Hourly*hours)
	}
	eval[chromedp.Void](b, `document.getElementById('costs-by').value = 'user'`)
	b.click("#costs-form button[type=submit]")
	b.wait(`document.getElementById('costs-key-h').textContent === 'User'`)
	checkCosts(t, b, e, ada.Token, "user", map[string]float64{"ada": want.Hourly * hours, "otto": one.Hourly * hours})
	eval[chromedp.Void](b, `document.getElementById('costs-by').value = 'team'`)
	b.click("#costs-form button[type=submit]")
	b.wait(`document.getElementById('costs-key-h').textContent === 'Team'`)
	checkCosts(t, b, e, ada.Token, "team", map[string]float64{"": (want.Hourly + one.Hourly) * hours})
	if got := b.text(`#costs-body tr[data-key=""] td`); got != "— no team" {
		t.Errorf("the spend of no team is labelled %q", got)
	}
	// A window the API refuses: its error, and no stale figures.
	eval[chromedp.Void](b, `document.getElementById('costs-since').value = `+jsString(e.clock.Now().AddDate(0, 0, 3).Format(time.DateOnly)))
	b.click("#costs-form button[type=submit]")
	b.wait(`document.getElementById('notice').textContent.includes('Costs: invalid_request')`)
	if !eval[bool](b, `document.getElementById('costs-table').hidden && document.getElementById('costs-figure').hidden`) {
		t.Error("a refused report leaves figures on the page")
	}

	// A member sees its own spend only, as the API answers.
	member := newBrowser(t, 1280, 900)
	member.signIn(e.srv.URL+"/#costs", memberToken)
	member.wait(`document.querySelectorAll('#costs-body tr').length > 0`)
	if keys := eval[[]string](member, `Array.from(document.querySelectorAll('#costs-body tr[data-key]')).map(r => r.dataset.key)`); len(keys) != 1 || keys[0] != "otto-c" {
		t.Errorf("otto sees the spend of %q, want otto-c's alone", keys)
	}
	member.noProblems()

	// The next notice on the cards, and a notice's link to a cluster.
	for i := range 8 { // enough cards that otto-c is off screen
		name := fmt.Sprintf("c%d", i)
		if res := e.request("POST", "/deploy", map[string]any{"cluster": name, "node_capacity": 1, "ttl": 600, "version": "v4.5.1"},
			"Authorization", "Bearer "+ada.Token); res.StatusCode != 200 && res.StatusCode != 202 {
			t.Fatalf("deploy %s: %d", name, res.StatusCode)
		}
		waitRunning(t, e, name)
	}
	cl, err := e.store.GetCluster(ctx, "otto-c")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.app.FireDestroy(ctx, provisioner.NoticeKey("otto-c", longLead), cl.DestroyTime().Add(-longLead)); err != nil {
		t.Fatal(err)
	}
	var n provisioner.Notice
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var ok bool
		if n, ok = sink.about("otto-c"); ok {
			break
		} else if time.Now().After(deadline) {
			t.Fatal("no notice sent before otto-c's destroy")
		}
	}
	if n.URL != e.srv.URL+"/#/clusters/otto-c" {
		t.Fatalf("the notice links to %q", n.URL)
	}
	b.run(chromedp.Navigate("about:blank")) // the link opens the page anew
	b.run(chromedp.Navigate(n.URL))
	b.wait(`document.querySelector('li[data-cluster="otto-c"].linked')`)
	b.wait(`document.activeElement === document.querySelector('li[data-cluster="otto-c"] h2')`)
	if !eval[bool](b, `(() => { const r = document.querySelector('li[data-cluster="otto-c"]').getBoundingClientRect();
		return window.scrollY > 0 && r.top >= 0 && r.bottom <= window.innerHeight; })()`) {
		t.Error("the linked card is not scrolled into view")
	}
	if !eval[bool](b, `document.querySelector('#nav a[href="#clusters"]').getAttribute('aria-current') === 'page'`) {
		t.Error("a cluster's link does not show the clusters section")
	}
	if got := eval[[]string](b, `Array.from(document.querySelectorAll('li.linked[aria-current="true"]')).map(l => l.dataset.cluster)`); len(got) != 1 {
		t.Errorf("marked cards: %q", got)
	}
	next := e.app.NextNotice(cl)
	if next.IsZero() || !next.Equal(cl.DestroyTime().Add(-shortLead)) {
		t.Fatalf("otto-c's next notice: %v", next)
	}
	if got := b.text(`li[data-cluster="otto-c"] .next-notice`); got != next.Format("2006-01-02 15:04:05")+" UTC" {
		t.Errorf("the card's next notice reads %q, want %s", got, next)
	}
	est := e.app.ClusterEstimate(ctx, cl)
	if est == nil || est.Hours != 4 {
		t.Fatalf("otto-c's estimate until its destroy: %+v", est)
	}
	if got, want := b.text(`li[data-cluster="otto-c"] .estimated`), dollars(est.Total)+" until destroyed ("+dollars(est.Hourly)+" an hour)"; got != want {
		t.Errorf("the card's estimate reads %q, want %q", got, want)
	}
	b.checkA11y("a linked cluster")
	b.screenshot("03-linked")

	// From another section, and a cluster the list does not have.
	b.click(`#nav a[href="#jobs"]`)
	b.wait(`!document.getElementById('view-jobs').hidden`)
	eval[chromedp.Void](b, `location.hash = '#/clusters/demo'`)
	b.wait(`document.querySelector('li[data-cluster="demo"].linked') && !document.querySelector('li[data-cluster="otto-c"].linked')`)
	b.wait(`document.activeElement === document.querySelector('li[data-cluster="demo"] h2')`)
	eval[chromedp.Void](b, `location.hash = '#/clusters/nope'`)
	b.wait(`document.getElementById('notice').textContent.includes('No cluster nope')`)
	if eval[int](b, `document.querySelectorAll('li.linked').length`) != 0 {
		t.Error("a card is still marked for a missing cluster")
	}
	eval[chromedp.Void](b, `location.hash = '#clusters'`)
	b.noProblems()
}

// checkCosts: the table shows, for each group, the API's total, which is
// what it was metered at (within rounding), and the API's total in all.
func checkCosts(t *testing.T, b *browser, e *env, token, by string, want map[string]float64) {
	t.Helper()
	res := e.request("GET", "/report/costs?by="+by, nil, "Authorization", "Bearer "+token)
	var rep struct {
		Total  float64 `json:"total"`
		Source string  `json:"source"`
		Groups []struct {
			Key   string  `json:"key"`
			Total float64 `json:"total"`
		} `json:"groups"`
	}
	if err := json.NewDecoder(res.Body).Decode(&rep); err != nil || res.StatusCode != 200 {
		t.Fatalf("GET /report/costs?by=%s: %d %v", by, res.StatusCode, err)
	}
	if rep.Source != "metered" || len(rep.Groups) != len(want) {
		t.Fatalf("by %s: %+v, want %v", by, rep, want)
	}
	shown := eval[map[string]string](b, `Object.fromEntries(Array.from(document.querySelectorAll('#costs-body tr')).map(r => [r.dataset.key === undefined ? '*total' : r.dataset.key, r.cells[1].textContent]))`)
	if len(shown) != len(want)+1 {
		t.Errorf("by %s: the table has %v", by, shown)
	}
	for _, g := range rep.Groups {
		if w, ok := want[g.Key]; !ok || math.Abs(g.Total-w) > 1e-4 {
			t.Errorf("by %s: %q was metered at %v, want %v", by, g.Key, g.Total, w)
		}
		if shown[g.Key] != dollars(g.Total) {
			t.Errorf("by %s: %q shows %q, the API says %v", by, g.Key, shown[g.Key], g.Total)
		}
	}
	if shown["*total"] != dollars(rep.Total) {
		t.Errorf("by %s: the total shows %q, the API says %v", by, shown["*total"], rep.Total)
	}
}

func waitRunning(t *testing.T, e *env, name string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if cl, err := e.store.GetCluster(context.Background(), name); err == nil && cl.State == provisioner.StateRunning {
			return
		} else if time.Now().After(deadline) {
			t.Fatalf("%s: %+v %v", name, cl, err)
		}
	}
}
