package sqlite

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"provisioner"
)

// fakeClock is a clock for the scheduler that moves only when told. Like a
// real one it has a wall clock (Now) and a monotonic one that timers run
// on, so tests can make the wall clock jump under a sleeping timer.
type fakeClock struct {
	mu      sync.Mutex
	wall    time.Time
	mono    time.Duration
	waiters []*fakeTimer
	last    *fakeTimer // the latest After: what Run sleeps on now
}

type fakeTimer struct {
	d     time.Duration
	until time.Time     // wall time at which it was meant to fire
	mono  time.Duration // monotonic time at which it fires
	ch    chan time.Time
}

func newFakeClock(t0 time.Time) *fakeClock { return &fakeClock{wall: t0} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.wall
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := &fakeTimer{d: d, until: c.wall.Add(d), mono: c.mono + d, ch: make(chan time.Time, 1)}
	c.waiters = append(c.waiters, w)
	c.last = w
	c.fireLocked()
	return w.ch
}

// Advance moves both clocks by d and fires the timers that are due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wall = c.wall.Add(d)
	c.mono += d
	c.fireLocked()
}

// Jump moves the wall clock only, as an NTP step or a suspend would.
func (c *fakeClock) Jump(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wall = c.wall.Add(d)
}

func (c *fakeClock) fireLocked() {
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.mono <= c.mono {
			w.ch <- c.wall
		} else {
			kept = append(kept, w)
		}
	}
	c.waiters = kept
}

// waitSleep waits until Run sleeps until the wall time until, and returns
// how long that sleep is.
func (c *fakeClock) waitSleep(t testing.TB, until time.Time) time.Duration {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		last := c.last
		c.mu.Unlock()
		if last != nil && last.until.Equal(until) {
			return last.d
		}
		time.Sleep(time.Millisecond)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last == nil {
		t.Fatalf("the scheduler never slept; want a sleep until %v", until)
	}
	t.Fatalf("the scheduler sleeps until %v (for %v), want until %v", c.last.until, c.last.d, until)
	return 0
}

// firing records the calls of a fire function and answers them from a
// script: the i-th call returns results[i], nil once the script runs out.
type firing struct {
	mu      sync.Mutex
	calls   []fireCall
	results []error
	now     func() time.Time
	notify  chan fireCall
}

type fireCall struct {
	Cluster string
	At      time.Time
	Time    time.Time // when fire was called
}

func newFiring(now func() time.Time, results ...error) *firing {
	return &firing{results: results, now: now, notify: make(chan fireCall, 10000)}
}

func (f *firing) fire(_ context.Context, cluster string, at time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := fireCall{Cluster: cluster, At: at, Time: f.now()}
	f.calls = append(f.calls, c)
	f.notify <- c
	if i := len(f.calls) - 1; i < len(f.results) {
		return f.results[i]
	}
	return nil
}

func (f *firing) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

// next waits for the next call of fire.
func (f *firing) next(t testing.TB) fireCall {
	t.Helper()
	select {
	case c := <-f.notify:
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("the schedule did not fire within 5s")
		return fireCall{}
	}
}

// none checks that fire is not called within d.
func (f *firing) none(t testing.TB, d time.Duration) {
	t.Helper()
	select {
	case c := <-f.notify:
		t.Fatalf("unexpected fire: %+v", c)
	case <-time.After(d):
	}
}

// run runs s until the test ends, and returns a function that stops it
// and waits for Run to return.
func run(t testing.TB, s *Scheduler) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Error("Run did not return within 5s of its context ending")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// idle waits until no fire is in flight.
func idle(t testing.TB, s *Scheduler) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		n := len(s.inFlight)
		s.mu.Unlock()
		if n == 0 {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("fires still in flight after 5s")
}

func wantNoSchedule(t testing.TB, s *Scheduler, cluster string) {
	t.Helper()
	sc, err := s.Get(t.Context(), cluster)
	if provisioner.ErrorCode(err) != provisioner.ENOTFOUND {
		t.Fatalf("schedule of %s: %+v, %v; want none", cluster, sc, err)
	}
}

