package app

import (
	"context"
	"fmt"
	"strings"
	"time"

	"provisioner"
)

// Run does the App's background work until ctx ends: it follows pending
// operations and runs the reconcile sweep every interval. The embedded
// service calls it; a Lambda does not, and relies on polls and the
// scheduled sweep instead.
func (a *App) Run(ctx context.Context, interval time.Duration) error {
	a.watchers.mu.Lock()
	a.watchers.ctx = ctx
	a.watchers.mu.Unlock()
	defer a.watchers.wg.Wait()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := a.Reconcile(ctx); err != nil && ctx.Err() == nil {
			a.log.Error("reconcile sweep", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Reconcile is the sweep that catches whatever the scheduler, a crash or a
// lost watcher missed: operations in flight are advanced (and failed at
// their deadline), clusters past their destroy time are destroyed, and
// running clusters whose processes died are marked failed.
func (a *App) Reconcile(ctx context.Context) error {
	ctx = scheduled(ctx)
	if now, last := a.now(), a.lastPrune.Load(); now.UnixNano()-last >= int64(pruneEvery) && a.lastPrune.CompareAndSwap(last, now.UnixNano()) {
		if _, err := a.PruneHistory(ctx); err != nil {
			a.log.Error("pruning history", "err", err)
		}
	}
	if err := a.reconcileJobs(ctx); err != nil {
		a.log.Error("reconcile jobs", "err", err)
	}
	a.reconcileUsage(ctx)
	if a.driver == nil {
		return nil
	}
	a.reconcileBudgets(ctx)
	a.reconcileGroups(ctx)
	all, err := a.store.ListClusters(ctx)
	if err != nil {
		return err
	}
	now := a.now()
	for _, cl := range all {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := a.sweepNotice(ctx, cl); err != nil {
			a.log.Warn("sweep: notice", "cluster", cl.Name, "err", err)
		}
		switch {
		case cl.State == provisioner.StateDeploying || cl.State == provisioner.StateDestroying:
			if err := a.advance(ctx, cl.Name); err != nil {
				a.log.Warn("sweep: advancing", "cluster", cl.Name, "err", err)
			}
			a.follow(cl.Name)
		case !cl.DestroyTime().IsZero() && !now.Before(cl.DestroyTime()):
			msg := "past its destroy time " + cl.DestroyTime().UTC().Format(time.RFC3339)
			if r := a.budgetDestroyReason(ctx, cl); r != "" {
				msg += "; " + r
			}
			a.event(ctx, cl.Name, "sweep.destroy", system, msg)
			if _, err := a.Destroy(ctx, system, cl.Name); err != nil {
				a.log.Warn("sweep: destroying", "cluster", cl.Name, "err", err)
			}
		case cl.State == provisioner.StateRunning && !cl.ExpiresAt.IsZero():
			a.checkAlive(ctx, cl)
		}
	}
	return nil
}

// checkAlive marks a running cluster failed when its driver lost it, and
// records on a running one what its driver says of its health (fewer
// nodes answering), with an event when that changes.
func (a *App) checkAlive(ctx context.Context, cl provisioner.Cluster) {
	a.rt.healthDue(cl.Name, a.now()) // the sweep's look counts as a check
	st, err := a.driver.Status(ctx, cl.Name)
	if err != nil || st.State == provisioner.StateDeploying {
		return
	}
	unlock := a.locks.lock(cl.Name)
	defer unlock()
	if st.State == provisioner.StateRunning {
		a.recordHealth(ctx, cl.Name, st)
		return
	}
	reason := "lost: the driver reports " + string(st.State)
	if st.Reason != "" {
		reason += ": " + st.Reason
	}
	err = a.update(ctx, cl.Name, func(c *provisioner.Cluster, exists bool) (bool, error) {
		if !exists || c.State != provisioner.StateRunning {
			return false, nil
		}
		c.State, c.Reason, c.UpdatedAt = provisioner.StateFailed, reason, a.now().UTC()
		return true, nil
	})
	if err == nil {
		a.event(ctx, cl.Name, "state.failed", system, reason)
		// What is left of it is stopped on the service's time, not the caller's.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.destroyTimeout)
		defer cancel()
		if err := a.driver.Destroy(dctx, cl.Name); err != nil {
			a.log.Error("cannot clean up a lost cluster", "cluster", cl.Name, "err", err)
		}
		a.removeSchedule(ctx, cl.Name, system)
	}
}

// healthPrefix starts the reason of a running cluster whose driver reports
// failing health checks.
const healthPrefix = "unhealthy: "

// recordHealth keeps a running cluster's reason in step with its driver's
// (empty when healthy), with a health.degraded or health.ok event when it
// changes. Called under the cluster's lock.
func (a *App) recordHealth(ctx context.Context, name string, st provisioner.DriverStatus) {
	var before string
	changed := false
	reason := ""
	if st.Reason != "" {
		reason = healthPrefix + st.Reason
	}
	err := a.update(ctx, name, func(c *provisioner.Cluster, exists bool) (bool, error) {
		changed = false
		// A reason of another kind (a failed destroy) stays until a
		// health reason replaces it.
		if !exists || c.State != provisioner.StateRunning || c.Reason == reason ||
			(reason == "" && !strings.HasPrefix(c.Reason, healthPrefix)) {
			return false, nil
		}
		before, changed = c.Reason, true
		c.Reason, c.UpdatedAt = reason, a.now().UTC()
		return true, nil
	})
	switch {
	case err != nil || !changed:
	case st.Reason == "":
		a.event(ctx, name, "health.ok", system, "every check answers again (was: "+before+")")
	default:
		a.event(ctx, name, "health.degraded", system, fmt.Sprintf("%d of the nodes answer: %s", st.Nodes, st.Reason))
	}
}

// pruneEvery is how often the sweep prunes old history.
const pruneEvery = time.Hour

// PruneHistory deletes audit entries and cluster events older than their
// retention from a store that prunes itself (SQLite; DynamoDB expires them
// by TTL) and returns how many went. The sweep calls it hourly.
func (a *App) PruneHistory(ctx context.Context) (int64, error) {
	p, ok := a.store.(provisioner.HistoryPruner)
	if !ok || (a.auditRetention <= 0 && a.eventRetention <= 0) {
		return 0, nil
	}
	var auditBefore, eventsBefore time.Time
	now := a.now()
	if a.auditRetention > 0 {
		auditBefore = now.Add(-a.auditRetention)
	}
	if a.eventRetention > 0 {
		eventsBefore = now.Add(-a.eventRetention)
	}
	n, err := p.PruneHistory(ctx, auditBefore, eventsBefore)
	if n > 0 {
		a.log.Info("pruned history", "records", n, "audit_before", auditBefore, "events_before", eventsBefore)
	}
	return n, err
}
