package app

import (
	"context"
	"sort"
	"time"

	"provisioner"
)

// Status is the seed's view of a cluster; an absent cluster has state
// "absent". A cluster the caller may not see (visible) is absent too, so
// a member outside the organization cannot tell a private cluster from a
// destroyed or never deployed one.
func (a *App) Status(ctx context.Context, c Caller, name string) (provisioner.Cluster, error) {
	ok, err := a.canSee(ctx, c, name)
	if err != nil {
		return provisioner.Cluster{}, err
	}
	absent := provisioner.Cluster{Name: name, Deployment: provisioner.Deployment{State: provisioner.StateAbsent}}
	if !ok {
		return absent, nil
	}
	a.freshen(ctx, name)
	cl, err := a.store.GetCluster(ctx, name)
	if provisioner.ErrorCode(err) == provisioner.ENOTFOUND {
		return absent, nil
	}
	return cl, err
}

// Events returns a cluster's recent events, oldest first; none for a
// cluster the caller may not see, as for one that never existed.
func (a *App) Events(ctx context.Context, c Caller, name string, limit int) ([]provisioner.Event, error) {
	if limit < 0 || limit > 1000 {
		return nil, provisioner.Errorf(provisioner.EINVALID, "limit must be between 1 and 1000")
	}
	ok, err := a.canSee(ctx, c, name)
	if err != nil || !ok {
		return nil, err
	}
	evs, err := a.store.ListEvents(ctx, name, limit)
	if err != nil {
		return nil, err
	}
	// The backend's own events (a stack's resources) interleave by time;
	// when it cannot answer, the provisioner's events still stand.
	if src, ok := a.driver.(provisioner.EventSource); ok {
		more, err := src.Events(ctx, name)
		if err != nil {
			a.log.Warn("driver events", "cluster", name, "err", err)
		}
		evs = append(evs, more...)
		sort.SliceStable(evs, func(i, j int) bool { return evs[i].Time.Before(evs[j].Time) })
	}
	return evs, nil
}

// canSee checks the name and the caller's login, and tells whether the
// caller may see the cluster: members public ones that exist, affiliates
// theirs too, org members all.
func (a *App) canSee(ctx context.Context, c Caller, name string) (bool, error) {
	if err := provisioner.ValidateClusterName(name); err != nil {
		return false, err
	}
	if err := requireLevel(c.User, provisioner.LevelMember, "cluster status"); err != nil {
		return false, err
	}
	return a.visible(ctx, c, name)
}

// MaxWait bounds a long poll, so API Gateway (30 s) and proxies never cut it.
const MaxWait = 25 * time.Second

// Operation returns an operation, waiting up to wait for it to end. While
// it waits it advances the cluster itself, so operations progress even
// where no background watcher runs (Lambda).
func (a *App) Operation(ctx context.Context, c Caller, id string, wait time.Duration) (provisioner.Operation, error) {
	if err := requireLevel(c.User, provisioner.LevelMember, "operation status"); err != nil {
		return provisioner.Operation{}, err
	}
	if len(id) == 0 || len(id) > 64 {
		return provisioner.Operation{}, provisioner.Errorf(provisioner.EINVALID, "invalid operation id")
	}
	if err := checkWait(wait); err != nil {
		return provisioner.Operation{}, err
	}
	deadline := time.Now().Add(wait)
	notFound := provisioner.Errorf(provisioner.ENOTFOUND, "operation %q does not exist", id)
	for first := true; ; first = false {
		op, err := a.store.GetOperation(ctx, id)
		if provisioner.ErrorCode(err) == provisioner.ENOTFOUND {
			return provisioner.Operation{}, notFound
		}
		if err == nil && first {
			// An operation of a cluster the caller may not see is
			// answered as one that does not exist.
			if ok, verr := a.opVisible(ctx, c, op); verr != nil {
				return provisioner.Operation{}, verr
			} else if !ok {
				return provisioner.Operation{}, notFound
			}
		}
		if err != nil || op.Done() || !time.Now().Before(deadline) {
			return op, err
		}
		if cluster, user, group := provisioner.ParseScheduleKey(op.Cluster); group && a.driver != nil {
			if err := a.advanceGroup(ctx, cluster, user); err != nil {
				a.log.Warn("advancing on poll", "group", op.Cluster, "err", err)
			}
			if op2, err := a.store.GetOperation(ctx, id); err == nil && op2.Done() {
				return op2, nil
			}
		} else if a.driver != nil {
			if err := a.advance(ctx, op.Cluster); err != nil {
				a.log.Warn("advancing on poll", "cluster", op.Cluster, "err", err)
			}
			if op2, err := a.store.GetOperation(ctx, id); err == nil && op2.Done() {
				return op2, nil
			}
		}
		if !a.pause(ctx, deadline) {
			return op, nil
		}
	}
}