func TestDefaultBackoff(t *testing.T) {
	for _, c := range []struct {
		attempts int
		want     time.Duration
	}{{0, 2 * time.Second}, {1, 2 * time.Second}, {2, 4 * time.Second}, {3, 8 * time.Second},
		{8, 256 * time.Second}, {9, 5 * time.Minute}, {100, 5 * time.Minute}, {1 << 40, 5 * time.Minute}} {
		if got := DefaultBackoff(c.attempts); got != c.want {
			t.Errorf("DefaultBackoff(%d) = %v, want %v", c.attempts, got, c.want)
		}
	}
}

// TestSchedulerFiresOnTime uses the real clock: a schedule set while Run
// sleeps must wake it, and fire no earlier than its time and within a
// second of it.
func TestSchedulerFiresOnTime(t *testing.T) {
	db := openTemp(t)
	t.Cleanup(func() { db.Close() }) // after Run stops: cleanups run last first
	f := newFiring(time.Now)
	s := NewScheduler(db, f.fire)
	run(t, s)
	time.Sleep(20 * time.Millisecond) // let Run fall asleep with nothing to do
	at := time.Now().Add(300 * time.Millisecond)
	if err := s.SetDestroy(t.Context(), "alpha", at); err != nil {
		t.Fatal(err)
	}
	c := f.next(t)
	late := c.Time.Sub(at)
	t.Logf("fired %v after its time", late)
	if c.Cluster != "alpha" || !c.At.Equal(at) {
		t.Fatalf("fired %+v, want alpha at %v", c, at)
	}
	if late < 0 || late >= time.Second {
		t.Fatalf("fired %v after its time, want within [0, 1s)", late)
	}
	idle(t, s)
	wantNoSchedule(t, s, "alpha")
}

func TestSchedulerReplaceAndRemove(t *testing.T) {
	db := openTemp(t)
	t.Cleanup(func() { db.Close() }) // after Run stops: cleanups run last first
	f := newFiring(time.Now)
	s := NewScheduler(db, f.fire)
	ctx := t.Context()
	soon := time.Now().Add(100 * time.Millisecond)
	for _, c := range []string{"alpha", "beta", "gamma"} {
		if err := s.SetDestroy(ctx, c, soon); err != nil {
			t.Fatal(err)
		}
	}
	later := soon.Add(time.Hour)
	if err := s.SetDestroy(ctx, "alpha", later); err != nil { // replace
		t.Fatal(err)
	}
	if err := s.RemoveDestroy(ctx, "beta"); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveDestroy(ctx, "beta"); err != nil { // absent: fine
		t.Fatal(err)
	}
	if err := s.RemoveDestroy(ctx, "never-was"); err != nil {
		t.Fatal(err)
	}
	list, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Cluster != "gamma" || list[1].Cluster != "alpha" || !list[1].At.Equal(later) {
		t.Fatalf("List = %+v, want gamma then alpha at %v", list, later)
	}

	run(t, s)
	if c := f.next(t); c.Cluster != "gamma" {
		t.Fatalf("fired %+v, want gamma", c)
	}
	f.none(t, 200*time.Millisecond) // beta was removed, alpha moved an hour on
	idle(t, s)
	sc, err := s.Get(ctx, "alpha")
	if err != nil || !sc.At.Equal(later) || !sc.NextAttempt.Equal(later) || sc.Attempts != 0 {
		t.Fatalf("alpha's schedule = %+v, %v; want at %v", sc, err, later)
	}
	wantNoSchedule(t, s, "beta")
	wantNoSchedule(t, s, "gamma")
}

