package app

import (
	"context"
	"time"

	"provisioner"
)

// Destroy is the seed's DESTROY: destroy, wait up to the deadline, still
// running → failure, remove every schedule. Destroying an absent cluster
// succeeds (and removes any schedule left). A DEPLOY in flight is ended as
// failed first, so a deploy racing a destroy ends in one clear state.
func (a *App) Destroy(ctx context.Context, c Caller, name string) (Result, error) {
	ctx, end := a.journaled(ctx)
	defer end()
	r, err := a.destroy(ctx, c, name)
	err = a.audit(ctx, c, "destroy", name, err, "")
	return r, err
}

func (a *App) destroy(ctx context.Context, c Caller, name string) (Result, error) {
	if a.driver == nil {
		return Result{}, provisioner.Errorf(provisioner.ENOTFOUND, "cluster deployment is not enabled on this provisioner")
	}
	if name == provisioner.PublicClusterAlias {
		return Result{}, provisioner.Errorf(provisioner.EFORBIDDEN, "%q names the public cluster on user node group paths only, and DESTROY never destroys it; to remove your node group, POST /destroy/{username} with {\"cluster\": %q}, or let its TTL end it", name, name)
	}
	if err := provisioner.ValidateClusterName(name); err != nil {
		return Result{}, err
	}
	if err := requireDeployer(c.User, name, "DESTROY of "+name); err != nil {
		return Result{}, err
	}
	if err := a.refuseParentDestroy(ctx, c, name); err != nil {
		return Result{}, err
	}
	res, started, err := a.markDestroying(ctx, c, name)
	if err != nil {
		return res, err
	}
	if res.Done {
		return res, nil
	}
	if started {
		// From here the destroy is the service's, not the request's: a
		// client that disconnects does not abandon it.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.destroyTimeout)
		defer cancel()
		// Its node groups first, as production deletes the group stacks
		// before the cluster's.
		a.destroyGroupsOf(ctx, name)
		a.driveDestroy(ctx, name)
		// Local teardown is often immediate: look once before answering.
		if err := a.advance(ctx, name); err != nil {
			a.log.Warn("advancing destroy", "cluster", name, "err", err)
		}
		res = a.refresh(ctx, res)
	}
	a.follow(name)
	return res, nil
}

// refuseParentDestroy keeps a user's DESTROY of a cluster that carries
// the user's node group, and is not the user's, from destroying it: the
// released client in user-service mode posts /destroy {"cluster": parent}
// where it means its own group. Administrators are not refused.
func (a *App) refuseParentDestroy(ctx context.Context, c Caller, name string) error {
	if c.User.Level >= provisioner.LevelAdmin {
		return nil
	}
	cl, err := a.store.GetCluster(ctx, name)
	if err != nil || cl.CreatedBy == c.User.Login {
		return nil
	}
	if _, err := a.store.GetNodeGroup(ctx, name, c.User.Login); err != nil {
		return nil
	}
	return provisioner.Errorf(provisioner.EFORBIDDEN, "%s has a node group on cluster %s, which is not theirs: DESTROY of the cluster is refused; to remove the node group, POST /destroy/%s with {\"cluster\": %q}, or let its TTL end it", c.User.Login, name, c.User.Login, name)
}

// markDestroying moves a cluster to destroying under its lock: with its
// new operation, the end of the deploy in flight it cancels, if any, and
// the destroy.requested event, in one write.
func (a *App) markDestroying(ctx context.Context, c Caller, name string) (res Result, started bool, err error) {
	unlock := a.locks.lock(name)
	defer unlock()
	_, err = a.transition(ctx, name, func(cl *provisioner.Cluster, exists bool, b *provisioner.Batch) (bool, error) {
		started = false
		if !exists {
			res = Result{Cluster: provisioner.Cluster{Name: name, Deployment: provisioner.Deployment{State: provisioner.StateAbsent}}, Done: true}
			return false, nil
		}
		if err := authorizeCluster(c.User, name, cl.IsPublic, "DESTROY of "+name); err != nil {
			return false, err
		}
		if err := requireManager(c.User, *cl, "DESTROY of "+name); err != nil {
			return false, err
		}
		if cl.State == provisioner.StateDestroying {
			op, err := a.store.GetOperation(ctx, cl.Operation)
			res = Result{Operation: op, Cluster: *cl}
			return false, err
		}
		now := a.now().UTC()
		op := a.newOperation("destroy", name, c, now, a.destroyTimeout)
		b.Operations = append(b.Operations, op)
		if cl.State == provisioner.StateDeploying {
			a.endOp(ctx, b, cl.Operation, provisioner.EFAILED, "deploy of "+name+" was cancelled by a destroy")
		}
		a.note(b, name, "destroy.requested", c, "")
		cl.State, cl.Operation, cl.UpdatedAt = provisioner.StateDestroying, op.ID, now
		res, started = Result{Operation: op, Cluster: *cl}, true
		return true, nil
	})
	if err == nil && res.Done {
		// Absent: a schedule left behind goes too, under the lock, so a
		// DEPLOY that starts right after keeps the schedule it sets.
		a.removeSchedule(ctx, name, system)
	}
	return res, started, err
}

