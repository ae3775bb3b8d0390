package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"provisioner"
	"provisioner/storetime"
)

var _ provisioner.Scheduler = (*Scheduler)(nil)

const (
	// maxSleep bounds how long Run sleeps without looking at the clock, so
	// a wall-clock jump, or a schedule written by another process, is
	// noticed within it.
	maxSleep = 30 * time.Second
	// maxBackoff caps DefaultBackoff.
	maxBackoff = 5 * time.Minute
	// retryAfterStoreError is how long Run waits after it could not read
	// the schedules.
	retryAfterStoreError = time.Second
	// writeTimeout bounds recording the outcome of a fire, which happens
	// even while Run shuts down.
	writeTimeout = 10 * time.Second
	// maxErrorLen bounds the last_error kept for a schedule.
	maxErrorLen = 2000
)

// Scheduler is the embedded provisioner.Scheduler: each cluster's one
// destroy schedule is a row of the schedules table of the same database as
// the store, so schedules survive restarts, and Run fires them.
//
// A schedule fires once: Run calls fire at or after its time, deletes the
// schedule when fire returns nil, and otherwise records the error and
// retries after a backoff, for as long as the schedule exists. A schedule
// whose time passed while nothing ran fires as soon as Run starts. Delivery
// is at least once (a crash between fire and the delete fires again), so
// fire must be idempotent.
type Scheduler struct {
	db       *DB
	fire     func(ctx context.Context, cluster string, at time.Time) error
	log      *slog.Logger
	now      func() time.Time
	after    func(time.Duration) <-chan time.Time
	backoff  func(attempts int) time.Duration
	maxSleep time.Duration

	// wake tells Run that the schedules, or the fires in flight, changed.
	wake chan struct{}

	mu       sync.Mutex
	running  bool
	inFlight map[string]bool      // clusters whose fire runs now
	hold     map[string]time.Time // clusters whose last outcome could not be recorded: not before then
}

// SchedulerOption configures NewScheduler.
type SchedulerOption func(*Scheduler)

// WithLogger logs fires, failures and retries (default: discard).
func WithLogger(l *slog.Logger) SchedulerOption {
	return func(s *Scheduler) {
		if l != nil {
			s.log = l
		}
	}
}

// WithClock replaces the clock: now tells the time, and after(d) returns a
// channel that receives once d has passed on that clock (time.After for
// nil). Tests use it to move time instead of waiting.
func WithClock(now func() time.Time, after func(d time.Duration) <-chan time.Time) SchedulerOption {
	return func(s *Scheduler) {
		if now != nil {
			s.now = now
		}
		if after != nil {
			s.after = after
		}
	}
}

// WithBackoff sets how long after its attempts-th failed fire (1, 2, ...)
// a schedule is retried (default DefaultBackoff).
func WithBackoff(backoff func(attempts int) time.Duration) SchedulerOption {
	return func(s *Scheduler) {
		if backoff != nil {
			s.backoff = backoff
		}
	}
}

// DefaultBackoff retries the n-th failure after 2^n seconds, at most five
// minutes: 2s, 4s, 8s, ... 256s, then every 5 minutes.
func DefaultBackoff(attempts int) time.Duration {
	if attempts < 1 {
		attempts = 1
	}
	if attempts >= 9 { // 2^9 s > 5 min; also keeps the shift from overflowing
		return maxBackoff
	}
	return min(time.Duration(1<<attempts)*time.Second, maxBackoff)
}

// NewScheduler returns a Scheduler that keeps its schedules in db and calls
// fire for each when it is due; nothing fires until Run. fire gets the
// cluster and the time it was scheduled for, and its context ends when Run's
// does. It panics if db or fire is nil, a wiring bug.
func NewScheduler(db *DB, fire func(ctx context.Context, cluster string, at time.Time) error, opts ...SchedulerOption) *Scheduler {
	if db == nil || fire == nil {
		panic("sqlite: NewScheduler needs a database and a fire function")
	}
	s := &Scheduler{
		db:       db,
		fire:     fire,
		log:      slog.New(slog.DiscardHandler),
		now:      time.Now,
		after:    time.After,
		backoff:  DefaultBackoff,
		maxSleep: maxSleep,
		wake:     make(chan struct{}, 1),
		inFlight: map[string]bool{},
		hold:     map[string]time.Time{},
	}
	for _, opt := range opts {
		opt(s)
	}
	return s
}