// TestSchedulerReplaceResets checks that a new schedule starts afresh: no
// attempts or error from the one it replaces.
func TestSchedulerReplaceResets(t *testing.T) {
	db := openMemory(t)
	t.Cleanup(func() { db.Close() }) // after Run stops: cleanups run last first
	clk := newFakeClock(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	f := newFiring(clk.Now, errors.New("boom"))
	s := NewScheduler(db, f.fire, WithClock(clk.Now, clk.After))
	ctx := t.Context()
	t0 := clk.Now()
	if err := s.SetDestroy(ctx, "alpha", t0); err != nil {
		t.Fatal(err)
	}
	stop := run(t, s)
	f.next(t)
	clk.waitSleep(t, t0.Add(2*time.Second))
	stop()
	sc, err := s.Get(ctx, "alpha")
	if err != nil || sc.Attempts != 1 || sc.LastError != "boom" {
		t.Fatalf("after a failed fire: %+v, %v", sc, err)
	}
	at := t0.Add(time.Hour)
	if err := s.SetDestroy(ctx, "alpha", at); err != nil {
		t.Fatal(err)
	}
	sc, err = s.Get(ctx, "alpha")
	if err != nil || sc != (provisioner.Schedule{Cluster: "alpha", At: at, NextAttempt: at}) {
		t.Fatalf("replaced schedule = %+v, %v; want a fresh one at %v", sc, err, at)
	}
}

// TestSchedulerMissedWhileDown sets a schedule, lets its time pass with no
// scheduler running, then starts one on the reopened file: it fires at once.
func TestSchedulerMissedWhileDown(t *testing.T) {
	path := filepath.Join(t.TempDir(), "provisioner.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	if err := NewScheduler(db, func(context.Context, string, time.Time) error {
		t.Error("a scheduler that never ran fired")
		return nil
	}).SetDestroy(t.Context(), "alpha", at); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() }) // after Run stops: cleanups run last first
	f := newFiring(time.Now)
	s := NewScheduler(db, f.fire)
	start := time.Now()
	run(t, s)
	c := f.next(t)
	if c.Cluster != "alpha" || !c.At.Equal(at) {
		t.Fatalf("fired %+v, want alpha at %v", c, at)
	}
	if d := c.Time.Sub(start); d >= time.Second {
		t.Fatalf("a missed schedule fired %v after start, want at once", d)
	}
	idle(t, s)
	wantNoSchedule(t, s, "alpha")
}

// TestSchedulerRetryBackoff fails a fire three times on a fake clock: each
// failure is recorded and retried after the default backoff, 2s, 4s, 8s,
// and the fourth, successful, fire removes the schedule.
func TestSchedulerRetryBackoff(t *testing.T) {
	db := openTemp(t)
	t.Cleanup(func() { db.Close() }) // after Run stops: cleanups run last first
	clk := newFakeClock(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	f := newFiring(clk.Now, errors.New("boom 1"), errors.New("boom 2"), provisioner.Errorf(provisioner.EUNAVAILABLE, "boom 3"))
	s := NewScheduler(db, f.fire, WithClock(clk.Now, clk.After))
	ctx := t.Context()
	t0 := clk.Now()
	if err := s.SetDestroy(ctx, "alpha", t0); err != nil {
		t.Fatal(err)
	}
	run(t, s)

	want := t0
	for i, wait := range []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second} {
		c := f.next(t)
		if !c.Time.Equal(want) || !c.At.Equal(t0) {
			t.Fatalf("attempt %d fired at %v for %v, want at %v for %v", i+1, c.Time, c.At, want, t0)
		}
		want = want.Add(wait)
		if d := clk.waitSleep(t, want); d != wait {
			t.Fatalf("after failure %d Run sleeps %v, want %v", i+1, d, wait)
		}
		sc, err := s.Get(ctx, "alpha")
		if err != nil {
			t.Fatal(err)
		}
		wantErr := fmt.Sprint(f.results[i])
		if sc.Attempts != i+1 || sc.LastError != wantErr || !sc.NextAttempt.Equal(want) || !sc.At.Equal(t0) {
			t.Fatalf("after failure %d: %+v; want attempts %d, error %q, next attempt %v", i+1, sc, i+1, wantErr, want)
		}
		clk.Advance(wait - time.Millisecond)
		if n := f.count(); n != i+1 {
			t.Fatalf("retry %d fired early", i+1)
		}
		clk.Advance(time.Millisecond)
	}
	if c := f.next(t); !c.Time.Equal(want) {
		t.Fatalf("last attempt fired at %v, want %v", c.Time, want)
	}
	idle(t, s)
	wantNoSchedule(t, s, "alpha")
	clk.waitSleep(t, want.Add(maxSleep)) // nothing left: the longest sleep
	if n := f.count(); n != 4 {
		t.Fatalf("fired %d times, want 4", n)
	}
}