// ScheduleDestroy is the seed's SCHEDULE_DESTROY: a cluster whose destroy is
// within 5 minutes can no longer be rescheduled; otherwise its one destroy
// schedule is replaced by at.
func (a *App) ScheduleDestroy(ctx context.Context, c Caller, name string, at time.Time) (provisioner.Cluster, error) {
	r, err := a.ScheduleDestroyBudgeted(ctx, c, name, at)
	return r.Cluster, err
}

// Rescheduled is the answer of EXTEND and SCHEDULE_DESTROY: the cluster,
// and how a budget cut the time asked (nil when none did).
type Rescheduled struct {
	Cluster provisioner.Cluster
	Budget  *BudgetShrink
}

// ScheduleDestroyBudgeted is ScheduleDestroy that also says what a
// budget did to the time asked.
func (a *App) ScheduleDestroyBudgeted(ctx context.Context, c Caller, name string, at time.Time) (Rescheduled, error) {
	ctx, end := a.journaled(ctx)
	defer end()
	r, err := a.scheduleDestroy(ctx, c, name, at)
	err = a.audit(ctx, c, "schedule_destroy", name, err, at.UTC().Format(time.RFC3339))
	return r, err
}

func (a *App) scheduleDestroy(ctx context.Context, c Caller, name string, at time.Time) (Rescheduled, error) {
	if err := provisioner.ValidateClusterName(name); err != nil {
		return Rescheduled{}, err
	}
	if err := requireDeployer(c.User, name, "SCHEDULE_DESTROY of "+name); err != nil {
		return Rescheduled{}, err
	}
	now := a.now().UTC()
	at = at.UTC()
	_, maxTTL, bounded := a.userLimits(c.User, name)
	switch {
	case at.IsZero():
		return Rescheduled{}, provisioner.Errorf(provisioner.EINVALID, "time is required (RFC 3339)")
	case !at.After(now):
		return Rescheduled{}, provisioner.Errorf(provisioner.EINVALID, "time %s is in the past", at.Format(time.RFC3339))
	case at.Sub(now) > a.limits.AbsMaxTTL:
		return Rescheduled{}, provisioner.Errorf(provisioner.EINVALID, "time %s is more than %s away", at.Format(time.RFC3339), a.limits.AbsMaxTTL)
	case bounded && at.Sub(now) > maxTTL:
		return Rescheduled{}, provisioner.Errorf(provisioner.ELIMIT, "%s may schedule a destroy at most %s ahead", limitHolder(c.User, name), maxTTL)
	}
	return a.reschedule(ctx, c, name, "SCHEDULE_DESTROY", true, func(cl *provisioner.Cluster) { cl.DestroyAt = at })
}

// Extend keeps a cluster for ttl from now, replacing any destroy schedule,
// under the same 5-minute rule as SCHEDULE_DESTROY.
func (a *App) Extend(ctx context.Context, c Caller, name string, ttl time.Duration) (provisioner.Cluster, error) {
	r, err := a.ExtendBudgeted(ctx, c, name, ttl)
	return r.Cluster, err
}

// ExtendBudgeted is Extend that also says what a budget did to the TTL
// asked.
func (a *App) ExtendBudgeted(ctx context.Context, c Caller, name string, ttl time.Duration) (Rescheduled, error) {
	ctx, end := a.journaled(ctx)
	defer end()
	r, err := a.extend(ctx, c, name, ttl)
	err = a.audit(ctx, c, "extend", name, err, ttl.String())
	return r, err
}

func (a *App) extend(ctx context.Context, c Caller, name string, ttl time.Duration) (Rescheduled, error) {
	if err := provisioner.ValidateClusterName(name); err != nil {
		return Rescheduled{}, err
	}
	if err := requireDeployer(c.User, name, "EXTEND of "+name); err != nil {
		return Rescheduled{}, err
	}
	if err := a.checkTTL(c, name, ttl); err != nil {
		return Rescheduled{}, err
	}
	now := a.now().UTC()
	return a.reschedule(ctx, c, name, "EXTEND", false, func(cl *provisioner.Cluster) {
		cl.ExpiresAt, cl.DestroyAt = now.Add(ttl), time.Time{}
	})
}

