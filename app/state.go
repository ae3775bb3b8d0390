package app

import (
	"context"
	"fmt"
	"time"

	"provisioner"
)

// maxCASRetries bounds how often update retries a lost compare-and-swap.
const maxCASRetries = 8

// update loads a cluster, lets fn change it, and writes it back with the
// store's compare-and-swap, retrying from a fresh read when another process
// won the race, so no request loses another's update. fn reports whether
// to write; it may run more than once.
func (a *App) update(ctx context.Context, name string, fn func(cl *provisioner.Cluster, exists bool) (bool, error)) error {
	_, err := a.transition(ctx, name, func(cl *provisioner.Cluster, exists bool, _ *provisioner.Batch) (bool, error) {
		return fn(cl, exists)
	})
	return err
}

// transition is update whose fn may also put in b what changes with the
// cluster (the operation it starts or ends, the events that record it):
// all of it, with the events waiting in ctx's journal, is one
// Store.Apply, so a crash never leaves a state without its operation or
// its record. b starts empty on each run of fn. It reports whether it
// wrote.
func (a *App) transition(ctx context.Context, name string,
	fn func(cl *provisioner.Cluster, exists bool, b *provisioner.Batch) (bool, error)) (wrote bool, err error) {
	var b provisioner.Batch
	get := func(ctx context.Context) (provisioner.Cluster, error) { return a.store.GetCluster(ctx, name) }
	put := func(ctx context.Context, cl provisioner.Cluster) (int64, error) {
		b.Cluster = &cl
		rev, err := a.apply(ctx, b)
		wrote = err == nil
		return rev, err
	}
	err = swap(ctx, get, put, provisioner.Cluster{Name: name}, func(cl *provisioner.Cluster, exists bool) (bool, error) {
		b = provisioner.Batch{}
		return fn(cl, exists, &b)
	})
	return wrote, err
}

// swap is update's loop for any record: get reads it (ENOTFOUND: there is
// none, and fn gets blank), put writes it if its revision is still the
// stored one.
func swap[T any](ctx context.Context, get func(context.Context) (T, error), put func(context.Context, T) (int64, error),
	blank T, fn func(v *T, exists bool) (bool, error)) error {
	for i := 0; ; i++ {
		v, err := get(ctx)
		exists := err == nil
		if err != nil && provisioner.ErrorCode(err) != provisioner.ENOTFOUND {
			return err
		}
		if !exists {
			v = blank
		}
		write, err := fn(&v, exists)
		if err != nil || !write {
			return err
		}
		_, err = put(ctx, v)
		if provisioner.ErrorCode(err) != provisioner.ECONFLICT || i >= maxCASRetries {
			return err
		}
	}
}

// finishOp records an operation's final result once.
func (a *App) finishOp(ctx context.Context, id string, code, msg string) provisioner.Operation {
	op, ok := a.endedOp(ctx, id, code, msg)
	if !ok {
		return op
	}
	if err := a.store.PutOperation(ctx, op); err != nil {
		a.log.Error("cannot record operation result", "op", id, "err", err)
	}
	return op
}

// endedOp returns the operation with its final result (failure when code
// is set), to be written; false when it has one already, or cannot be read.
func (a *App) endedOp(ctx context.Context, id string, code, msg string) (provisioner.Operation, bool) {
	op, err := a.store.GetOperation(ctx, id)
	if err != nil || op.Done() {
		return op, false
	}
	op.State, op.UpdatedAt = provisioner.OpSuccess, a.now().UTC()
	if code != "" {
		op.State, op.ErrorCode, op.Message = provisioner.OpFailure, code, msg
	}
	return op, true
}

// endOp adds to b the final result of operation id (see endedOp).
func (a *App) endOp(ctx context.Context, b *provisioner.Batch, id string, code, msg string) {
	if op, ok := a.endedOp(ctx, id, code, msg); ok {
		b.Operations = append(b.Operations, op)
	}
}

// advance moves a cluster's deployment or destruction on from what the
// driver observes now. Every path that waits calls it: the watcher
// goroutine, operation polls and the reconcile sweep; it is idempotent.
func (a *App) advance(ctx context.Context, name string) error {
	ctx, end := a.journaled(ctx)
	defer end()
	unlock := a.locks.lock(name)
	defer unlock()
	cl, err := a.store.GetCluster(ctx, name)
	if provisioner.ErrorCode(err) == provisioner.ENOTFOUND {
		return nil
	} else if err != nil {
		return err
	}
	switch cl.State {
	case provisioner.StateDeploying, provisioner.StateDestroying:
	default:
		return nil
	}
	st, err := a.driver.Status(ctx, name)
	if err != nil {
		return err
	}
	pending, err := a.settle(ctx, cl.State, cl.Operation, "the cluster", st,
		func(st provisioner.DriverStatus) error { return a.finishDeployLocked(ctx, cl, st) },
		func(failure string) error { return a.finishDestroyLocked(ctx, cl, st, failure) })
	if pending && err == nil {
		// Not gone yet: the driver's Destroy may have been cut short (an
		// error, a restart); ask again until it is done.
		a.resumeDestroy(ctx, name)
	}
	return err
}