// TestSchedulerInjectedBackoff retries with a backoff of the caller's, on
// the real clock.
func TestSchedulerInjectedBackoff(t *testing.T) {
	db := openTemp(t)
	t.Cleanup(func() { db.Close() }) // after Run stops: cleanups run last first
	f := newFiring(time.Now, errors.New("a"), errors.New("b"))
	var asked []int
	var mu sync.Mutex
	s := NewScheduler(db, f.fire, WithBackoff(func(n int) time.Duration {
		mu.Lock()
		defer mu.Unlock()
		asked = append(asked, n)
		return 20 * time.Millisecond
	}))
	if err := s.SetDestroy(t.Context(), "alpha", time.Now()); err != nil {
		t.Fatal(err)
	}
	run(t, s)
	calls := []fireCall{f.next(t), f.next(t), f.next(t)}
	for i := 1; i < len(calls); i++ {
		if d := calls[i].Time.Sub(calls[i-1].Time); d < 20*time.Millisecond {
			t.Errorf("retry %d came %v after the failure, before the 20ms backoff", i, d)
		}
	}
	idle(t, s)
	wantNoSchedule(t, s, "alpha")
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(asked, []int{1, 2}) {
		t.Errorf("backoff asked for attempts %v, want [1 2]", asked)
	}
}

// TestSchedulerFireOnce: a successful fire deletes the schedule, so neither
// the running scheduler nor one started later on the same file fires again.
func TestSchedulerFireOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "provisioner.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	f := newFiring(time.Now)
	s := NewScheduler(db, f.fire)
	stop := run(t, s)
	if err := s.SetDestroy(t.Context(), "alpha", time.Now().Add(50*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	f.next(t)
	f.none(t, 200*time.Millisecond)
	stop()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() }) // after Run stops: cleanups run last first
	s = NewScheduler(db, f.fire)
	run(t, s)
	f.none(t, 200*time.Millisecond)
	list, err := s.List(t.Context())
	if err != nil || len(list) != 0 {
		t.Fatalf("List after the fire = %+v, %v; want none", list, err)
	}
}

// TestSchedulerChangedDuringFire replaces or removes a schedule while its
// fire runs: whatever the fire's outcome, the change stands.
func TestSchedulerChangedDuringFire(t *testing.T) {
	for _, tc := range []struct {
		name    string
		outcome error
		remove  bool
	}{
		{"ReplacedSuccess", nil, false},
		{"ReplacedFailure", errors.New("boom"), false},
		{"RemovedFailure", errors.New("boom"), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := openTemp(t)
			t.Cleanup(func() { db.Close() }) // after Run stops: cleanups run last first
			started, release := make(chan time.Time, 10), make(chan error)
			s := NewScheduler(db, func(ctx context.Context, cluster string, at time.Time) error {
				started <- at
				return <-release
			}, WithBackoff(func(int) time.Duration { return time.Millisecond }))
			ctx := t.Context()
			first := time.Now().Add(-time.Second).Truncate(time.Millisecond).UTC()
			if err := s.SetDestroy(ctx, "alpha", first); err != nil {
				t.Fatal(err)
			}
			run(t, s)
			if at := <-started; !at.Equal(first) {
				t.Fatalf("fired for %v, want %v", at, first)
			}
			second := time.Now().Add(time.Hour).Truncate(time.Millisecond).UTC()
			if tc.remove {
				if err := s.RemoveDestroy(ctx, "alpha"); err != nil {
					t.Fatal(err)
				}
			} else if err := s.SetDestroy(ctx, "alpha", second); err != nil {
				t.Fatal(err)
			}
			release <- tc.outcome
			idle(t, s)
			select {
			case at := <-started:
				t.Fatalf("fired again, for %v", at)
			case <-time.After(50 * time.Millisecond):
			}
			if tc.remove {
				wantNoSchedule(t, s, "alpha")
				return
			}
			sc, err := s.Get(ctx, "alpha")
			if want := (provisioner.Schedule{Cluster: "alpha", At: second, NextAttempt: second}); err != nil || sc != want {
				t.Fatalf("schedule after the fire = %+v, %v; want %+v", sc, err, want)
			}
		})
	}
}