// reschedule changes a live cluster's destroy time under the guard window.
// A change that brings the destroy earlier, and any change when manage is
// set, needs someone who may manage the cluster (mayManage); lengthening
// is open to whoever passes authorizeCluster, within the budgets
// (budgetReschedule).
func (a *App) reschedule(ctx context.Context, c Caller, name, what string, manage bool, change func(*provisioner.Cluster)) (Rescheduled, error) {
	unlock := a.locks.lock(name)
	defer unlock()
	var out provisioner.Cluster
	var shrink *BudgetShrink
	var book *budgetBook
	_, err := a.transition(ctx, name, func(cl *provisioner.Cluster, exists bool, b *provisioner.Batch) (bool, error) {
		if !exists {
			return false, provisioner.Errorf(provisioner.ENOTFOUND, "cluster %q does not exist", name)
		}
		if err := authorizeCluster(c.User, name, cl.IsPublic, what+" of "+name); err != nil {
			return false, err
		}
		now := a.now().UTC()
		switch t := cl.DestroyTime(); {
		case cl.State == provisioner.StateDestroying:
			return false, provisioner.Errorf(provisioner.ETOOLATE, "cluster %s is being destroyed", name)
		case cl.State != provisioner.StateRunning && cl.State != provisioner.StateDeploying:
			return false, provisioner.Errorf(provisioner.ECONFLICT, "cluster %s is %s; deploy it first", name, cl.State)
		case !t.IsZero() && !now.Before(t.Add(-GuardWindow)):
			return false, provisioner.Errorf(provisioner.ETOOLATE, "cluster %s is destroyed at %s, less than %s from now", name, t.Format(time.RFC3339), GuardWindow)
		}
		before := cl.DestroyTime()
		if manage {
			if err := requireManager(c.User, *cl, what+" of "+name); err != nil {
				return false, err
			}
		}
		change(cl)
		if after := cl.DestroyTime(); !manage && shortens(before, after) {
			if err := requireManager(c.User, *cl, what+" of "+name+" bringing its destroy forward (from "+formatTime(before)+" to "+formatTime(after)+")"); err != nil {
				return false, err
			}
		}
		var err error
		if shrink, err = a.budgetReschedule(ctx, c, &book, cl, before, b, what+" of "+name); err != nil {
			return false, err
		}
		cl.UpdatedAt = now
		out = *cl
		return true, nil
	})
	r := Rescheduled{Cluster: out, Budget: shrink}
	if err != nil {
		return r, err
	}
	if err := a.setSchedule(ctx, name, out.DestroyTime(), c); err != nil {
		return r, err
	}
	return r, nil
}

// FireDestroy is what the scheduler calls when a destroy schedule comes
// due: it starts the destroy unless the schedule was moved meanwhile. A
// node group's schedule (a GroupKey) destroys the group, never its cluster. An
// error makes the scheduler retry; a destroy that fails later is caught by
// the reconcile sweep, since the cluster is then past its destroy time.
func (a *App) FireDestroy(ctx context.Context, name string, at time.Time) error {
	ctx = scheduled(ctx)
	if cluster, lead, ok := provisioner.ParseNoticeKey(name); ok {
		return a.fireNotice(ctx, cluster, lead)
	}
	if cluster, user, group := provisioner.ParseScheduleKey(name); group {
		return a.fireGroupDestroy(ctx, cluster, user, at)
	}
	cl, err := a.store.GetCluster(ctx, name)
	if provisioner.ErrorCode(err) == provisioner.ENOTFOUND {
		return nil
	} else if err != nil {
		return err
	}
	if t := cl.DestroyTime(); t.IsZero() || t.After(a.now()) {
		return nil // rescheduled; the new schedule fires then
	}
	a.event(ctx, name, "schedule.fired", system, a.scheduleFired(ctx, cl, at))
	_, err = a.Destroy(ctx, system, name)
	return err
}

// scheduleFired is the schedule.fired event's message: when the destroy
// was due, and why, when a budget brought it forward.
func (a *App) scheduleFired(ctx context.Context, cl provisioner.Cluster, at time.Time) string {
	msg := "destroy scheduled for " + at.UTC().Format(time.RFC3339)
	if r := a.budgetDestroyReason(ctx, cl); r != "" {
		msg += "; " + r
	}
	return msg
}