// settle is what advance does for clusters and node groups alike: from the
// record's state (deploying or destroying), its operation's deadline and
// what the driver observes (st), it ends a deployment (deployed) or a
// destruction (destroyed; failure "" when it succeeded) that is over.
// destroyPending reports a destruction that is not.
func (a *App) settle(ctx context.Context, state provisioner.ClusterState, opID, what string, st provisioner.DriverStatus,
	deployed func(provisioner.DriverStatus) error, destroyed func(failure string) error) (destroyPending bool, err error) {
	op, err := a.store.GetOperation(ctx, opID)
	if err != nil && provisioner.ErrorCode(err) != provisioner.ENOTFOUND {
		return false, err
	}
	overdue := !op.Deadline.IsZero() && a.now().After(op.Deadline)
	if state == provisioner.StateDeploying {
		if st, done := a.deployOutcome(st, overdue, what); done {
			return false, deployed(st)
		}
		return false, nil
	}
	switch {
	case st.State == provisioner.StateAbsent:
		return false, destroyed("")
	case overdue:
		return false, destroyed(fmt.Sprintf("still %s after %s", st.State, a.destroyTimeout))
	}
	return true, nil
}

func orNone(s string) string {
	if s == "" {
		return "no health check answered"
	}
	return s
}

// finishDeploy is finishDeployLocked for callers that do not hold the lock.
func (a *App) finishDeploy(ctx context.Context, name, opID string, st provisioner.DriverStatus) {
	cl, err := a.store.GetCluster(ctx, name)
	if err != nil || cl.Operation != opID {
		return
	}
	if err := a.finishDeployLocked(ctx, cl, st); err != nil {
		a.log.Error("cannot finish deploy", "cluster", name, "err", err)
	}
}

// finishDeployLocked ends a deployment: running, or failed and cleaned up
// (the driver's leftovers destroyed, the TTL schedule removed). The new
// state, the operation's result and the event are one write.
func (a *App) finishDeployLocked(ctx context.Context, cl provisioner.Cluster, st provisioner.DriverStatus) error {
	opID := cl.Operation
	running := st.State == provisioner.StateRunning
	typ, msg, code, opMsg := "state.running", "endpoint "+st.Endpoint, "", ""
	if !running {
		typ, msg, code, opMsg = "state.failed", st.Reason, provisioner.EFAILED, "deploy of "+cl.Name+" failed: "+st.Reason
	}
	wrote, err := a.transition(ctx, cl.Name, func(c *provisioner.Cluster, exists bool, b *provisioner.Batch) (bool, error) {
		if !exists || c.State != provisioner.StateDeploying || c.Operation != opID {
			return false, nil
		}
		c.State, c.UpdatedAt, c.Endpoint, c.Reason = st.State, a.now().UTC(), st.Endpoint, st.Reason
		a.endOp(ctx, b, opID, code, opMsg)
		a.note(b, cl.Name, typ, system, msg)
		return true, nil
	})
	if err != nil {
		return err
	}
	if !wrote {
		// The record moved on meanwhile; the operation still ends.
		a.finishOp(ctx, opID, code, opMsg)
		a.event(ctx, cl.Name, typ, system, msg)
	}
	if running {
		return nil
	}
	a.noticeFailure(ctx, provisioner.NoticeDeployFailed, cl, opID, st.Reason)
	if err := a.driver.Destroy(ctx, cl.Name); err != nil {
		a.log.Error("cannot clean up a failed cluster; the sweep will retry", "cluster", cl.Name, "err", err)
	}
	a.removeSchedule(ctx, cl.Name, system)
	return nil
}

// finishDestroyLocked ends a destruction: the record and every schedule
// gone on success; on failure the cluster keeps its schedule, so the
// scheduler and the sweep try again. The record's change, the operation's
// result and the events are one write.
func (a *App) finishDestroyLocked(ctx context.Context, cl provisioner.Cluster, st provisioner.DriverStatus, failure string) error {
	if failure != "" {
		// Running again only if the driver says it runs, never by default.
		state := provisioner.StateFailed
		if st.State == provisioner.StateRunning {
			state = provisioner.StateRunning
		}
		msg := "destroy of " + cl.Name + " failed: " + failure
		wrote, err := a.transition(ctx, cl.Name, func(c *provisioner.Cluster, exists bool, b *provisioner.Batch) (bool, error) {
			if !exists || c.Operation != cl.Operation || c.State != provisioner.StateDestroying {
				return false, nil
			}
			c.State, c.Reason, c.UpdatedAt = state, "destroy failed: "+failure, a.now().UTC()
			a.endOp(ctx, b, cl.Operation, provisioner.EFAILED, msg)
			a.note(b, cl.Name, "destroy.failed", system, failure)
			return true, nil
		})
		if !wrote {
			a.finishOp(ctx, cl.Operation, provisioner.EFAILED, msg)
			a.event(ctx, cl.Name, "destroy.failed", system, failure)
		}
		a.noticeFailure(ctx, provisioner.NoticeDestroyFailed, cl, cl.Operation, failure)
		return err
	}
	a.removeSchedule(ctx, cl.Name, system)
	a.forgetGroupsOf(ctx, cl.Name)
	b := provisioner.Batch{Cluster: &cl, DeleteCluster: true}
	a.endOp(ctx, &b, cl.Operation, "", "")
	a.note(&b, cl.Name, "state.absent", system, "destroyed")
	_, err := a.apply(ctx, b)
	return err
}