// TestSchedulerShutdownDuringFire stops Run while a fire runs: Run waits
// for it, its canceled outcome is not counted as a failure, and the
// schedule fires again on the next start.
func TestSchedulerShutdownDuringFire(t *testing.T) {
	db := openTemp(t)
	t.Cleanup(func() { db.Close() }) // after Run stops: cleanups run last first
	started := make(chan struct{}, 1)
	var returned atomic.Bool
	s := NewScheduler(db, func(ctx context.Context, cluster string, at time.Time) error {
		started <- struct{}{}
		<-ctx.Done()
		time.Sleep(20 * time.Millisecond) // Run must wait for this
		returned.Store(true)
		return ctx.Err()
	})
	ctx := t.Context()
	if err := s.SetDestroy(ctx, "alpha", time.Now()); err != nil {
		t.Fatal(err)
	}
	stop := run(t, s)
	<-started
	stop()
	if !returned.Load() {
		t.Fatal("Run returned before its fire did")
	}
	sc, err := s.Get(ctx, "alpha")
	if err != nil || sc.Attempts != 0 || sc.LastError != "" {
		t.Fatalf("schedule after an interrupted fire = %+v, %v; want it untouched", sc, err)
	}

	f := newFiring(time.Now)
	s = NewScheduler(db, f.fire)
	run(t, s)
	if c := f.next(t); c.Cluster != "alpha" {
		t.Fatalf("fired %+v, want alpha", c)
	}
}

// TestSchedulerRecordFailure makes the delete after a successful fire
// fail: the schedule fires again, not at once but after the backoff, and
// is deleted once the store works again.
func TestSchedulerRecordFailure(t *testing.T) {
	db := openTemp(t)
	t.Cleanup(func() { db.Close() })
	if _, err := db.w.Exec(`CREATE TEMP TRIGGER broken BEFORE DELETE ON schedules BEGIN SELECT RAISE(ABORT, 'disk on fire'); END`); err != nil {
		t.Fatal(err)
	}
	clk := newFakeClock(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	f := newFiring(clk.Now)
	s := NewScheduler(db, f.fire, WithClock(clk.Now, clk.After))
	t0 := clk.Now()
	if err := s.SetDestroy(t.Context(), "alpha", t0); err != nil {
		t.Fatal(err)
	}
	run(t, s)
	f.next(t)
	clk.waitSleep(t, t0.Add(2*time.Second)) // held for backoff(1), not fired in a loop
	if n := f.count(); n != 1 {
		t.Fatalf("fired %d times while the store failed, want 1", n)
	}
	if _, err := db.w.Exec(`DROP TRIGGER temp.broken`); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Second)
	if c := f.next(t); !c.Time.Equal(t0.Add(2 * time.Second)) {
		t.Fatalf("fired again at %v, want %v", c.Time, t0.Add(2*time.Second))
	}
	idle(t, s)
	wantNoSchedule(t, s, "alpha")
}

