package app

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"provisioner"
	"provisioner/jwt"
	"provisioner/notify/webhook"
	"provisioner/testkit/embedded"
)

var noticeSecret = []byte("notice-test-secret-0123456789")

// hookReceiver is the operator's webhook endpoint: it verifies each
// delivery's signature against the test clock, answers with the next of
// codes (then 200), and keeps the notices it took.
type hookReceiver struct {
	t     *testing.T
	now   func() time.Time
	mu    sync.Mutex
	codes []int
	posts int
	got   []provisioner.Notice // taken (2xx), in order
	bad   []string             // deliveries that did not verify
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.posts++
	if err := webhook.Verify(noticeSecret, r.Header, body, h.now(), 0); err != nil {
		h.bad = append(h.bad, err.Error())
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	code := http.StatusOK
	if len(h.codes) > 0 {
		code, h.codes = h.codes[0], h.codes[1:]
	}
	if code/100 == 2 {
		var n provisioner.Notice
		if err := json.Unmarshal(body, &n); err != nil || n.ID != r.Header.Get(webhook.HeaderDelivery) {
			h.bad = append(h.bad, "body "+string(body))
		}
		h.got = append(h.got, n)
	}
	w.WriteHeader(code)
}

func (h *hookReceiver) notices() []provisioner.Notice {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.bad) > 0 {
		h.t.Errorf("deliveries that do not verify: %v", h.bad)
	}
	return slices.Clone(h.got)
}

// noticeFixture is a fixture whose App sends notices at 60m and 10m
// before a destroy to a signed webhook; waits between retries are
// recorded, never slept.
type noticeFixture struct {
	*fixture
	hook  *hookReceiver
	sink  *webhook.Sink
	mu    sync.Mutex
	waits []time.Duration
}

func newNoticeFixture(t *testing.T, sinks ...provisioner.NoticeSink) *noticeFixture {
	t.Helper()
	f := &noticeFixture{fixture: newFixture(t)}
	f.hook = &hookReceiver{t: t, now: f.clock.Now}
	srv := httptest.NewServer(f.hook)
	t.Cleanup(srv.Close)
	var err error
	if f.sink, err = webhook.New(webhook.Config{URL: srv.URL + "/hook", Secret: noticeSecret, Now: f.clock.Now}); err != nil {
		t.Fatal(err)
	}
	f.app.notices.NoticeConfig = f.config(append([]provisioner.NoticeSink{f.sink}, sinks...)).withDefaults()
	return f
}

func (f *noticeFixture) config(sinks []provisioner.NoticeSink) NoticeConfig {
	return NoticeConfig{Sinks: sinks, Leads: []time.Duration{60 * time.Minute, 10 * time.Minute},
		DashboardURL: "https://provisioner.example/",
		Sleep: func(ctx context.Context, d time.Duration) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.waits = append(f.waits, d)
			return ctx.Err()
		}}
}

// fireDue fires every schedule due on the test clock, as a scheduler does:
// a schedule that fired without error is gone.
func (f *fixture) fireDue(t *testing.T) {
	t.Helper()
	now := f.clock.Now()
	f.sched.mu.Lock()
	var due []string
	for k, at := range f.sched.at {
		if !at.After(now) {
			due = append(due, k)
		}
	}
	f.sched.mu.Unlock()
	slices.Sort(due)
	for _, k := range due {
		at, _ := f.sched.get(k)
		if err := f.app.FireDestroy(bg, k, at); err != nil {
			t.Fatalf("fire %s: %v", k, err)
		}
		f.sched.mu.Lock()
		if f.sched.at[k].Equal(at) {
			delete(f.sched.at, k)
		}
		f.sched.mu.Unlock()
	}
}

// eventsOf returns the messages of cluster's events of type typ.
func (f *fixture) eventsOf(t *testing.T, cluster, typ string) []string {
	t.Helper()
	evs, err := f.store.ListEvents(bg, cluster, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		if e.Type == typ {
			out = append(out, e.Message)
		}
	}
	return out
}