// SetDestroy schedules the cluster's destroy at at, replacing any schedule
// it had, with its attempts and last error. A time in the past fires at once.
func (s *Scheduler) SetDestroy(ctx context.Context, cluster string, at time.Time) error {
	if err := provisioner.ValidateScheduleKey(cluster); err != nil {
		return err
	}
	if at.IsZero() {
		return provisioner.Errorf(provisioner.EINVALID, "schedule time is required")
	}
	t, err := storetime.Format(at)
	if err != nil {
		return err
	}
	_, err = s.db.w.ExecContext(ctx, `
		INSERT INTO schedules (cluster, at, attempts, next_attempt, last_error) VALUES (?, ?, 0, ?, '')
		ON CONFLICT (cluster) DO UPDATE SET
			at = excluded.at, attempts = 0, next_attempt = excluded.next_attempt, last_error = ''`,
		cluster, t, t)
	if err != nil {
		return storeError(ctx, err, "save schedule")
	}
	s.release(cluster)
	return nil
}

// RemoveDestroy deletes the cluster's schedule; an absent one is not an
// error. A fire already running is not stopped, but its outcome is not
// recorded.
func (s *Scheduler) RemoveDestroy(ctx context.Context, cluster string) error {
	if err := provisioner.ValidateScheduleKey(cluster); err != nil {
		return err
	}
	if _, err := s.db.w.ExecContext(ctx, `DELETE FROM schedules WHERE cluster = ?`, cluster); err != nil {
		return storeError(ctx, err, "delete schedule")
	}
	s.release(cluster)
	return nil
}

// Get returns the cluster's schedule, or ENOTFOUND.
func (s *Scheduler) Get(ctx context.Context, cluster string) (provisioner.Schedule, error) {
	row := s.db.r.QueryRowContext(ctx,
		`SELECT cluster, at, attempts, next_attempt, last_error FROM schedules WHERE cluster = ?`, cluster)
	sc, err := scanSchedule(row)
	if errors.Is(err, sql.ErrNoRows) && ctx.Err() == nil {
		return provisioner.Schedule{}, provisioner.Errorf(provisioner.ENOTFOUND, "cluster %q has no destroy schedule", cluster)
	}
	if err != nil {
		return provisioner.Schedule{}, storeError(ctx, err, "read schedule")
	}
	return sc, nil
}

// List returns every schedule, the next to fire first.
func (s *Scheduler) List(ctx context.Context) ([]provisioner.Schedule, error) {
	return s.query(ctx, "list schedules",
		`SELECT cluster, at, attempts, next_attempt, last_error FROM schedules ORDER BY next_attempt, cluster`)
}

// Run fires schedules until ctx ends, then waits for the fires in flight
// to return and returns nil. It sleeps until the earliest due schedule (at
// most 30 seconds, so a clock jump is noticed), and SetDestroy and
// RemoveDestroy wake it at once. Fires run concurrently, one per cluster at
// a time, outside any transaction. Only one Run may run at a time: a second
// returns ECONFLICT at once.
func (s *Scheduler) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		return provisioner.Errorf(provisioner.ECONFLICT, "the scheduler is already running")
	}
	s.running = true
	s.mu.Unlock()

	var fires sync.WaitGroup
	defer func() {
		fires.Wait()
		s.mu.Lock()
		s.running = false
		s.mu.Unlock()
	}()
	select { // the first dispatch sees every change made before it
	case <-s.wake:
	default:
	}
	for {
		d := s.maxSleep
		next, err := s.dispatch(ctx, &fires)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			s.log.Error("cannot read destroy schedules; retrying", "err", err)
			d = retryAfterStoreError
		case !next.IsZero():
			d = min(next.Sub(s.now()), s.maxSleep)
		}
		if d <= 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.after(d):
		case <-s.wake:
		}
	}
}

// dispatch starts a fire for every due schedule that is not firing already
// and returns when the next one becomes due: the zero time if none is
// waiting, past times never (a due schedule that is firing wakes Run when
// its fire ends).
func (s *Scheduler) dispatch(ctx context.Context, fires *sync.WaitGroup) (time.Time, error) {
	now := s.now()
	nowText, err := storetime.Format(now)
	if err != nil {
		return time.Time{}, err
	}
	due, err := s.query(ctx, "read due schedules",
		`SELECT cluster, at, attempts, next_attempt, last_error FROM schedules
		WHERE next_attempt <= ? ORDER BY next_attempt`, nowText)
	if err != nil {
		return time.Time{}, err
	}
	var next time.Time
	s.mu.Lock()
	for _, sc := range due {
		if s.inFlight[sc.Cluster] {
			continue
		}
		if h, ok := s.hold[sc.Cluster]; ok {
			if now.Before(h) {
				if next.IsZero() || h.Before(next) {
					next = h
				}
				continue
			}
			delete(s.hold, sc.Cluster)
		}
		s.inFlight[sc.Cluster] = true
		fires.Go(func() { s.fireOne(ctx, sc) })
	}
	s.mu.Unlock()

	later, err := s.query(ctx, "read next schedule",
		`SELECT cluster, at, attempts, next_attempt, last_error FROM schedules
		WHERE next_attempt > ? ORDER BY next_attempt LIMIT 1`, nowText)
	if err != nil {
		return time.Time{}, err
	}
	if len(later) > 0 && (next.IsZero() || later[0].NextAttempt.Before(next)) {
		next = later[0].NextAttempt
	}
	return next, nil
}