// TestSchedulerPanic treats a panicking fire as a failed one.
func TestSchedulerPanic(t *testing.T) {
	db := openTemp(t)
	t.Cleanup(func() { db.Close() }) // after Run stops: cleanups run last first
	clk := newFakeClock(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	s := NewScheduler(db, func(context.Context, string, time.Time) error { panic("driver bug") },
		WithClock(clk.Now, clk.After))
	if err := s.SetDestroy(t.Context(), "alpha", clk.Now()); err != nil {
		t.Fatal(err)
	}
	run(t, s)
	clk.waitSleep(t, clk.Now().Add(2*time.Second))
	sc, err := s.Get(t.Context(), "alpha")
	if err != nil || sc.Attempts != 1 || sc.LastError != "panic: driver bug" {
		t.Fatalf("schedule after a panicking fire = %+v, %v", sc, err)
	}
}

// TestSchedulerClockJump jumps the wall clock past a schedule an hour
// away while Run sleeps: the capped sleep notices within 30s.
func TestSchedulerClockJump(t *testing.T) {
	db := openMemory(t)
	t.Cleanup(func() { db.Close() }) // after Run stops: cleanups run last first
	clk := newFakeClock(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	f := newFiring(clk.Now)
	s := NewScheduler(db, f.fire, WithClock(clk.Now, clk.After))
	t0 := clk.Now()
	if err := s.SetDestroy(t.Context(), "alpha", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	run(t, s)
	if d := clk.waitSleep(t, t0.Add(maxSleep)); d != maxSleep {
		t.Fatalf("Run sleeps %v for a schedule an hour away, want the %v cap", d, maxSleep)
	}
	clk.Jump(time.Hour)
	f.none(t, 20*time.Millisecond)
	clk.Advance(maxSleep)
	if c := f.next(t); !c.At.Equal(t0.Add(time.Hour)) {
		t.Fatalf("fired %+v", c)
	}
}

func TestSchedulerInvalid(t *testing.T) {
	db := openMemory(t)
	t.Cleanup(func() { db.Close() }) // after Run stops: cleanups run last first
	s := NewScheduler(db, func(context.Context, string, time.Time) error { return nil })
	ctx := t.Context()
	for _, err := range []error{
		s.SetDestroy(ctx, "", time.Now()),
		s.SetDestroy(ctx, "alpha", time.Time{}),
		s.SetDestroy(ctx, "alpha", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)),
	} {
		if provisioner.ErrorCode(err) != provisioner.EINVALID {
			t.Errorf("err = %v, want %s", err, provisioner.EINVALID)
		}
	}
	list, err := s.List(ctx)
	if err != nil || len(list) != 0 {
		t.Fatalf("List = %v, %v; want none", list, err)
	}
	wantNoSchedule(t, s, "alpha")

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	for name, err := range map[string]error{
		"SetDestroy":    s.SetDestroy(canceled, "alpha", time.Now()),
		"RemoveDestroy": s.RemoveDestroy(canceled, "alpha"),
	} {
		if !errors.Is(err, context.Canceled) || provisioner.ErrorCode(err) != provisioner.EUNAVAILABLE {
			t.Errorf("%s with a canceled context: %v", name, err)
		}
	}
}

func TestSchedulerRunTwice(t *testing.T) {
	db := openMemory(t)
	t.Cleanup(func() { db.Close() }) // after Run stops: cleanups run last first
	s := NewScheduler(db, func(context.Context, string, time.Time) error { return nil })
	stop := run(t, s)
	time.Sleep(10 * time.Millisecond)
	if err := s.Run(t.Context()); provisioner.ErrorCode(err) != provisioner.ECONFLICT {
		t.Fatalf("second Run: %v, want %s", err, provisioner.ECONFLICT)
	}
	stop()
	run(t, s) // after the first returned, Run may start again
}

// TestSchedulerConcurrent sets, replaces and removes schedules from many
// goroutines while Run fires them and a third of fires fail: no cluster
// fires twice at once, none fires before its time, and every schedule
// left standing fires until it succeeds.
func TestSchedulerConcurrent(t *testing.T) {
	const clusters, workers, ops = 20, 8, 60
	db := openTemp(t)
	t.Cleanup(func() { db.Close() }) // after Run stops: cleanups run last first
	var mu sync.Mutex
	active := map[string]int{}
	var fires, failures atomic.Int64
	s := NewScheduler(db, func(ctx context.Context, cluster string, at time.Time) error {
		now := time.Now()
		mu.Lock()
		active[cluster]++
		n := active[cluster]
		mu.Unlock()
		defer func() {
			mu.Lock()
			active[cluster]--
			mu.Unlock()
		}()
		if n > 1 {
			t.Errorf("%s fires %d times at once", cluster, n)
		}
		if now.Before(at) {
			t.Errorf("%s fired at %v, before its time %v", cluster, now, at)
		}
		fires.Add(1)
		time.Sleep(time.Duration(rand.IntN(3)) * time.Millisecond)
		if rand.IntN(3) == 0 {
			failures.Add(1)
			return errors.New("flaky destroy")
		}
		return nil
	}, WithBackoff(func(int) time.Duration { return time.Millisecond }))
	run(t, s)

	ctx := t.Context()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range ops {
				name := fmt.Sprintf("c%02d", rand.IntN(clusters))
				var err error
				switch rand.IntN(5) {
				case 0:
					err = s.RemoveDestroy(ctx, name)
				case 1:
					_, err = s.List(ctx)
				case 2:
					if _, err = s.Get(ctx, name); provisioner.ErrorCode(err) == provisioner.ENOTFOUND {
						err = nil
					}
				default:
					err = s.SetDestroy(ctx, name, time.Now().Add(time.Duration(rand.IntN(40)-20)*time.Millisecond))
				}
				if err != nil {
					t.Errorf("worker %d op %d: %v", w, i, err)
				}
			}
		})
	}
	wg.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for {
		list, err := s.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("schedules left unfired: %+v", list)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("%d fires, %d failed and retried", fires.Load(), failures.Load())
}

