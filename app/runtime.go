package app

// What the App keeps in memory only: per-key locks, watchers, health
// check times, destroys in flight, and the drain signal.

import (
	"context"
	"sync"
	"time"

	"provisioner"
)

// HealthMaxAge is by default how old the last health check of a running
// cluster may be before DEPLOY and STATUS ask the driver again rather than
// answer from the record.
const HealthMaxAge = 3 * time.Second

// resumeEvery spaces the sweep's attempts to resume a destroy that is not
// done: the driver's Destroy is idempotent, but need not be called on
// every poll.
const resumeEvery = 5 * time.Second

// runtimeState is what the App remembers in memory of its clusters'
// health checks and destroys in flight.
type runtimeState struct {
	maxAge    time.Duration
	mu        sync.Mutex
	checked   map[string]time.Time // cluster -> last health check
	destroys  map[string]bool      // cluster -> a driver Destroy runs
	attempted map[string]time.Time // cluster -> last driver Destroy started
}

// healthDue reports whether a running cluster's last health check is older
// than maxAge, and records that one is made now.
func (r *runtimeState) healthDue(name string, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if last, ok := r.checked[name]; ok && now.Sub(last) < r.maxAge && !now.Before(last) {
		return false
	}
	if r.checked == nil {
		r.checked = map[string]time.Time{}
	}
	r.checked[name] = now
	return true
}

// beginDestroy claims the cluster's driver Destroy; false when one runs,
// or (for a resume) when the last one started less than resumeEvery ago.
func (r *runtimeState) beginDestroy(name string, now time.Time, resume bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.destroys[name] {
		return false
	}
	if last, ok := r.attempted[name]; resume && ok && now.Sub(last) < resumeEvery && !now.Before(last) {
		return false
	}
	if r.destroys == nil {
		r.destroys, r.attempted = map[string]bool{}, map[string]time.Time{}
	}
	r.destroys[name], r.attempted[name] = true, now
	return true
}

func (r *runtimeState) endDestroy(name string, done bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.destroys, name)
	if done {
		delete(r.attempted, name)
		delete(r.checked, name)
	}
}

// driveDestroy calls the driver's Destroy unless one is in flight. It runs
// on a context of its own, bounded by the destroy timeout: a request
// whose client went away does not abandon it.
func (a *App) driveDestroy(ctx context.Context, name string) {
	if a.rt.beginDestroy(name, a.now(), false) {
		a.runDestroy(ctx, name)
	}
}

func (a *App) runDestroy(ctx context.Context, name string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.destroyTimeout)
	defer cancel()
	err := a.driver.Destroy(ctx, name)
	a.rt.endDestroy(name, err == nil)
	if err != nil {
		a.log.Error("driver destroy failed; the sweep resumes it", "cluster", name, "err", err)
	}
}

// resumeDestroy starts the driver's Destroy again for a cluster still
// destroying (a destroy cut short by a crash, a restart or a driver
// error): in the background when the App runs, else (Lambda) now.
func (a *App) resumeDestroy(ctx context.Context, name string) {
	if a.rt.busy(name) {
		return
	}
	run := func(ctx context.Context) {
		if a.rt.beginDestroy(name, a.now(), true) {
			a.event(ctx, name, "destroy.resumed", system, "the destroy was not done; asking the driver again")
			a.runDestroy(ctx, name)
		}
	}
	if !a.watchers.start("destroy:"+name, run) {
		run(ctx)
	}
}

func (r *runtimeState) busy(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.destroys[name]
}

// freshen asks the driver about a running cluster whose last health check
// is older than HealthMaxAge, so DEPLOY and STATUS do not answer "running"
// for a cluster that died since the sweep last looked.
func (a *App) freshen(ctx context.Context, name string) {
	if a.driver == nil {
		return
	}
	cl, err := a.store.GetCluster(ctx, name)
	if err != nil || cl.State != provisioner.StateRunning || cl.ExpiresAt.IsZero() {
		return
	}
	if a.rt.healthDue(name, a.now()) {
		a.checkAlive(ctx, cl)
	}
}

type drainKey struct{}

// WithDrain returns ctx carrying drain: once drain is closed (the service
// is shutting down), long polls under ctx stop waiting and answer with
// what is true now, so clients poll again, at the restarted service.
func WithDrain(ctx context.Context, drain <-chan struct{}) context.Context {
	return context.WithValue(ctx, drainKey{}, drain)
}

// Draining is the channel WithDrain put in ctx; nil (never ready) for none.
func Draining(ctx context.Context) <-chan struct{} {
	ch, _ := ctx.Value(drainKey{}).(<-chan struct{})
	return ch
}

// keyedMutex serializes work on one cluster inside this process; the
// store's compare-and-swap covers other processes.
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*keyedEntry
}

type keyedEntry struct {
	mu   sync.Mutex
	refs int
}

// lock locks key and returns its unlock.
func (k *keyedMutex) lock(key string) func() {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]*keyedEntry{}
	}
	e := k.locks[key]
	if e == nil {
		e = &keyedEntry{}
		k.locks[key] = e
	}
	e.refs++
	k.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		k.mu.Lock()
		if e.refs--; e.refs == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
}

// watchers tracks the goroutines that follow operations in this process, so
// shutdown can wait for them.
type watchers struct {
	mu   sync.Mutex
	ctx  context.Context
	wg   sync.WaitGroup
	busy map[string]bool // cluster -> a watcher runs
}

// start runs fn for cluster unless a watcher for it already runs or the
// App is not running in the background (Run not called: e.g. in Lambda,
// where polls and the sweep advance operations instead). It reports
// whether fn runs, or already ran, in the background.
func (w *watchers) start(cluster string, fn func(ctx context.Context)) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ctx == nil || w.ctx.Err() != nil {
		return false
	}
	if w.busy[cluster] {
		return true
	}
	if w.busy == nil {
		w.busy = map[string]bool{}
	}
	w.busy[cluster] = true
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		defer func() {
			w.mu.Lock()
			delete(w.busy, cluster)
			w.mu.Unlock()
		}()
		fn(w.ctx)
	}()
	return true
}