func deployTTL(t *testing.T, f *fixture, name string, ttl time.Duration) provisioner.Cluster {
	t.Helper()
	r, err := f.app.Deploy(bg, orgMem, DeployRequest{Cluster: name, NodeCapacity: 1, TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	if op := f.wait(t, r.Operation.ID); op.State != provisioner.OpSuccess {
		t.Fatalf("deploy: %+v", op)
	}
	return f.cluster(t, name)
}

// TestNoticesAtLeadTimes: a webhook gets each notice once, signed, at 60m
// and 10m before the destroy, driven by the clock alone; STATUS names the
// next one; the sweep sends nothing twice; the destroy comes after.
func TestNoticesAtLeadTimes(t *testing.T) {
	f := newNoticeFixture(t)
	t0 := f.clock.Now()
	deployTTL(t, f.fixture, "c1", 2*time.Hour)
	destroyAt := t0.Add(2 * time.Hour)
	for lead, want := range map[time.Duration]time.Time{60 * time.Minute: t0.Add(time.Hour), 10 * time.Minute: t0.Add(110 * time.Minute)} {
		if at, ok := f.sched.get(provisioner.NoticeKey("c1", lead)); !ok || !at.Equal(want) {
			t.Fatalf("notice schedule %s: %v %v, want %v", lead, at, ok, want)
		}
	}
	step := func(to time.Duration, wantNotices int, wantNext time.Time) {
		t.Helper()
		f.clock.Set(t0.Add(to))
		f.fireDue(t)
		if err := f.app.Reconcile(bg); err != nil {
			t.Fatal(err)
		}
		if got := f.hook.notices(); len(got) != wantNotices {
			t.Fatalf("at +%s: %d notices, want %d: %+v", to, len(got), wantNotices, got)
		}
		if next := f.app.NextNotice(f.cluster(t, "c1")); !next.Equal(wantNext) {
			t.Fatalf("at +%s: next notice %v, want %v", to, next, wantNext)
		}
	}
	step(0, 0, t0.Add(time.Hour))
	step(59*time.Minute, 0, t0.Add(time.Hour))
	step(60*time.Minute, 1, t0.Add(110*time.Minute))
	step(61*time.Minute, 1, t0.Add(110*time.Minute))
	step(110*time.Minute, 2, time.Time{})
	step(119*time.Minute, 2, time.Time{})

	got := f.hook.notices()
	for i, lead := range []int{60, 10} {
		n := got[i]
		if n.Kind != provisioner.NoticeDestroySoon || n.Cluster != "c1" || n.Owner != "otto" || !n.DestroyAt.Equal(destroyAt) || n.LeadMinutes != lead {
			t.Errorf("notice %d: %+v", i, n)
		}
		if n.ExtendCommand != "provisioner extend c1 --ttl 1h" || n.URL != "https://provisioner.example/#/clusters/c1" ||
			!strings.Contains(n.Text, n.ExtendCommand) || !strings.Contains(n.Text, n.URL) {
			t.Errorf("notice %d does not say how to extend: %+v", i, n)
		}
	}
	if got[0].ID == got[1].ID || !strings.Contains(got[0].Subject, "in 1h") || !strings.Contains(got[1].Subject, "in 10m") {
		t.Errorf("subjects %q, %q", got[0].Subject, got[1].Subject)
	}
	if sent := f.eventsOf(t, "c1", "notice.sent"); len(sent) != 2 {
		t.Errorf("notice.sent events: %q", sent)
	}
	f.clock.Set(destroyAt)
	f.fireDue(t)
	if st := f.cluster(t, "c1").State; st != provisioner.StateAbsent || len(f.hook.notices()) != 2 {
		t.Fatalf("after the destroy time: %s, %d notices", st, len(f.hook.notices()))
	}
	if len(f.sched.at) != 0 {
		t.Errorf("schedules left: %v", f.sched.at)
	}
}

// TestNoticeRetries: 500s are retried with growing waits until the
// receiver takes the notice; each attempt is an event; a refusal (4xx) is
// not retried; a receiver that never recovers is given up on after the
// attempts.
func TestNoticeRetries(t *testing.T) {
	f := newNoticeFixture(t)
	t0 := f.clock.Now()
	deployTTL(t, f.fixture, "c1", 2*time.Hour)
	f.hook.codes = []int{500, 503, 200}
	f.clock.Set(t0.Add(time.Hour))
	f.fireDue(t)
	if got := f.hook.notices(); len(got) != 1 || f.hook.posts != 3 {
		t.Fatalf("%d posts, %d notices taken", f.hook.posts, len(got))
	}
	if !slices.Equal(f.waits, []time.Duration{time.Second, 2 * time.Second}) {
		t.Errorf("waits %v", f.waits)
	}
	failed, sent := f.eventsOf(t, "c1", "notice.failed"), f.eventsOf(t, "c1", "notice.sent")
	if len(failed) != 2 || !strings.Contains(failed[0], "attempt 1 of 4 failed: the webhook answered HTTP 500; retrying in 1s") ||
		len(sent) != 1 || !strings.Contains(sent[0], "attempt 3") {
		t.Errorf("events: failed %q, sent %q", failed, sent)
	}

	// Never recovers: four attempts, then given up.
	f.hook.codes = []int{500, 500, 500, 500, 500}
	f.clock.Set(t0.Add(110 * time.Minute))
	f.fireDue(t)
	if f.hook.posts != 7 || len(f.hook.notices()) != 1 {
		t.Fatalf("%d posts", f.hook.posts)
	}
	if failed := f.eventsOf(t, "c1", "notice.failed"); len(failed) != 6 || !strings.HasSuffix(failed[5], "giving up") {
		t.Errorf("failed events %q", failed)
	}

	// A refusal is final at once.
	deployTTL(t, f.fixture, "c2", 2*time.Hour)
	f.hook.codes = []int{410}
	f.clock.Add(time.Hour)
	f.fireDue(t)
	if f.hook.posts != 8 {
		t.Fatalf("a 410 was retried: %d posts", f.hook.posts)
	}
	if failed := f.eventsOf(t, "c2", "notice.failed"); len(failed) != 1 || !strings.Contains(failed[0], "HTTP 410; giving up") {
		t.Errorf("failed events %q", failed)
	}
}

// TestNoticeOnceAcrossInstancesAndRestart: two App instances on one
// store, each sweeping and firing at once, send a notice once; a restarted
// App (nothing in memory) does not send it again.
func TestNoticeOnceAcrossInstancesAndRestart(t *testing.T) {
	f := newNoticeFixture(t)
	t0 := f.clock.Now()
	deployTTL(t, f.fixture, "c1", 2*time.Hour)
	other := f.sibling(t)
	f.clock.Set(t0.Add(time.Hour))
	var wg sync.WaitGroup
	for i := range 8 {
		a := []*App{f.app, other}[i%2]
		wg.Go(func() {
			if i%4 < 2 {
				_ = a.Reconcile(bg)
			} else if err := a.FireDestroy(bg, provisioner.NoticeKey("c1", time.Hour), t0.Add(time.Hour)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got := f.hook.notices(); len(got) != 1 {
		t.Fatalf("%d notices from 8 concurrent sweeps and fires on two instances", len(got))
	}
	restarted := f.sibling(t)
	f.clock.Add(time.Minute)
	if err := restarted.Reconcile(bg); err != nil {
		t.Fatal(err)
	}
	if err := restarted.FireDestroy(bg, provisioner.NoticeKey("c1", time.Hour), t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := f.hook.notices(); len(got) != 1 {
		t.Fatalf("a restarted App sent the notice again: %d", len(got))
	}
}

// sibling is another App on f's store, driver, scheduler and clock, with
// the same notice settings: a second instance, or the same after a
// restart.
func (f *noticeFixture) sibling(t *testing.T) *App {
	t.Helper()
	_, keys := embedded.Open(t)
	return New(Config{Store: f.store, Tokens: jwt.New(jwt.Config{Issuer: "http://test", Signer: keys}),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: f.clock.Now, Driver: f.driver, Scheduler: f.sched,
		Poll: time.Millisecond, Notices: f.app.notices.NoticeConfig})
}

// TestNoticePassedOrMissed: a lead already past when the destroy is set is
// not sent, by a schedule or the sweep; after a stretch with nothing
// running, only the latest due notice goes out, not every missed one.
func TestNoticePassedOrMissed(t *testing.T) {
	f := newNoticeFixture(t)
	t0 := f.clock.Now()
	deployTTL(t, f.fixture, "short", 30*time.Minute)
	if _, ok := f.sched.get(provisioner.NoticeKey("short", time.Hour)); ok {
		t.Error("a notice schedule in the past was set")
	}
	f.clock.Set(t0.Add(time.Minute))
	if err := f.app.Reconcile(bg); err != nil {
		t.Fatal(err)
	}
	if n := len(f.hook.notices()); n != 0 {
		t.Fatalf("the 60m notice of a 30m cluster went out on the sweep: %d", n)
	}
	f.clock.Set(t0.Add(20 * time.Minute))
	f.fireDue(t)
	if got := f.hook.notices(); len(got) != 1 || got[0].LeadMinutes != 10 {
		t.Fatalf("%+v", got)
	}

	// Down from before the 60m notice until past the 10m one: at restart
	// both schedules fire and the sweep runs; the 10m notice goes out
	// alone, saying how long is left.
	deployTTL(t, f.fixture, "long", 2*time.Hour)
	t1 := f.clock.Now()
	f.clock.Set(t1.Add(115 * time.Minute))
	restarted := f.sibling(t)
	for _, lead := range []time.Duration{time.Hour, 10 * time.Minute} {
		if err := restarted.FireDestroy(bg, provisioner.NoticeKey("long", lead), t1.Add(2*time.Hour-lead)); err != nil {
			t.Fatal(err)
		}
	}
	if err := restarted.Reconcile(bg); err != nil {
		t.Fatal(err)
	}
	got := f.hook.notices()
	if len(got) != 2 || got[1].Cluster != "long" || got[1].LeadMinutes != 10 || !strings.Contains(got[1].Subject, "in 5m") {
		t.Fatalf("%+v", got)
	}
	if strings.Contains(got[1].Text, "provisioner extend") || got[1].ExtendCommand != "" {
		t.Errorf("a notice within the guard window offers an extend: %q", got[1].Text)
	}

	// Down until the sweep alone is left (the schedules lost): it sends the
	// due notice whose time came after the cluster's last change.
	deployTTL(t, f.fixture, "lost", 2*time.Hour)
	f.sched.mu.Lock()
	delete(f.sched.at, provisioner.NoticeKey("lost", time.Hour))
	delete(f.sched.at, provisioner.NoticeKey("lost", 10*time.Minute))
	f.sched.mu.Unlock()
	f.clock.Add(61 * time.Minute)
	if err := f.sibling(t).Reconcile(bg); err != nil {
		t.Fatal(err)
	}
	if got := f.hook.notices(); len(got) != 3 || got[2].Cluster != "lost" || got[2].LeadMinutes != 60 {
		t.Fatalf("%+v", got)
	}
}

// TestInlineDeadline: where nothing runs in the background (the Lambda),
// a notice raised in an API request (a poll that sees a DEPLOY fail) waits
// on a hanging sink no longer than the inline deadline, and the failure is
// answered.
func TestInlineDeadline(t *testing.T) {
	hang := &hangingSink{release: make(chan struct{}), calls: make(chan provisioner.Notice, 16)}
	defer close(hang.release)
	f := newNoticeFixture(t, hang)
	f.app.notices.InlineDeadline = 100 * time.Millisecond
	f.driver.failWith = "no capacity"
	r, err := f.app.Deploy(bg, orgMem, DeployRequest{Cluster: "bad", NodeCapacity: 1})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if op := f.wait(t, r.Operation.ID); op.State != provisioner.OpFailure {
		t.Fatalf("%+v", op)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("the poll waited %s on the sink", d)
	}
	if n := <-hang.calls; n.Kind != provisioner.NoticeDeployFailed {
		t.Fatalf("%+v", n)
	}
	if failed := f.eventsOf(t, "bad", "notice.failed"); len(failed) == 0 || !strings.Contains(strings.Join(failed, " "), "hanging") {
		t.Errorf("no failed attempt of the hanging sink recorded: %q", failed)
	}
}

// TestNoticesMoveWithTheDestroy: EXTEND and SCHEDULE_DESTROY move the
// notice schedules; the old times send nothing.
func TestNoticesMoveWithTheDestroy(t *testing.T) {
	f := newNoticeFixture(t)
	t0 := f.clock.Now()
	deployTTL(t, f.fixture, "c1", 2*time.Hour)
	f.clock.Set(t0.Add(30 * time.Minute))
	if _, err := f.app.Extend(bg, orgMem, "c1", 3*time.Hour); err != nil {
		t.Fatal(err)
	}
	d := t0.Add(210 * time.Minute)
	if at, _ := f.sched.get(provisioner.NoticeKey("c1", time.Hour)); !at.Equal(d.Add(-time.Hour)) {
		t.Fatalf("60m notice at %v, want %v", at, d.Add(-time.Hour))
	}
	// The old 60m time: a late fire of the old schedule sends nothing.
	f.clock.Set(t0.Add(time.Hour))
	if err := f.app.FireDestroy(bg, provisioner.NoticeKey("c1", time.Hour), t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n := len(f.hook.notices()); n != 0 {
		t.Fatalf("the old schedule sent %d", n)
	}
	f.clock.Set(d.Add(-time.Hour))
	f.fireDue(t)
	if got := f.hook.notices(); len(got) != 1 || !got[0].DestroyAt.Equal(d) {
		t.Fatalf("%+v", got)
	}
	// SCHEDULE_DESTROY earlier: the 10m notice moves with it.
	at := f.clock.Now().Add(30 * time.Minute)
	if _, err := f.app.ScheduleDestroy(bg, orgMem, "c1", at); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.sched.get(provisioner.NoticeKey("c1", 10*time.Minute)); !got.Equal(at.Add(-10 * time.Minute)) {
		t.Fatalf("10m notice at %v", got)
	}
	// DESTROY removes them.
	if r, err := f.app.Destroy(bg, orgMem, "c1"); err != nil {
		t.Fatal(err)
	} else if !r.Done {
		f.wait(t, r.Operation.ID)
	}
	for k := range f.sched.at {
		t.Errorf("schedule %s left after the destroy", k)
	}
}

// hangingSink blocks every send until released (or its context ends).
type hangingSink struct {
	release chan struct{}
	calls   chan provisioner.Notice
}

func (h *hangingSink) Name() string { return "hanging" }
func (h *hangingSink) Send(ctx context.Context, n provisioner.Notice) error {
	h.calls <- n
	select {
	case <-h.release:
		return provisioner.Errorf(provisioner.EUNAVAILABLE, "released")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestFailingSinkNeverBlocksDestroy: with a sink that hangs and one that
// fails, the notice before the destroy is still being delivered when the
// destroy comes, and the destroy goes through; a failed DESTROY's notice
// does not hold up the destroy path either.
func TestFailingSinkNeverBlocksDestroy(t *testing.T) {
	hang := &hangingSink{release: make(chan struct{}), calls: make(chan provisioner.Notice, 16)}
	defer close(hang.release)
	f := newNoticeFixture(t, hang)
	f.hook.codes = []int{500, 500, 500, 500, 500, 500, 500, 500}
	t0 := f.clock.Now()
	deployTTL(t, f.fixture, "c1", 2*time.Hour)

	// The Lambda's way: nothing runs in the background, the notice fire
	// delivers before it returns, and hangs.
	f.clock.Set(t0.Add(110 * time.Minute))
	fired := make(chan error, 1)
	go func() {
		fired <- f.app.FireDestroy(bg, provisioner.NoticeKey("c1", 10*time.Minute), t0.Add(110*time.Minute))
	}()
	<-hang.calls
	f.clock.Set(t0.Add(2 * time.Hour))
	if err := f.app.FireDestroy(bg, "c1", t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if cl := f.cluster(t, "c1"); cl.Operation != "" {
		f.wait(t, cl.Operation)
	}
	if st := f.cluster(t, "c1").State; st != provisioner.StateAbsent {
		t.Fatalf("the destroy waited on the sinks: %s", st)
	}
	select {
	case err := <-fired:
		t.Fatalf("the notice fire returned (%v) before its sink did", err)
	default:
	}

	// The embedded way: the App runs, delivery is in the background. A
	// destroy that fails raises a notice the stuck sink never takes.
	ctx, cancel := context.WithCancel(bg)
	ran := make(chan struct{})
	go func() { _ = f.app.Run(ctx, time.Hour); close(ran) }()
	defer func() { cancel(); <-ran }()
	deployTTL(t, f.fixture, "c2", 2*time.Hour)
	f.driver.stuck = true
	f.app.destroyTimeout = time.Minute
	r, err := f.app.Destroy(bg, orgMem, "c2")
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Add(2 * time.Minute) // past the destroy's deadline
	if err := f.app.advance(bg, "c2"); err != nil {
		t.Fatal(err)
	}
	if op, _ := f.store.GetOperation(bg, r.Operation.ID); op.State != provisioner.OpFailure {
		t.Fatalf("destroy: %+v", op)
	}
	if n := <-hang.calls; n.Kind != provisioner.NoticeDestroyFailed || n.Cluster != "c2" || n.Operation != r.Operation.ID {
		t.Fatalf("notice %+v", n)
	}
}

// recordingSink takes every notice.
type recordingSink struct {
	mu  sync.Mutex
	got []provisioner.Notice
}

func (r *recordingSink) Name() string { return "email" }
func (r *recordingSink) Send(_ context.Context, n provisioner.Notice) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, n)
	return nil
}

func (r *recordingSink) all() []provisioner.Notice {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

type contacts map[string]string

func (c contacts) Email(_ context.Context, login string) (string, error) {
	if a, ok := c[login]; ok {
		return a, nil
	}
	return "", provisioner.Errorf(provisioner.ENOTFOUND, "no address for %s", login)
}

// TestFailureNotices: a failed DEPLOY and a failed TEST each raise one
// notice; the owner's address, when known, goes to email sinks.
func TestFailureNotices(t *testing.T) {
	rec := &recordingSink{}
	f := newNoticeFixture(t, rec)
	f.app.notices.Contacts = contacts{"otto": "otto@example.org"}
	f.driver.failWith = "no capacity"
	r, err := f.app.Deploy(bg, orgMem, DeployRequest{Cluster: "bad", NodeCapacity: 1})
	if err != nil {
		t.Fatal(err)
	}
	f.wait(t, r.Operation.ID)
	// Polls and sweeps after the end raise nothing more.
	_, _ = f.app.Operation(bg, orgMem, r.Operation.ID, 0)
	_ = f.app.Reconcile(bg)
	got := rec.all()
	if len(got) != 1 || got[0].Kind != provisioner.NoticeDeployFailed || got[0].Reason != "no capacity" ||
		got[0].Operation != r.Operation.ID || !slices.Equal(got[0].To, []string{"otto@example.org"}) {
		t.Fatalf("%+v", got)
	}
	if len(f.hook.notices()) != 1 {
		t.Fatal("the webhook missed the deploy failure")
	}

	f.driver.failWith = ""
	runner := newTestRunner()
	f.app.jobs = jobsConfig{runner: runner, logs: runner, timeout: time.Hour}
	deployTTL(t, f.fixture, "c1", time.Hour)
	runner.outcome["v9"] = provisioner.JobStatus{State: provisioner.JobFailed, Reason: "2 steps failed",
		Steps: []provisioner.StepResult{{Name: "selftest", Status: "failed", ExitCode: 1, Tests: 10, Failures: 2}}}
	runner.outcome["v8"] = provisioner.JobStatus{State: provisioner.JobPassed}
	for _, v := range []string{"v9", "v8"} {
		j, err := f.app.StartJob(bg, admin, provisioner.JobTest, "c1", v)
		if err != nil {
			t.Fatal(err)
		}
		f.waitJob(t, j.ID)
		f.waitJob(t, j.ID)
	}
	got = rec.all()
	if len(got) != 2 || got[1].Kind != provisioner.NoticeTestFailed || got[1].Owner != "ada" || len(got[1].To) != 0 ||
		!strings.Contains(got[1].Text, "Step selftest failed (exit 1, 2 of 10 tests)") {
		t.Fatalf("%+v", got)
	}
}

// TestNotifyHook: the budget hook sends a notice of its own kind once per
// ID, recorded where no cluster is named; bad notices are refused.
func TestNotifyHook(t *testing.T) {
	f := newNoticeFixture(t)
	n := provisioner.Notice{ID: "budget-2026-06-80", Kind: provisioner.NoticeBudget, Subject: "80% of June's budget spent"}
	for range 2 {
		if err := f.app.Notify(bg, n); err != nil {
			t.Fatal(err)
		}
	}
	if got := f.hook.notices(); len(got) != 1 || got[0].Kind != provisioner.NoticeBudget || got[0].Text == "" || got[0].Time.IsZero() {
		t.Fatalf("%+v", got)
	}
	if sent := f.eventsOf(t, noticeEvents, "notice.sent"); len(sent) != 1 {
		t.Errorf("events %q", sent)
	}
	wantCode(t, f.app.Notify(bg, provisioner.Notice{Kind: provisioner.NoticeBudget}), provisioner.EINVALID)
	wantCode(t, f.app.Notify(bg, provisioner.Notice{Kind: provisioner.NoticeBudget, Subject: "x", Cluster: "Bad Name"}), provisioner.EINVALID)
}

// TestNoNoticesWithoutSinks: nothing is scheduled, sent or shown.
func TestNoNoticesWithoutSinks(t *testing.T) {
	f := newFixture(t)
	cl := deployTTL(t, f, "c1", 2*time.Hour)
	if len(f.sched.at) != 1 || !f.app.NextNotice(cl).IsZero() {
		t.Fatalf("schedules %v, next %v", f.sched.at, f.app.NextNotice(cl))
	}
	if err := f.app.Notify(bg, provisioner.Notice{Kind: provisioner.NoticeBudget, Subject: "x"}); err != nil {
		t.Fatal(err)
	}
}
