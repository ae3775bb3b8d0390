package app

import (
	"context"
	"sort"
	"time"

	"provisioner"
)

// Status is the seed's view of a cluster; an absent cluster has state
// "absent". Private clusters are shown to org members only.
func (a *App) Status(ctx context.Context, c Caller, name string) (provisioner.Cluster, error) {
	if err := a.canSee(ctx, c, name); err != nil {
		return provisioner.Cluster{}, err
	}
	a.freshen(ctx, name)
	cl, err := a.store.GetCluster(ctx, name)
	if provisioner.ErrorCode(err) == provisioner.ENOTFOUND {
		return provisioner.Cluster{Name: name, State: provisioner.StateAbsent}, nil
	}
	return cl, err
}

// Events returns a cluster's recent events, oldest first.
func (a *App) Events(ctx context.Context, c Caller, name string, limit int) ([]provisioner.Event, error) {
	if err := a.canSee(ctx, c, name); err != nil {
		return nil, err
	}
	if limit < 0 || limit > 1000 {
		return nil, provisioner.Errorf(provisioner.EINVALID, "limit must be between 1 and 1000")
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

// canSee lets members see public and absent clusters, affiliates theirs
// too, org members all.
func (a *App) canSee(ctx context.Context, c Caller, name string) error {
	if err := provisioner.ValidateClusterName(name); err != nil {
		return err
	}
	if err := requireLevel(c.User, provisioner.LevelMember, "cluster status"); err != nil {
		return err
	}
	if c.User.Level >= provisioner.LevelOrgMember || c.User.Affiliation.Names(name) {
		return nil
	}
	cl, err := a.store.GetCluster(ctx, name)
	if err == nil && !cl.IsPublic {
		return requireLevel(c.User, provisioner.LevelOrgMember, "status of private cluster "+name)
	}
	return nil
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
	for {
		op, err := a.store.GetOperation(ctx, id)
		if provisioner.ErrorCode(err) == provisioner.ENOTFOUND {
			return op, provisioner.Errorf(provisioner.ENOTFOUND, "operation %q does not exist", id)
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