// fireOne fires sc and records the outcome: deleted on success, retried
// later on failure. Either write applies only if the schedule still has
// the time it fired for: one replaced meanwhile stays as it was set.
func (s *Scheduler) fireOne(ctx context.Context, sc provisioner.Schedule) {
	err := s.callFire(ctx, sc)
	if err != nil && ctx.Err() != nil {
		// Shutting down: not the destroy's fault. The schedule stays as it
		// was and fires again when Run next starts.
		s.log.Info("destroy schedule interrupted by shutdown", "cluster", sc.Cluster, "at", sc.At, "err", err)
		s.done(sc.Cluster, time.Time{})
		return
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	n, werr := s.record(wctx, sc, err)
	if werr != nil {
		// The row still says due: fire again, but not in a tight loop.
		hold := s.now().Add(s.backoff(sc.Attempts + 1))
		s.log.Error("cannot record the outcome of a destroy schedule; it fires again", "cluster", sc.Cluster,
			"at", sc.At, "retry_at", hold, "err", werr)
		s.done(sc.Cluster, hold)
		return
	}
	if n == 0 {
		s.log.Info("destroy schedule changed while it fired; keeping the new one", "cluster", sc.Cluster, "at", sc.At)
	}
	s.done(sc.Cluster, time.Time{})
}

// record writes the outcome err of firing sc and returns how many rows it
// changed: 0 when the schedule was replaced or removed meanwhile.
func (s *Scheduler) record(ctx context.Context, sc provisioner.Schedule, err error) (int64, error) {
	at, werr := storetime.Format(sc.At)
	if werr != nil {
		return 0, werr
	}
	var res sql.Result
	if err == nil {
		s.log.Info("destroy schedule fired", "cluster", sc.Cluster, "at", sc.At, "attempts", sc.Attempts+1)
		res, werr = s.db.w.ExecContext(ctx, `DELETE FROM schedules WHERE cluster = ? AND at = ?`, sc.Cluster, at)
	} else {
		attempts := sc.Attempts + 1
		retry := s.now().Add(s.backoff(attempts))
		s.log.Warn("destroy schedule failed; will retry", "cluster", sc.Cluster, "at", sc.At,
			"attempts", attempts, "retry_at", retry, "err", err)
		next, ferr := storetime.Format(retry)
		if ferr != nil {
			return 0, ferr
		}
		res, werr = s.db.w.ExecContext(ctx, `
			UPDATE schedules SET attempts = attempts + 1, next_attempt = ?, last_error = ?
			WHERE cluster = ? AND at = ?`, next, truncateError(err), sc.Cluster, at)
	}
	if werr != nil {
		return 0, storeError(ctx, werr, "record schedule outcome")
	}
	return res.RowsAffected()
}

// callFire calls fire, turning a panic into an error so that one bad
// destroy cannot take the scheduler (and the service) down.
func (s *Scheduler) callFire(ctx context.Context, sc provisioner.Schedule) (err error) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("destroy schedule panicked", "cluster", sc.Cluster, "panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return s.fire(ctx, sc.Cluster, sc.At)
}

// done ends a fire of cluster, holding the cluster until hold if set, and
// wakes Run to look at it again.
func (s *Scheduler) done(cluster string, hold time.Time) {
	s.mu.Lock()
	delete(s.inFlight, cluster)
	if !hold.IsZero() {
		s.hold[cluster] = hold
	}
	s.mu.Unlock()
	s.signal()
}

// release lifts any hold of cluster, whose schedule was just set or
// removed, and wakes Run.
func (s *Scheduler) release(cluster string) {
	s.mu.Lock()
	delete(s.hold, cluster)
	s.mu.Unlock()
	s.signal()
}

// signal wakes Run if it sleeps, or makes its next sleep end at once.
func (s *Scheduler) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Scheduler) query(ctx context.Context, op, q string, args ...any) ([]provisioner.Schedule, error) {
	return queryAll(ctx, s.db, op, scanSchedule, q, args...)
}

func scanSchedule(s scanner) (provisioner.Schedule, error) {
	var sc provisioner.Schedule
	var at, next string
	if err := s.Scan(&sc.Cluster, &at, &sc.Attempts, &next, &sc.LastError); err != nil {
		return sc, err
	}
	var err error
	if sc.At, err = storetime.Parse(at); err != nil {
		return sc, err
	}
	sc.NextAttempt, err = storetime.Parse(next)
	return sc, err
}

// truncateError keeps the start of err's text, whole runes only.
func truncateError(err error) string {
	msg := err.Error()
	if len(msg) <= maxErrorLen {
		return msg
	}
	cut := maxErrorLen
	for cut > 0 && msg[cut]&0xC0 == 0x80 { // do not split a UTF-8 sequence
		cut--
	}
	return msg[:cut] + "..."
}
