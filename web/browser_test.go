package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"provisioner"
	"provisioner/web"
)

// The browser tests drive the page in Debian's Chromium through the
// DevTools protocol (chromedp). PROVISIONER_TEST_CHROMIUM names the
// binary (else chromium on PATH), PROVISIONER_TEST_AXE axe-core's
// axe.min.js, PROVISIONER_TEST_ARTIFACTS where screenshots go (else a
// temporary directory). Without Chromium or axe-core the tests skip,
// unless CI=true, where they fail. scripts/test.sh installs both.

func ci() bool { return os.Getenv("CI") == "true" }

func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("PROVISIONER_TEST_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if ci() {
		t.Fatal("no Chromium (PROVISIONER_TEST_CHROMIUM, or chromium on PATH): scripts/test.sh installs Debian's chromium")
	}
	t.Skip("no Chromium: set PROVISIONER_TEST_CHROMIUM or install Debian's chromium")
	return ""
}

func axeSource(t *testing.T) string {
	t.Helper()
	p := os.Getenv("PROVISIONER_TEST_AXE")
	if p == "" {
		if ci() {
			t.Fatal("no axe-core: PROVISIONER_TEST_AXE must name axe.min.js (scripts/test.sh fetches it)")
		}
		t.Skip("no axe-core: set PROVISIONER_TEST_AXE to axe.min.js")
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("PROVISIONER_TEST_AXE: %v", err)
	}
	return string(b)
}

func artifacts(t *testing.T) string {
	t.Helper()
	d := os.Getenv("PROVISIONER_TEST_ARTIFACTS")
	if d == "" {
		return t.TempDir()
	}
	d = filepath.Join(d, "web", t.Name())
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

// browser is one Chromium tab and what it reported.
type browser struct {
	t   *testing.T
	ctx context.Context
	dir string
	axe string

	mu       sync.Mutex
	problems []string // exceptions, CSP violations, console errors
}

func newBrowser(t *testing.T, width, height int) *browser {
	t.Helper()
	exe := chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox, // root in CI
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.DisableGPU,
		chromedp.WindowSize(width, height),
		chromedp.Flag("lang", "en-US"),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelC(); cancelA() })
	b := &browser{t: t, ctx: ctx, dir: artifacts(t)}
	// The first Run starts the browser; it must not carry a timeout.
	if err := chromedp.Listen(ctx, b.listen); err != nil {
		t.Fatalf("starting Chromium %s: %v", exe, err)
	}
	if _, err := chromedp.Call(ctx, log.Enable, struct{}{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, runtime.Enable, struct{}{}); err != nil {
		t.Fatal(err)
	}
	return b
}

func (b *browser) listen(ev any) {
	var p string
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		p = "exception: " + ev.ExceptionDetails.Text
		if ev.ExceptionDetails.Exception != nil {
			p += " " + ev.ExceptionDetails.Exception.Description
		}
	case *log.EventEntryAdded:
		e := ev.Entry
		// 4xx answers the page expects (a refused sign-in, a limit) are
		// network errors; everything else at error level is a problem.
		if e.Level == log.EntryLevelError && e.Source != log.EntrySourceNetwork {
			p = fmt.Sprintf("log %s: %s", e.Source, e.Text)
		}
		if strings.Contains(e.Text, "Content Security Policy") {
			p = "CSP: " + e.Text
		}
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError {
			p = "console.error"
		}
	}
	if p != "" {
		b.mu.Lock()
		b.problems = append(b.problems, p)
		b.mu.Unlock()
	}
}

// noProblems fails on any exception, CSP violation or console error so far.
func (b *browser) noProblems() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.problems {
		b.t.Errorf("browser: %s", p)
	}
	b.problems = nil
}

func (b *browser) run(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("browser: %v", err)
	}
}

// eval evaluates expr (awaiting a promise) into a value of type T.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", short(expr), err)
	}
	return v
}

func short(s string) string {
	if len(s) > 120 {
		return s[:120] + "…"
	}
	return s
}