// BenchmarkSchedulerAccuracy measures how late schedules fire with 1,000
// live ones: set at random times over 3 seconds (starting half a second
// out) into a running scheduler on a file, as serve has it. It reports the
// lateness (fire time - scheduled time) percentiles; ns/op is one round.
func BenchmarkSchedulerAccuracy(b *testing.B) {
	const n, spread, lead = 1000, 3 * time.Second, 500 * time.Millisecond
	var late []time.Duration
	for b.Loop() {
		db := openTemp(b)
		var mu sync.Mutex
		done := make(chan struct{})
		s := NewScheduler(db, func(_ context.Context, _ string, at time.Time) error {
			now := time.Now()
			mu.Lock()
			defer mu.Unlock()
			late = append(late, now.Sub(at))
			if len(late)%n == 0 {
				close(done)
			}
			return nil
		})
		stop := run(b, s)
		start := time.Now().Add(lead)
		for i := range n {
			if err := s.SetDestroy(b.Context(), fmt.Sprintf("c%04d", i), start.Add(rand.N(spread))); err != nil {
				b.Fatal(err)
			}
		}
		if set := time.Since(start.Add(-lead)); set >= lead {
			b.Fatalf("setting %d schedules took %v, more than the %v lead", n, set, lead)
		}
		select {
		case <-done:
		case <-time.After(spread + lead + 10*time.Second):
			b.Fatal("not every schedule fired")
		}
		stop()
		db.Close()
	}
	slices.Sort(late)
	pct := func(p float64) float64 {
		return float64(late[min(len(late)-1, int(p*float64(len(late))))]) / float64(time.Millisecond)
	}
	b.ReportMetric(pct(0.50), "p50-late-ms")
	b.ReportMetric(pct(0.99), "p99-late-ms")
	b.ReportMetric(float64(late[len(late)-1])/float64(time.Millisecond), "max-late-ms")
	b.ReportMetric(float64(late[0])/float64(time.Millisecond), "min-late-ms")
}

// BenchmarkSetDestroy replaces schedules of 1,000 clusters while Run
// sleeps (each call wakes it, as in service).
func BenchmarkSetDestroy(b *testing.B) {
	for name, open := range map[string]func(testing.TB) *DB{"File": openTemp, "Memory": openMemory} {
		b.Run(name, func(b *testing.B) {
			db := open(b)
			b.Cleanup(func() { db.Close() }) // after Run stops: cleanups run last first
			s := NewScheduler(db, func(context.Context, string, time.Time) error { return nil })
			run(b, s)
			ctx, at, i := b.Context(), time.Now().Add(time.Hour), 0
			b.ReportAllocs()
			for b.Loop() {
				if err := s.SetDestroy(ctx, fmt.Sprintf("c%04d", i%1000), at.Add(time.Duration(i))); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
