package app

import (
	"context"
	"sync"
)

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