// wait polls a JavaScript condition until it holds (a page update, not a
// clock: the server's clock is the test's). chromedp's own Poll builds a
// Function in the page, which the page's CSP forbids.
func (b *browser) wait(cond string) {
	b.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	expr := "!!(" + cond + ")"
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			notice, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.getElementById('notice').textContent`))
			b.t.Fatalf("waiting for %s: %v (notice: %q)", cond, err, notice)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (b *browser) click(sel string) {
	b.t.Helper()
	b.run(chromedp.Click(chromedp.CSS(sel)))
}

// fill sets an input's value as a person typing would.
// signIn opens url, which shows the sign-in view, and signs in with token
// through the token form; the caller waits for the view it expects.
func (b *browser) signIn(url, token string) {
	b.t.Helper()
	b.run(chromedp.Navigate(url))
	b.wait(`!document.getElementById('view-signin').hidden`)
	b.fill("#token", token)
	b.click("#token-form button[type=submit]")
}

func (b *browser) fill(sel, value string) {
	b.t.Helper()
	eval[chromedp.Void](b, `document.querySelector(`+jsString(sel)+`).value = ''`)
	b.run(chromedp.SendKeys(chromedp.CSS(sel), value))
}

func (b *browser) screenshot(name string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	p := filepath.Join(b.dir, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	return p
}

// axeResult is the part of axe-core's answer the test reads.
type axeResult struct {
	Violations []struct {
		ID          string `json:"id"`
		Impact      string `json:"impact"`
		Description string `json:"description"`
		Nodes       []struct {
			Target []any  `json:"target"`
			HTML   string `json:"html"`
		} `json:"nodes"`
	} `json:"violations"`
	Passes int `json:"passes"`
}

// checkA11y runs axe-core (WCAG 2.0-2.2 A and AA, best practices) on the
// page as it is and fails on serious or critical violations.
func (b *browser) checkA11y(what string) {
	b.t.Helper()
	if b.axe == "" {
		b.axe = axeSource(b.t)
	}
	if !eval[bool](b, `typeof window.axe === 'object'`) {
		eval[chromedp.Void](b, b.axe)
	}
	raw := eval[string](b, `axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']}, resultTypes: ['violations']})
		.then(r => JSON.stringify({violations: r.violations, passes: r.passes.length}))`)
	var r axeResult
	if err := json.Unmarshal([]byte(raw), &r); err != nil {
		b.t.Fatal(err)
	}
	if r.Passes == 0 {
		b.t.Fatalf("axe on %s passed no rule: it did not run", what)
	}
	for _, v := range r.Violations {
		msg := fmt.Sprintf("axe on %s: %s (%s): %s", what, v.ID, v.Impact, v.Description)
		for i, n := range v.Nodes {
			if i == 3 {
				break
			}
			msg += fmt.Sprintf("\n\t%v %s", n.Target, short(n.HTML))
		}
		if v.Impact == "serious" || v.Impact == "critical" {
			b.t.Error(msg)
		} else {
			b.t.Log(msg)
		}
	}
}

// noHorizontalScroll: nothing is wider than the viewport.
func (b *browser) noHorizontalScroll(what string) {
	b.t.Helper()
	sizes := eval[[]int](b, `[document.documentElement.scrollWidth, window.innerWidth]`)
	if sizes[0] > sizes[1] {
		wide := eval[string](b, `Array.from(document.querySelectorAll('body *')).filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5 && e.offsetParent !== null).slice(0, 5).map(e => e.tagName + '#' + e.id + '.' + e.className).join(', ')`)
		b.t.Errorf("%s: the page is %d px wide in a %d px viewport (%s)", what, sizes[0], sizes[1], wide)
	}
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	return eval[string](b, `(document.querySelector(`+jsString(sel)+`) || {textContent: ''}).textContent`)
}

func jsString(s string) string {
	j, _ := json.Marshal(s)
	return string(j)
}

// leftOf is the seconds the page shows left for a cluster.
func (b *browser) leftOf(cluster string) int {
	b.t.Helper()
	return eval[int](b, `Number(document.querySelector('li[data-cluster=`+jsString(cluster)+`] .countdown').dataset.left)`)
}

// TestDashboardInChromium is the dashboard end to end: sign in with a
// token, a cluster counting down on the server's clock, deploy, extend,
// events and destroy, a job's log followed live, the test history chart,
// the admin view, sign out, each view checked by axe-core and screenshot.
func TestDashboardInChromium(t *testing.T) {
	e := newEnvWith(t, withCosts(&noticeSink{}))
	b := newBrowser(t, 1280, 900)
	ctx := context.Background()

	// Sign in with a token.
	b.run(chromedp.Navigate(e.srv.URL + "/"))
	b.wait(`!document.getElementById('view-signin').hidden`)
	if !eval[bool](b, `document.getElementById('github-box').hidden && !document.getElementById('github-off').hidden`) {
		t.Error("the GitHub button shows without a sign-in hook")
	}
	b.checkA11y("sign-in")
	b.screenshot("01-sign-in")
	b.fill("#token", "wrong-token-123")
	b.click("#token-form button[type=submit]")
	b.wait(`document.getElementById('notice').textContent.includes('Sign-in failed')`)
	b.fill("#token", adminToken)
	b.click("#token-form button[type=submit]")
	b.wait(`!document.getElementById('view-clusters').hidden`)
	if got := b.text("#who-name"); got != "ada" {
		t.Errorf("signed in as %q", got)
	}
	if v := eval[string](b, `document.getElementById('token').value`); v != "" {
		t.Errorf("the token stays in the form: %q", v)
	}

	// The session: an HttpOnly, Secure, SameSite=Strict __Host- cookie,
	// which Chromium keeps on http://127.0.0.1; nothing in storage.
	cookies, err := chromedp.Call(b.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{e.srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	var session *network.Cookie
	for _, c := range cookies.Cookies {
		if c.Name == web.CookieName {
			session = c
		}
	}
	if session == nil || !session.HTTPOnly || !session.Secure || session.SameSite != network.CookieSameSiteStrict || session.Path != "/" {
		t.Fatalf("the session cookie in Chromium: %+v", session)
	}
	if got := eval[string](b, `document.cookie + '|' + localStorage.length + '|' + sessionStorage.length`); got != "|0|0" {
		t.Errorf("the page can see a credential: %q", got)
	}

	// Deploy a cluster through the form.
	b.wait(`document.getElementById('limits').textContent.includes('up to')`)
	b.fill("#deploy-cluster", "demo")
	b.fill("#deploy-nodes", "2")
	b.fill("#deploy-ttl", "30")
	b.fill("#deploy-version", "v4.5.1")
	b.click("#deploy-form button[type=submit]")
	b.wait(`document.querySelector('li[data-cluster="demo"] .badge.ok')`)
	b.wait(`document.querySelector('li[data-cluster="demo"] .countdown').dataset.left`)
	cl, err := e.store.GetCluster(ctx, "demo")
	if err != nil || cl.State != provisioner.StateRunning || cl.NodeCapacity != 2 || cl.CreatedBy != "ada" {
		t.Fatalf("deployed: %+v %v", cl, err)
	}
	card := b.text(`li[data-cluster="demo"]`)
	for _, want := range []string{"running", "2 of 2", "v4.5.1", "ada", cl.DestroyTime().UTC().Format("2006-01-02 15:04:05") + " UTC"} {
		if !strings.Contains(card, want) {
			t.Errorf("the card lacks %q: %s", want, card)
		}
	}

	// The countdown follows the server's clock: 30 minutes, then, with the
	// server 10 minutes later, 20.
	if left := b.leftOf("demo"); left > 30*60 || left < 30*60-10 {
		t.Errorf("just deployed: %d s left, want about 1800", left)
	}
	e.clock.Add(10 * time.Minute)
	b.click("#clusters-refresh")
	b.wait(`Number(document.querySelector('li[data-cluster="demo"] .countdown').dataset.left) <= 1200`)
	if left := b.leftOf("demo"); left < 20*60-10 {
		t.Errorf("10 minutes on: %d s left, want about 1200", left)
	}
	if got := b.text(`li[data-cluster="demo"] .countdown`); !strings.HasPrefix(got, "19m") && !strings.HasPrefix(got, "20m") {
		t.Errorf("the countdown reads %q", got)
	}
	shown, err := time.Parse("2006-01-02 15:04:05 MST", b.text("#server-time"))
	if d := shown.Sub(e.clock.Now().Truncate(time.Second)); err != nil || d < 0 || d > 5*time.Second {
		t.Errorf("server time shown %v (%v), the server's is %s", shown, err, e.clock.Now().UTC())
	}

	// EXTEND within the limits, and past them with the API's error.
	b.fill("#extend-demo", "45")
	b.click(`li[data-cluster="demo"] form[aria-label="Extend demo"] button`)
	b.wait(`Number(document.querySelector('li[data-cluster="demo"] .countdown').dataset.left) > 2400`)
	b.wait(`document.getElementById('notice').textContent.includes('Extend demo: done.')`)
	if est, err := e.app.EstimateCluster(ctx, 2, 45*time.Minute); err != nil {
		t.Fatal(err)
	} else if n, want := b.text("#notice"), fmt.Sprintf("Estimated cost until its destroy time: %s an hour, %s for 45m (2 nodes", dollars(est.Hourly), dollars(est.Total)); !strings.Contains(n, want) {
		t.Errorf("the extend's notice %q lacks %q", n, want)
	}

	// Another cluster, deployed through the API, shows on refresh.
	login, err := e.app.LoginToken(ctx, "127.0.0.1", adminToken)
	if err != nil {
		t.Fatal(err)
	}
	res := e.request("POST", "/deploy", map[string]any{"cluster": "nightly", "node_capacity": 4, "ttl": 240, "version": "v4.6.0", "is_public": true},
		"Authorization", "Bearer "+login.Token)
	if res.StatusCode != 200 && res.StatusCode != 202 {
		t.Fatalf("deploy nightly: %d", res.StatusCode)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if cl, err := e.store.GetCluster(ctx, "nightly"); err == nil && cl.State == provisioner.StateRunning {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("nightly: %+v %v", cl, err)
		}
	}
	b.click("#clusters-refresh")
	b.wait(`document.querySelector('li[data-cluster="nightly"] .badge.ok')`)

	// Events of the cluster.
	b.click(`li[data-cluster="demo"] button[aria-label="Events of demo"]`)
	b.wait(`!document.getElementById('events').hidden && document.getElementById('events-list').children.length > 1`)
	if ev := b.text("#events-list"); !strings.Contains(ev, "deploy") || !strings.Contains(ev, "by ada") {
		t.Errorf("events: %s", ev)
	}
	b.checkA11y("clusters")
	shot := b.screenshot("02-clusters")
	if os.Getenv("PROVISIONER_UPDATE_SCREENSHOT") == "1" {
		png, _ := os.ReadFile(shot)
		if err := os.WriteFile("../docs/dashboard.png", png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// SCHEDULE_DESTROY two hours from the server's now (the field is UTC).
	at := e.clock.Now().UTC().Add(2 * time.Hour).Truncate(time.Minute)
	eval[chromedp.Void](b, `document.getElementById('sched-demo').value = `+jsString(at.Format("2006-01-02T15:04")))
	b.click(`li[data-cluster="demo"] form[aria-label="Schedule the destroy of demo"] button`)
	b.wait(`document.getElementById('notice').textContent.includes('Schedule the destroy of demo: done')`)
	b.wait(`Number(document.querySelector('li[data-cluster="demo"] .countdown').dataset.left) > 3600`)
	if cl, err := e.store.GetCluster(ctx, "demo"); err != nil || !cl.DestroyAt.Equal(at) {
		t.Errorf("scheduled destroy: %v, want %v (%v)", cl.DestroyAt, at, err)
	}
	if left, want := b.leftOf("demo"), int(at.Sub(e.clock.Now()).Seconds()); left > want || left < want-10 {
		t.Errorf("after the schedule: %d s left, want about %d", left, want)
	}
	if got := b.text(`li[data-cluster="demo"] time`); got != at.Format("2006-01-02 15:04:05")+" UTC" {
		t.Errorf("destroy time shown %q, want %s", got, at)
	}

	// EXTEND past the limits: the API's error, shown as it comes.
	b.fill("#extend-demo", "999999")
	b.click(`li[data-cluster="demo"] form[aria-label="Extend demo"] button`)
	b.wait(`document.getElementById('notice').textContent.includes('Extend demo failed')`)
	if n := b.text("#notice"); !strings.Contains(n, "invalid_request: ttl must be between") {
		t.Errorf("extend past the limit: %q", n)
	}

	// A TEST job on the cluster, its log followed as it grows.
	res = e.request("POST", "/test", map[string]string{"cluster": "demo", "version": "v4.5.1"}, "Authorization", "Bearer "+login.Token)
	started := decode(t, res)
	job, _ := started["job"].(map[string]any)
	if res.StatusCode != 202 || job == nil {
		t.Fatalf("POST /test: %d %v", res.StatusCode, started)
	}
	id, key := job["id"].(string), job["log_key"].(string)
	e.jobs.appendLog(key, "cloning sliderule at v4.5.1\n")
	b.click(`#nav a[href="#jobs"]`)
	b.wait(`document.querySelector('button[data-job="` + id + `"]')`)
	b.click(`button[data-job="` + id + `"]`)
	b.wait(`document.getElementById('log-text').textContent.includes('cloning sliderule')`)
	e.jobs.appendLog(key, "step unit: 412 tests, 0 failures\n")
	b.wait(`document.getElementById('log-text').textContent.includes('412 tests')`)
	// Markup in API data stays text.
	const markup = `<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>`
	e.jobs.appendLog(key, markup+"\n")
	b.wait(`document.getElementById('log-text').textContent.includes('window.pwned=2')`)
	if got := eval[string](b, `String(window.pwned) + document.querySelectorAll('#log-text *').length`); got != "undefined0" {
		t.Errorf("markup in a log ran or became elements: %s", got)
	}
	e.jobs.appendLog(key, "all steps passed\n")
	e.jobs.finish(id, provisioner.JobStatus{State: provisioner.JobPassed, Steps: []provisioner.StepResult{{Name: "unit", Status: "passed", Tests: 412}}})
	b.wait(`document.getElementById('log-state').textContent === 'passed'`)
	b.wait(`document.getElementById('log-text').textContent.includes('all steps passed')`)
	if got := b.text("#log-text"); strings.Count(got, "cloning sliderule") != 1 {
		t.Errorf("the log repeats or loses lines: %q", got)
	}
	b.checkA11y("jobs")
	b.screenshot("03-job-log")

	// DESTROY, confirmed.
	b.click(`#nav a[href="#clusters"]`)
	b.wait(`document.querySelector('li[data-cluster="demo"] [data-action="destroy"]')`)
	b.click(`li[data-cluster="demo"] [data-action="destroy"]`)
	b.wait(`document.activeElement && document.activeElement.dataset.action === 'confirm-destroy'`)
	b.click(`li[data-cluster="demo"] [data-action="confirm-destroy"]`)
	b.wait(`!document.querySelector('li[data-cluster="demo"]') && document.getElementById('notice').textContent.includes('Destroy demo: done')`)
	if _, err := e.store.GetCluster(ctx, "demo"); provisioner.ErrorCode(err) != provisioner.ENOTFOUND {
		t.Errorf("after destroy: %v", err)
	}

	// The test history chart.
	runs := seedHistory(t, e)
	b.click(`#nav a[href="#history"]`)
	b.wait(`document.querySelectorAll('#history-chart g.cell').length > 0`)
	cells := eval[int](b, `document.querySelectorAll('#history-chart g.cell').length`)
	if want := runs * (1 + 3); cells != want {
		t.Errorf("the chart has %d cells, want %d (runs × (result + 3 steps))", cells, want)
	}
	if bars := eval[int](b, `document.querySelectorAll('#history-chart rect.bar').length`); bars != runs {
		t.Errorf("the chart has %d bars, want %d", bars, runs)
	}
	if failed := eval[int](b, `document.querySelectorAll('#history-chart g.cell.failed').length`); failed == 0 {
		t.Error("no failed cell drawn")
	}
	if f := b.text("#flaky-list"); !strings.Contains(f, "test_subsetting") {
		t.Errorf("flaky tests: %s", f)
	}
	b.checkA11y("history")
	b.screenshot("04-history")

	// Admin: users from the audit log, a user's sessions, revoking them.
	if _, err := e.app.LoginToken(ctx, "127.0.0.1", memberToken); err != nil {
		t.Fatal(err)
	}
	b.click(`#nav a[href="#admin"]`)
	b.wait(`Array.from(document.querySelectorAll('#users-list button')).some(x => x.textContent === 'otto')`)
	b.run(chromedp.Evaluate[chromedp.Void](`Array.from(document.querySelectorAll('#users-list button')).find(x => x.textContent === 'otto').click()`))
	b.wait(`!document.getElementById('sessions').hidden && document.getElementById('sessions-body').textContent.includes('live')`)
	b.wait(`document.getElementById('audit-body').children.length > 3`)
	b.checkA11y("admin")
	b.screenshot("05-admin")
	b.click("#revoke")
	b.wait(`document.getElementById('revoke').textContent.startsWith('Confirm')`)
	b.click("#revoke")
	b.wait(`document.getElementById('notice').textContent.includes('Revoked 1 live session')`)
	if ss, _ := e.store.ListSessions(ctx, "otto"); len(ss) != 1 || ss[0].RevokedAt.IsZero() {
		t.Errorf("otto's sessions after revoke: %+v", ss)
	}

	// Sign out: the cookie is gone and the session revoked.
	b.click("#logout")
	b.wait(`!document.getElementById('view-signin').hidden`)
	cookies, err = chromedp.Call(b.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{e.srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cookies.Cookies {
		if c.Name == web.CookieName {
			t.Errorf("the session cookie outlived sign-out: %+v", c)
		}
	}
	if res := e.request("GET", "/auth/whoami", nil, "Authorization", "Bearer "+session.Value); res.StatusCode != 401 {
		t.Errorf("the browser's session after sign-out: %d", res.StatusCode)
	}
	b.noProblems()
}

// seedHistory records finished TESTs of main: a flaky integration test,
// a failing build once. It returns how many.
func seedHistory(t *testing.T, e *env) int {
	t.Helper()
	t0 := e.clock.Now().Add(-10 * 24 * time.Hour)
	n := 8
	for i := range n {
		at := t0.Add(time.Duration(i) * 24 * time.Hour)
		steps := []provisioner.StepResult{
			{Name: "build", Status: "passed", Duration: 95 * time.Second},
			{Name: "unit", Status: "passed", Duration: time.Duration(140+i*3) * time.Second, Tests: 412},
			{Name: "integration", Status: "passed", Duration: time.Duration(300+i*10) * time.Second, Tests: 57},
		}
		state := provisioner.JobPassed
		switch i {
		case 2, 4, 6: // fails, passes, fails: flaky
			steps[2].Status, steps[2].ExitCode, steps[2].Failures = "failed", 1, 1
			steps[2].FailedTests = []string{"tests/test_subsetting.py::test_subsetting"}
			state = provisioner.JobFailed
		case 3:
			steps[0].Status, steps[0].ExitCode = "failed", 2
			steps[1].Status, steps[2].Status = "skipped", "skipped"
			state = provisioner.JobFailed
		}
		j := provisioner.Job{ID: fmt.Sprintf("%08x%024x", 0x5e1100+i, i), Kind: provisioner.JobTest, Cluster: "ci", Version: "main",
			Commit: fmt.Sprintf("%07x", 0xabc000+i), RequestedBy: "nightly", State: state, Steps: steps,
			LogKey: "jobs/hist/log", CreatedAt: at, StartedAt: at, FinishedAt: at.Add(10 * time.Minute), Deadline: at.Add(3 * time.Hour)}
		if _, err := e.store.PutJob(context.Background(), j); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

// TestDashboardPhone: at a phone's width every view fits without
// horizontal scrolling, and passes axe-core.
func TestDashboardPhone(t *testing.T) {
	e := newEnvWith(t, withCosts(&noticeSink{}))
	seedHistory(t, e)
	b := newBrowser(t, 390, 844)
	b.run(chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateTouch))
	b.run(chromedp.Navigate(e.srv.URL + "/"))
	b.wait(`!document.getElementById('view-signin').hidden`)
	b.noHorizontalScroll("sign-in")
	b.fill("#token", adminToken)
	b.click("#token-form button[type=submit]")
	b.wait(`!document.getElementById('view-clusters').hidden`)
	b.fill("#deploy-cluster", "phone")
	b.click("#deploy-estimate-button")
	b.wait(`!document.getElementById('deploy-estimate').hidden`)
	b.noHorizontalScroll("clusters with an estimate")
	b.checkA11y("estimate (phone)")
	b.screenshot("phone-estimate")
	b.click("#deploy-form button[type=submit]")
	b.wait(`document.querySelector('li[data-cluster="phone"] .badge.ok')`)
	e.clock.Add(2 * time.Hour) // spend to show in the costs view
	b.noHorizontalScroll("clusters")
	b.checkA11y("clusters (phone)")
	b.screenshot("phone-clusters")
	for _, v := range []struct{ view, ready, chart string }{
		{"jobs", `!document.getElementById('jobs-empty').hidden || document.getElementById('jobs-body').children.length > 0`, ""},
		{"history", `document.querySelectorAll('#history-chart g.cell').length > 0`, "#history-chart svg"},
		{"costs", `document.querySelectorAll('#costs-chart rect.bar').length > 0`, "#costs-chart svg"},
		{"admin", `document.getElementById('audit-body').children.length > 0`, ""},
	} {
		b.click(`#nav a[href="#` + v.view + `"]`)
		b.wait(v.ready)
		b.noHorizontalScroll(v.view)
		if v.chart != "" { // shown, and shrunk to the phone's width
			if w := eval[float64](b, `document.querySelector(`+jsString(v.chart)+`).getBoundingClientRect().width`); w == 0 || w > 390 {
				t.Errorf("%s is %v px wide on a 390 px phone", v.chart, w)
			}
		}
		b.checkA11y(v.view + " (phone)")
		b.screenshot("phone-" + v.view)
	}
	b.noProblems()
}

// TestDashboardKeyboard: the main actions are reached with Tab, show where
// the focus is, and work with the keyboard alone.
func TestDashboardKeyboard(t *testing.T) {
	e := newEnv(t, nil)
	b := newBrowser(t, 1280, 900)
	b.run(chromedp.Navigate(e.srv.URL + "/"))
	b.wait(`!document.getElementById('view-signin').hidden`)

	// tabTo presses Tab until the focused element matches sel, checking
	// that each focused element shows a visible focus ring.
	tabTo := func(sel string) {
		t.Helper()
		for range 80 {
			b.run(chromedp.KeyEvent(kb.Tab))
			st := eval[[]string](b, `(() => { const a = document.activeElement; const s = getComputedStyle(a);
				return [a.matches(`+jsString(sel)+`) ? 'yes' : 'no', a.tagName + '#' + a.id + ' ' + a.textContent.trim().slice(0, 30), s.outlineStyle, s.outlineWidth]; })()`)
			// Tab passes through the browser's own controls (focus on BODY).
			if !strings.HasPrefix(st[1], "BODY#") && (st[2] == "none" || st[3] == "0px") {
				t.Errorf("focus on %s is not visible (outline %s %s)", st[1], st[2], st[3])
			}
			if st[0] == "yes" {
				return
			}
		}
		t.Fatalf("Tab never reached %s", sel)
	}
	typeKeys := func(s string) { b.run(chromedp.KeyEvent(s)) }

	tabTo("#token")
	typeKeys(adminToken)
	typeKeys(kb.Enter)
	b.wait(`!document.getElementById('view-clusters').hidden`)

	// Deploy with the keyboard alone.
	tabTo("#deploy-cluster")
	typeKeys("keys")
	tabTo("#deploy-form button[type=submit]")
	typeKeys(kb.Enter)
	b.wait(`document.querySelector('li[data-cluster="keys"] .badge.ok')`)
	// The cluster's actions, then each section's link.
	tabTo(`li[data-cluster="keys"] button[aria-label="Events of keys"]`)
	typeKeys(kb.Enter)
	b.wait(`!document.getElementById('events').hidden`)
	tabTo(`li[data-cluster="keys"] [data-action="destroy"]`)
	typeKeys(kb.Enter)
	b.wait(`document.activeElement.dataset.action === 'confirm-destroy'`)
	typeKeys(kb.Enter)
	b.wait(`!document.querySelector('li[data-cluster="keys"]')`)
	b.run(chromedp.Evaluate[chromedp.Void](`document.getElementById('main').focus(); window.scrollTo(0, 0)`))
	// From the top: the skip link first, then the navigation.
	b.run(chromedp.Evaluate[chromedp.Void](`document.activeElement.blur()`))
	tabTo(".skip")
	tabTo(`#nav a[href="#history"]`)
	typeKeys(kb.Enter)
	b.wait(`!document.getElementById('view-history').hidden`)
	tabTo("#logout")
	typeKeys(kb.Enter)
	b.wait(`!document.getElementById('view-signin').hidden`)
	b.noProblems()
}

// TestCrossSiteInChromium: a page of another site posts to the API, as a
// form and as a fetch, while the browser holds a session: the session
// cookie is not sent (SameSite=Strict), and nothing is deployed.
func TestCrossSiteInChromium(t *testing.T) {
	e := newEnv(t, nil)
	b := newBrowser(t, 1024, 768)
	b.signIn(e.srv.URL+"/", adminToken)
	b.wait(`!document.getElementById('view-clusters').hidden`)

	// The attacker: another site (localhost is not 127.0.0.1's site).
	target := e.srv.URL
	var seen sync.Map
	evil := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.URL.Path, true)
		w.Header().Set("Content-Type", "text/html")
		body := `{"cluster":"evil","node_capacity":1,"ttl":30,"version":"v4.5.1","team":"`
		fmt.Fprintf(w, `<!doctype html><title>evil</title>
<form id=f method=POST action="%s/deploy" enctype="text/plain"><input name='%s' value='"}'></form>
<script>
fetch(%q, {method: 'POST', credentials: 'include', mode: 'no-cors', headers: {'Content-Type': 'text/plain'},
  body: '{"cluster":"evil2","node_capacity":1,"ttl":30,"version":"v4.5.1"}'}).finally(() => document.getElementById('f').submit());
</script>`, target, body, target+"/deploy")
	}))
	l, err := net.Listen("tcp", "localhost:0")
	if err != nil {
		t.Fatal(err)
	}
	evil.Listener = l
	evil.Start()
	t.Cleanup(evil.Close)
	_, port, _ := net.SplitHostPort(l.Addr().String())
	b.run(chromedp.Navigate("http://localhost:" + port + "/"))
	b.wait(`location.href.startsWith(` + jsString(target) + `)`)
	b.wait(`document.body && document.body.textContent.includes('"status"')`)
	if got := eval[string](b, `document.body.textContent`); !strings.Contains(got, `"failure"`) {
		t.Errorf("the cross-site form was answered %s", got)
	}
	posts := 0
	for _, r := range e.requests() {
		if r.method == "POST" && r.path == "/deploy" {
			posts++
			if r.cookie {
				t.Error("a cross-site POST carried the session cookie")
			}
		}
	}
	if posts != 2 {
		t.Errorf("the attacker's page sent %d POST /deploy, want 2 (a fetch and a form)", posts)
	}
	for _, name := range []string{"evil", "evil2"} {
		if _, err := e.store.GetCluster(context.Background(), name); provisioner.ErrorCode(err) != provisioner.ENOTFOUND {
			t.Errorf("a cross-site request deployed %s: %v", name, err)
		}
	}
	// The session is still the user's: the page works on.
	b.run(chromedp.Navigate(e.srv.URL + "/"))
	b.wait(`!document.getElementById('view-clusters').hidden`)
}