// follow watches a cluster's pending operation in the background until it
// ends (embedded mode; a no-op until Run is called).
func (a *App) follow(name string) {
	a.background(name, func(ctx context.Context) bool {
		if err := a.advance(ctx, name); err != nil && ctx.Err() == nil {
			a.log.Warn("advancing cluster", "cluster", name, "err", err)
		}
		cl, err := a.store.GetCluster(ctx, name)
		return err != nil || (cl.State != provisioner.StateDeploying && cl.State != provisioner.StateDestroying)
	})
}

// background runs step every poll interval under key until it reports
// done or the App stops.
func (a *App) background(key string, step func(ctx context.Context) (done bool)) {
	a.watchers.start(key, func(ctx context.Context) {
		t := time.NewTicker(a.poll)
		defer t.Stop()
		for !step(ctx) {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	})
}

// checkWait refuses a long poll longer than MaxWait.
func checkWait(wait time.Duration) error {
	if wait < 0 || wait > MaxWait {
		return provisioner.Errorf(provisioner.EINVALID, "wait must be between 0s and %s", MaxWait)
	}
	return nil
}

// pause sleeps one poll interval, or until deadline if sooner, and reports
// false when ctx ended or the service began to drain first.
func (a *App) pause(ctx context.Context, deadline time.Time) bool {
	t := time.NewTimer(min(a.poll, time.Until(deadline)))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-Draining(ctx):
		return false
	case <-t.C:
		return true
	}
}

// setSchedule makes at the cluster's destroy schedule.
func (a *App) setSchedule(ctx context.Context, name string, at time.Time, actor Caller) error {
	if a.scheduler == nil {
		return nil
	}
	if err := a.scheduler.SetDestroy(ctx, name, at); err != nil {
		return err
	}
	a.event(ctx, name, "schedule.set", actor, "destroy at "+at.UTC().Format(time.RFC3339))
	a.scheduleNotices(ctx, name, at)
	return nil
}

func (a *App) removeSchedule(ctx context.Context, name string, actor Caller) {
	if a.scheduler == nil {
		return
	}
	a.unscheduleNotices(ctx, name)
	if err := a.scheduler.RemoveDestroy(ctx, name); err != nil {
		a.log.Error("cannot remove destroy schedule", "cluster", name, "err", err)
		return
	}
	a.event(ctx, name, "schedule.removed", actor, "")
}

// event records a cluster event, and the same line in the audit trail:
// with the next write of ctx's journal, if it has one (journaled), else
// now, in one write.
func (a *App) event(ctx context.Context, cluster, typ string, actor Caller, msg string) {
	var b provisioner.Batch
	a.note(&b, cluster, typ, actor, msg)
	a.record(ctx, b)
}

// refresh re-reads a result's operation and cluster, so an answer given
// after work was started says what is true now.
func (a *App) refresh(ctx context.Context, r Result) Result {
	if op, err := a.store.GetOperation(ctx, r.Operation.ID); err == nil {
		r.Operation, r.Done = op, op.Done()
	}
	cl, err := a.store.GetCluster(ctx, r.Cluster.Name)
	switch {
	case err == nil:
		r.Cluster = cl
	case provisioner.ErrorCode(err) == provisioner.ENOTFOUND:
		r.Cluster = provisioner.Cluster{Name: r.Cluster.Name, Deployment: provisioner.Deployment{State: provisioner.StateAbsent}}
	}
	return r
}

// deployOutcome is how a deployment (of a cluster or a node group) ends,
// given what its driver reports: running, failed (also when it went away),
// failed when overdue; done is false while it may still come up.
func (a *App) deployOutcome(st provisioner.DriverStatus, overdue bool, what string) (_ provisioner.DriverStatus, done bool) {
	switch {
	case st.State == provisioner.StateRunning:
	case st.State == provisioner.StateFailed || st.State == provisioner.StateAbsent:
		if st.Reason == "" {
			st.Reason = what + " went away while deploying"
		}
		st.State = provisioner.StateFailed
	case overdue:
		st = provisioner.DriverStatus{State: provisioner.StateFailed,
			Reason: fmt.Sprintf("not running after %s: %s", a.deployTimeout, orNone(st.Reason))}
	default:
		return st, false
	}
	return st, true
}
