package app

import (
	"context"
	"sync"
	"time"

	"provisioner"
)

// A journal holds the events (each with its audit line) that a request
// records until the request's next write: a cluster change (transition),
// which carries them in its Store.Apply, or the request's own audit entry.
// A DEPLOY is then three writes (the change that starts it, its audit
// entry with the schedule's event, the change that ends it), where each
// event written on its own would be one more (four items on DynamoDB: the
// event, its audit line, and their ID guards).
//
// Only events and audit lines wait, which nothing in the request reads
// back; clusters and operations are written at once. What waits is lost
// only if the process dies before the request answers: nothing
// acknowledged is lost, as the request's audit entry goes with it.
type journal struct {
	mu      sync.Mutex
	pending provisioner.Batch // Events and Audit only
	closed  bool
}

type journalKey struct{}

// journalRoom is what the journal leaves of a batch for the change that
// carries it (cluster, operations, their events).
const journalRoom = 10

// journaled returns ctx with a journal, open until end is called, which
// writes what is left in it. A ctx that has an open journal keeps it, and
// end does nothing: the outermost scope (the request) writes.
func (a *App) journaled(ctx context.Context) (_ context.Context, end func()) {
	if journalOf(ctx) != nil {
		return ctx, func() {}
	}
	j := &journal{}
	ctx = context.WithValue(ctx, journalKey{}, j)
	return ctx, func() {
		j.mu.Lock()
		rest := j.pending
		j.pending, j.closed = provisioner.Batch{}, true
		j.mu.Unlock()
		a.writeRecords(ctx, rest)
	}
}

// journalOf returns ctx's open journal, or nil.
func journalOf(ctx context.Context) *journal {
	j, _ := ctx.Value(journalKey{}).(*journal)
	if j == nil {
		return nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return nil
	}
	return j
}

// add keeps b's events and audit lines; it reports false when the
// journal is closed. When they would leave less than journalRoom of a
// batch, it returns what it held before in full, for the caller to write
// now.
func (j *journal) add(b provisioner.Batch) (full provisioner.Batch, ok bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return provisioner.Batch{}, false
	}
	if j.pending.Len()+b.Len() > provisioner.MaxBatch-journalRoom {
		full, j.pending = j.pending, provisioner.Batch{}
	}
	j.pending.Events = append(j.pending.Events, b.Events...)
	j.pending.Audit = append(j.pending.Audit, b.Audit...)
	return full, true
}

// take empties the journal and returns what it held.
func (j *journal) take() provisioner.Batch {
	j.mu.Lock()
	defer j.mu.Unlock()
	p := j.pending
	j.pending = provisioner.Batch{}
	return p
}

// putBack returns to the journal, ahead of what came since, what a write
// that failed took from it.
func (j *journal) putBack(p provisioner.Batch) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.pending.Events = append(p.Events[:len(p.Events):len(p.Events)], j.pending.Events...)
	j.pending.Audit = append(p.Audit[:len(p.Audit):len(p.Audit)], j.pending.Audit...)
}

// apply writes b with what ctx's journal holds, in one Store.Apply; on
// failure the journal keeps it.
func (a *App) apply(ctx context.Context, b provisioner.Batch) (int64, error) {
	j := journalOf(ctx)
	if j == nil {
		return a.applied(ctx, b)
	}
	p := j.take()
	if p.Len()+b.Len() > provisioner.MaxBatch {
		a.writeRecords(ctx, p)
		p = provisioner.Batch{}
	}
	all := b
	all.Events = append(p.Events[:len(p.Events):len(p.Events)], b.Events...)
	all.Audit = append(p.Audit[:len(p.Audit):len(p.Audit)], b.Audit...)
	rev, err := a.applied(ctx, all)
	if err != nil {
		j.putBack(p)
	}
	return rev, err
}

// applied is Store.Apply, then the meter's part in the events written.
func (a *App) applied(ctx context.Context, b provisioner.Batch) (int64, error) {
	rev, err := a.store.Apply(ctx, b)
	if err == nil {
		ctx := context.WithoutCancel(ctx) // written: the meter must follow
		for _, e := range b.Events {
			a.meterEvent(ctx, e.Cluster, e.Type, e.Time)
		}
	}
	return rev, err
}

// record keeps b's events and audit lines in ctx's journal, or writes
// them now when ctx has none.
func (a *App) record(ctx context.Context, b provisioner.Batch) {
	if j := journalOf(ctx); j != nil {
		full, ok := j.add(b)
		if ok {
			a.writeRecords(ctx, full)
			return
		}
	}
	a.writeRecords(ctx, b)
}

// writeRecords writes events and audit lines in one Store.Apply, on the
// service's time (the request's context may be cancelled: the record must
// still land), and logs a failure: as ever, a lost event does not fail
// the request.
func (a *App) writeRecords(ctx context.Context, b provisioner.Batch) {
	if b.Len() == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := a.applied(ctx, b); err != nil {
		types := make([]string, len(b.Events))
		for i, e := range b.Events {
			types[i] = e.Cluster + " " + e.Type
		}
		a.log.Error("event write failed", "events", types, "err", err)
	}
}

// note adds to b a cluster event and the same line for the audit trail.
func (a *App) note(b *provisioner.Batch, cluster, typ string, actor Caller, msg string) {
	b.Events = append(b.Events, provisioner.Event{ID: newID(), Cluster: cluster, Time: a.now().UTC(), Type: typ,
		Actor: actor.User.Login, Message: msg})
	b.Audit = append(b.Audit, a.auditEntry(actor, "event."+typ, cluster, nil, msg))
}
