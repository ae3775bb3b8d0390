package app

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"provisioner"
)

// GroupRequest is the DEPLOY of a user node group (production's
// /deploy/{username}): NodeCapacity nodes of User's on Cluster for TTL.
type GroupRequest struct {
	Cluster      string // a running cluster, or "sliderule", the public one
	User         string
	NodeCapacity int
	TTL          time.Duration // zero: the default TTL
}

// GroupResult is the answer of a group's DEPLOY or DESTROY, as Result.
type GroupResult struct {
	Operation provisioner.Operation
	Group     provisioner.NodeGroup
	Done      bool
	// Budget says how a budget cut the TTL asked; nil when none did.
	Budget *BudgetShrink
}

// GroupRescheduled is the answer of a node group's EXTEND: the group,
// and how a budget cut the time asked (nil when none did).
type GroupRescheduled struct {
	Group  provisioner.NodeGroup
	Budget *BudgetShrink
}

// Operation kinds of node groups.
const (
	opDeployGroup  = "deploy_group"
	opDestroyGroup = "destroy_group"
)

// groupDriver is the driver's node group side, or why there is none.
func (a *App) groupDriver() (provisioner.NodeGroupDriver, error) {
	if a.driver == nil {
		return nil, provisioner.Errorf(provisioner.ENOTFOUND, "cluster deployment is not enabled on this provisioner")
	}
	gd, ok := a.driver.(provisioner.NodeGroupDriver)
	if !ok {
		return nil, provisioner.Errorf(provisioner.EUNAVAILABLE, "this provisioner's clusters cannot run user node groups")
	}
	return gd, nil
}

// resolveParent maps the public cluster's alias ("sliderule", the released
// client's default) to the public cluster: the configured one, else the
// only public cluster that runs. Other names must be valid cluster names.
func (a *App) resolveParent(ctx context.Context, name string) (string, error) {
	if name != provisioner.PublicClusterAlias {
		return name, provisioner.ValidateClusterName(name)
	}
	if a.publicCluster != "" {
		return a.publicCluster, nil
	}
	all, err := a.store.ListClusters(ctx)
	if err != nil {
		return "", err
	}
	var found []string
	for _, cl := range all {
		if cl.IsPublic && cl.State == provisioner.StateRunning {
			found = append(found, cl.Name)
		}
	}
	if len(found) != 1 {
		return "", provisioner.Errorf(provisioner.ENOTFOUND, "%q names the public cluster, but %d public clusters run and none is configured (--public-cluster)", name, len(found))
	}
	return found[0], nil
}

// authorizeGroup is who may act on a node group: the user itself, at
// least a member, or an administrator for anyone's.
func authorizeGroup(c Caller, user, what string) error {
	if err := provisioner.ValidateUsername(user); err != nil {
		return err
	}
	if err := requireLevel(c.User, provisioner.LevelMember, what); err != nil {
		return err
	}
	if c.User.Login != user && c.User.Level < provisioner.LevelAdmin {
		return provisioner.Errorf(provisioner.EFORBIDDEN, "%s: %s may act on its own node group only (/…/%s); other users' groups are for administrators", what, c.User.Login, c.User.Login)
	}
	return nil
}

// authorizeParent is whose groups a cluster takes: any member's on a
// public cluster; on a private one, organization members' and those of
// the affiliates it is granted to.
func authorizeParent(c Caller, cl provisioner.Cluster, what string) error {
	if cl.IsPublic {
		return nil
	}
	return requireDeployer(c.User, cl.Name, what+" (on a private cluster)")
}

// checkGroupLimits holds a group to DEPLOY's limits of the caller on its
// cluster (nodes 0: the TTL only, for EXTEND). A member outside the
// organization, who may attach a group to a public cluster only, has the
// organization members' limits; administrators the absolute ones.
func (a *App) checkGroupLimits(c Caller, cluster string, nodes int, ttl time.Duration) error {
	if ttl < MinTTL || ttl > a.limits.AbsMaxTTL {
		return provisioner.Errorf(provisioner.EINVALID, "ttl must be between %s and %s", MinTTL, a.limits.AbsMaxTTL)
	}
	maxNodes, maxTTL, bounded := a.userLimits(c.User, cluster)
	holder := limitHolder(c.User, cluster)
	if !bounded && c.User.Level < provisioner.LevelAdmin {
		maxNodes, maxTTL, bounded, holder = a.limits.MaxNodes, a.limits.MaxTTL, true, "members"
	}
	switch {
	case bounded && ttl > maxTTL:
		return provisioner.Errorf(provisioner.ELIMIT, "%s may keep a node group at most %s", holder, maxTTL)
	case bounded && nodes > maxNodes:
		return provisioner.Errorf(provisioner.ELIMIT, "%s may deploy at most %d nodes", holder, maxNodes)
	}
	return nil
}

// DeployGroup is DEPLOY of a user node group: running → success; being
// destroyed → failure; deploying → join; otherwise deploy on the running
// cluster, under DEPLOY's limits of the caller's level, with a destroy
// schedule of its own from its TTL.
func (a *App) DeployGroup(ctx context.Context, c Caller, req GroupRequest) (GroupResult, error) {
	r, err := a.deployGroup(ctx, c, &req)
	err = a.audit(ctx, c, "deploy_group", provisioner.GroupKey(req.Cluster, req.User), err, fmt.Sprintf("nodes=%d ttl=%s", req.NodeCapacity, req.TTL))
	return r, err
}

func (a *App) deployGroup(ctx context.Context, c Caller, req *GroupRequest) (GroupResult, error) {
	gd, err := a.groupDriver()
	if err != nil {
		return GroupResult{}, err
	}
	what := "DEPLOY of the node group of " + req.User
	if err := authorizeGroup(c, req.User, what); err != nil {
		return GroupResult{}, err
	}
	if req.Cluster, err = a.resolveParent(ctx, req.Cluster); err != nil {
		return GroupResult{}, err
	}
	if req.TTL == 0 {
		req.TTL = a.limits.DefaultTTL
	}
	if req.NodeCapacity < 1 || req.NodeCapacity > a.limits.AbsMaxNodes {
		return GroupResult{}, provisioner.Errorf(provisioner.EINVALID, "node_capacity must be between 1 and %d", a.limits.AbsMaxNodes)
	}
	if err := a.checkGroupLimits(c, req.Cluster, req.NodeCapacity, req.TTL); err != nil {
		return GroupResult{}, err
	}
	res, started, version, err := a.markGroupDeploying(ctx, c, *req, what)
	if err != nil || res.Done {
		return res, err
	}
	key := provisioner.GroupKey(req.Cluster, req.User)
	if started {
		g := res.Group
		a.event(ctx, key, "deploy.requested", c, fmt.Sprintf("nodes=%d ttl until %s", g.NodeCapacity, g.ExpiresAt.Format(time.RFC3339)))
		a.event(ctx, g.Cluster, "group.requested", c, fmt.Sprintf("node group of %s: nodes=%d", g.User, g.NodeCapacity))
		if err := a.setSchedule(ctx, key, g.ExpiresAt, c); err != nil {
			a.log.Error("cannot schedule the node group's TTL destroy; the reconcile sweep will catch it", "group", key, "err", err)
		}
		spec := provisioner.NodeGroupSpec{Cluster: g.Cluster, User: g.User, NodeCapacity: g.NodeCapacity,
			Version: version, CreatedBy: g.CreatedBy, ExpiresAt: g.ExpiresAt}
		if err := gd.DeployGroup(ctx, spec); err != nil {
			a.log.Error("driver group deploy failed", "group", key, "err", err)
			a.finishGroupDeploy(ctx, g.Cluster, g.User, g.Operation, provisioner.DriverStatus{State: provisioner.StateFailed, Reason: "deploy could not start: " + provisioner.ErrorMessage(err)})
		}
		res = a.refreshGroup(ctx, res)
	}
	a.followGroup(req.Cluster, req.User)
	return res, nil
}

// markGroupDeploying checks the cluster and records the group deploying
// (or finds it running, or deploying), under the cluster's lock: that
// orders it against the cluster's DESTROY, which destroys the groups it
// finds after marking the cluster. The budgets that cover the group
// (its user's, its cluster's team's, the organization's) are checked as
// for a cluster's DEPLOY, their ledgers written with the group's record.
// It returns the cluster's version.
func (a *App) markGroupDeploying(ctx context.Context, c Caller, req GroupRequest, what string) (res GroupResult, started bool, version string, err error) {
	unlockParent := a.locks.lock(req.Cluster)
	defer unlockParent()
	parent, err := a.store.GetCluster(ctx, req.Cluster)
	if provisioner.ErrorCode(err) == provisioner.ENOTFOUND {
		return res, false, "", provisioner.Errorf(provisioner.ENOTFOUND, "cluster %q does not exist", req.Cluster)
	} else if err != nil {
		return res, false, "", err
	}
	if !parent.IsPublic && !seesPrivate(c.User, parent.Name) {
		return res, false, "", provisioner.Errorf(provisioner.ENOTFOUND, "cluster %q does not exist", req.Cluster)
	}
	if err := authorizeParent(c, parent, what); err != nil {
		return res, false, "", err
	}
	if parent.State != provisioner.StateRunning {
		return res, false, "", provisioner.Errorf(provisioner.ECONFLICT, "cluster %s is %s; node groups attach to a running cluster", parent.Name, parent.State)
	}
	key := provisioner.GroupKey(req.Cluster, req.User)
	unlock := a.locks.lock(key)
	defer unlock()
	var book *budgetBook
	err = a.transitionGroup(ctx, req.Cluster, req.User, func(g *provisioner.NodeGroup, exists bool, b *provisioner.Batch) (bool, error) {
		started = false
		now := a.now().UTC()
		if exists {
			switch t := g.DestroyTime(); {
			case g.State == provisioner.StateRunning:
				res = GroupResult{Group: *g, Done: true}
				return false, nil
			case g.State == provisioner.StateDestroying:
				return false, provisioner.Errorf(provisioner.ESCHEDULED, "the node group of %s on %s is being destroyed", req.User, req.Cluster)
			case g.State == provisioner.StateDeploying && !t.IsZero() && !now.Before(t.Add(-GuardWindow)):
				return false, provisioner.Errorf(provisioner.ESCHEDULED, "the node group of %s on %s is scheduled for delete at %s", req.User, req.Cluster, t.Format(time.RFC3339))
			case g.State == provisioner.StateDeploying:
				op, err := a.store.GetOperation(ctx, g.Operation)
				res = GroupResult{Operation: op, Group: *g}
				return false, err
			}
		}
		ttl, ledgers, shrink, err := a.claimBudgets(ctx, c, &book, budgetClaim{key: key, owner: req.User, team: parent.Team,
			nodes: req.NodeCapacity, ttl: req.TTL, deploy: true, group: true}, what+" on "+req.Cluster)
		if err != nil {
			return false, err
		}
		op := a.newOperation(opDeployGroup, key, c, now, a.deployTimeout)
		created := g.CreatedAt
		if !exists {
			created = now
		}
		*g = provisioner.NodeGroup{Cluster: req.Cluster, User: req.User, Deployment: provisioner.Deployment{
			State: provisioner.StateDeploying, NodeCapacity: req.NodeCapacity, CreatedBy: c.User.Login,
			CreatedAt: created, UpdatedAt: now, ExpiresAt: now.Add(ttl), Operation: op.ID, Revision: g.Revision}}
		b.Operations = append(b.Operations, op)
		b.Budgets = ledgers
		if shrink != nil {
			a.note(b, key, eventBudgetShrink, c, shrink.Message)
		}
		res, started = GroupResult{Operation: op, Group: *g, Budget: shrink}, true
		return true, nil
	})
	return res, started, parent.Version, err
}

// updateGroup is update for node groups: read, change, compare-and-swap,
// retried on a lost race.
func (a *App) updateGroup(ctx context.Context, cluster, user string, fn func(g *provisioner.NodeGroup, exists bool) (bool, error)) error {
	get := func(ctx context.Context) (provisioner.NodeGroup, error) {
		return a.store.GetNodeGroup(ctx, cluster, user)
	}
	return swap(ctx, get, a.store.PutNodeGroup, provisioner.NodeGroup{Cluster: cluster, User: user}, fn)
}

// transitionGroup is transition for node groups: fn changes the group
// and adds to b what goes with the change (operations, the budgets'
// ledgers, events), all written in one Store.Apply under the group's
// revision, retried on a lost race.
func (a *App) transitionGroup(ctx context.Context, cluster, user string,
	fn func(g *provisioner.NodeGroup, exists bool, b *provisioner.Batch) (bool, error)) error {
	var b provisioner.Batch
	get := func(ctx context.Context) (provisioner.NodeGroup, error) {
		return a.store.GetNodeGroup(ctx, cluster, user)
	}
	put := func(ctx context.Context, g provisioner.NodeGroup) (int64, error) {
		b.NodeGroup = &g
		return a.apply(ctx, b)
	}
	return swap(ctx, get, put, provisioner.NodeGroup{Cluster: cluster, User: user}, func(g *provisioner.NodeGroup, exists bool) (bool, error) {
		b = provisioner.Batch{}
		return fn(g, exists, &b)
	})
}

// GroupStatus is STATUS of a node group (production's /status/{username});
// an absent group has state "absent".
func (a *App) GroupStatus(ctx context.Context, c Caller, cluster, user string) (provisioner.NodeGroup, error) {
	cluster, hidden, err := a.checkGroupRead(ctx, c, cluster, user, "STATUS")
	if err != nil {
		return provisioner.NodeGroup{}, err
	}
	absent := provisioner.NodeGroup{Cluster: cluster, User: user, Deployment: provisioner.Deployment{State: provisioner.StateAbsent}}
	if hidden {
		return absent, nil
	}
	g, err := a.store.GetNodeGroup(ctx, cluster, user)
	if provisioner.ErrorCode(err) == provisioner.ENOTFOUND {
		return absent, nil
	}
	return g, err
}

// GroupEvents is EVENTS of a node group, oldest first, with the driver's
// own (a stack's) when it keeps any.
func (a *App) GroupEvents(ctx context.Context, c Caller, cluster, user string) (string, []provisioner.Event, error) {
	cluster, hidden, err := a.checkGroupRead(ctx, c, cluster, user, "EVENTS")
	if err != nil || hidden {
		return cluster, nil, err
	}
	evs, err := a.store.ListEvents(ctx, provisioner.GroupKey(cluster, user), 0)
	if err != nil {
		return cluster, nil, err
	}
	if src, ok := a.driver.(provisioner.GroupEventSource); ok {
		more, err := src.GroupEvents(ctx, cluster, user)
		if err != nil {
			a.log.Warn("driver group events", "cluster", cluster, "user", user, "err", err)
		}
		evs = append(evs, more...)
		sort.SliceStable(evs, func(i, j int) bool { return evs[i].Time.Before(evs[j].Time) })
	}
	return cluster, evs, nil
}

// checkGroupRead authorizes a request on the node group of user on
// cluster and resolves the cluster's alias. hidden says the cluster is a
// private one the caller may not see: the group is then answered as
// absent, as on a cluster that does not exist.
func (a *App) checkGroupRead(ctx context.Context, c Caller, cluster, user, what string) (string, bool, error) {
	what += " of the node group of " + user
	if err := authorizeGroup(c, user, what); err != nil {
		return cluster, false, err
	}
	cluster, err := a.resolveParent(ctx, cluster)
	if err != nil {
		return cluster, false, err
	}
	if parent, err := a.store.GetCluster(ctx, cluster); err == nil {
		if !parent.IsPublic && !seesPrivate(c.User, cluster) {
			return cluster, true, nil
		}
		return cluster, false, authorizeParent(c, parent, what)
	}
	return cluster, false, nil
}

// ExtendGroup keeps a node group for ttl from now, under EXTEND's rules
// and within the budgets (budgetKeep, as a cluster's EXTEND).
func (a *App) ExtendGroup(ctx context.Context, c Caller, cluster, user string, ttl time.Duration) (GroupRescheduled, error) {
	r, err := a.extendGroup(ctx, c, cluster, user, ttl)
	err = a.audit(ctx, c, "extend_group", provisioner.GroupKey(r.Group.Cluster, user), err, ttl.String())
	return r, err
}

func (a *App) extendGroup(ctx context.Context, c Caller, cluster, user string, ttl time.Duration) (GroupRescheduled, error) {
	none := func(cluster string) GroupRescheduled {
		return GroupRescheduled{Group: provisioner.NodeGroup{Cluster: cluster}}
	}
	cluster, hidden, err := a.checkGroupRead(ctx, c, cluster, user, "EXTEND")
	if err != nil {
		return none(cluster), err
	}
	if hidden {
		return none(cluster), provisioner.Errorf(provisioner.ENOTFOUND, "%s has no node group on cluster %s", user, cluster)
	}
	if err := a.checkGroupLimits(c, cluster, 0, ttl); err != nil {
		return none(cluster), err
	}
	// The cluster's team is the group's for the budgets; a cluster
	// gone leaves the user's and the organization's.
	var team string
	if parent, err := a.store.GetCluster(ctx, cluster); err == nil {
		team = parent.Team
	} else if provisioner.ErrorCode(err) != provisioner.ENOTFOUND {
		return none(cluster), err
	}
	key := provisioner.GroupKey(cluster, user)
	unlock := a.locks.lock(key)
	defer unlock()
	var out provisioner.NodeGroup
	var shrink *BudgetShrink
	var book *budgetBook
	what := "EXTEND of the node group of " + user + " on " + cluster
	err = a.transitionGroup(ctx, cluster, user, func(g *provisioner.NodeGroup, exists bool, b *provisioner.Batch) (bool, error) {
		now := a.now().UTC()
		switch t := g.DestroyTime(); {
		case !exists:
			return false, provisioner.Errorf(provisioner.ENOTFOUND, "%s has no node group on cluster %s", user, cluster)
		case g.State == provisioner.StateDestroying:
			return false, provisioner.Errorf(provisioner.ETOOLATE, "the node group of %s on %s is being destroyed", user, cluster)
		case g.State != provisioner.StateRunning && g.State != provisioner.StateDeploying:
			return false, provisioner.Errorf(provisioner.ECONFLICT, "the node group of %s on %s is %s; deploy it first", user, cluster, g.State)
		case !t.IsZero() && !now.Before(t.Add(-GuardWindow)):
			return false, provisioner.Errorf(provisioner.ETOOLATE, "the node group of %s on %s is destroyed at %s, less than %s from now", user, cluster, t.Format(time.RFC3339), GuardWindow)
		}
		before := g.DestroyTime()
		g.ExpiresAt, g.DestroyAt, g.UpdatedAt = now.Add(ttl), time.Time{}, now
		var err error
		if shrink, err = a.budgetKeep(ctx, c, &book, budgetClaim{key: key, owner: user, team: team, group: true}, &g.Deployment, before, b, what); err != nil {
			return false, err
		}
		out = *g
		return true, nil
	})
	if err != nil {
		return none(cluster), err
	}
	return GroupRescheduled{Group: out, Budget: shrink}, a.setSchedule(ctx, key, out.DestroyTime(), c)
}

// DestroyGroup is DESTROY of a node group (production's
// /destroy/{username}); destroying an absent group succeeds.
func (a *App) DestroyGroup(ctx context.Context, c Caller, cluster, user string) (GroupResult, error) {
	r, err := a.destroyGroup(ctx, c, cluster, user)
	err = a.audit(ctx, c, "destroy_group", provisioner.GroupKey(r.Group.Cluster, user), err, "")
	return r, err
}

func (a *App) destroyGroup(ctx context.Context, c Caller, cluster, user string) (GroupResult, error) {
	if _, err := a.groupDriver(); err != nil {
		return GroupResult{}, err
	}
	cluster, hidden, err := a.checkGroupRead(ctx, c, cluster, user, "DESTROY")
	if err != nil {
		return GroupResult{Group: provisioner.NodeGroup{Cluster: cluster}}, err
	}
	if hidden {
		return GroupResult{Group: provisioner.NodeGroup{Cluster: cluster, User: user, Deployment: provisioner.Deployment{State: provisioner.StateAbsent}}, Done: true}, nil
	}
	return a.startGroupDestroy(ctx, c, cluster, user)
}

// startGroupDestroy marks the group destroying and asks the driver.
func (a *App) startGroupDestroy(ctx context.Context, c Caller, cluster, user string) (GroupResult, error) {
	gd, err := a.groupDriver()
	if err != nil {
		return GroupResult{}, err
	}
	key := provisioner.GroupKey(cluster, user)
	unlock := a.locks.lock(key)
	var res GroupResult
	var started bool
	err = a.updateGroup(ctx, cluster, user, func(g *provisioner.NodeGroup, exists bool) (bool, error) {
		started = false
		if !exists {
			res = GroupResult{Group: provisioner.NodeGroup{Cluster: cluster, User: user, Deployment: provisioner.Deployment{State: provisioner.StateAbsent}}, Done: true}
			return false, nil
		}
		if g.State == provisioner.StateDestroying {
			op, err := a.store.GetOperation(ctx, g.Operation)
			res = GroupResult{Operation: op, Group: *g}
			return false, err
		}
		now := a.now().UTC()
		op := a.newOperation(opDestroyGroup, key, c, now, a.destroyTimeout)
		if err := a.store.PutOperation(ctx, op); err != nil {
			return false, err
		}
		if g.State == provisioner.StateDeploying {
			a.finishOp(ctx, g.Operation, provisioner.EFAILED, "deploy of the node group of "+user+" was cancelled by a destroy")
		}
		g.State, g.Operation, g.UpdatedAt = provisioner.StateDestroying, op.ID, now
		res, started = GroupResult{Operation: op, Group: *g}, true
		return true, nil
	})
	unlock()
	if err != nil {
		return res, err
	}
	if res.Done {
		a.removeSchedule(ctx, key, system)
		return res, nil
	}
	if started {
		a.event(ctx, key, "destroy.requested", c, "")
		if err := gd.DestroyGroup(ctx, cluster, user); err != nil {
			a.log.Error("driver group destroy failed; waiting for the deadline or a retry", "group", key, "err", err)
		}
		if err := a.advanceGroup(ctx, cluster, user); err != nil {
			a.log.Warn("advancing group destroy", "group", key, "err", err)
		}
		res = a.refreshGroup(ctx, res)
	}
	a.followGroup(cluster, user)
	return res, nil
}

// advanceGroup is advance for a node group.
func (a *App) advanceGroup(ctx context.Context, cluster, user string) error {
	gd, err := a.groupDriver()
	if err != nil {
		return err
	}
	unlock := a.locks.lock(provisioner.GroupKey(cluster, user))
	defer unlock()
	g, err := a.store.GetNodeGroup(ctx, cluster, user)
	if provisioner.ErrorCode(err) == provisioner.ENOTFOUND {
		return nil
	} else if err != nil {
		return err
	}
	if g.State != provisioner.StateDeploying && g.State != provisioner.StateDestroying {
		return nil
	}
	st, err := gd.GroupStatus(ctx, cluster, user)
	if err != nil {
		return err
	}
	_, err = a.settle(ctx, g.State, g.Operation, "the node group", st,
		func(st provisioner.DriverStatus) error { return a.finishGroupDeployLocked(ctx, g, st) },
		func(failure string) error { return a.finishGroupDestroyLocked(ctx, g, failure) })
	return err
}

func (a *App) finishGroupDeploy(ctx context.Context, cluster, user, opID string, st provisioner.DriverStatus) {
	unlock := a.locks.lock(provisioner.GroupKey(cluster, user))
	defer unlock()
	g, err := a.store.GetNodeGroup(ctx, cluster, user)
	if err != nil || g.Operation != opID {
		return
	}
	if err := a.finishGroupDeployLocked(ctx, g, st); err != nil {
		a.log.Error("cannot finish group deploy", "group", g.Key(), "err", err)
	}
}

func (a *App) finishGroupDeployLocked(ctx context.Context, g provisioner.NodeGroup, st provisioner.DriverStatus) error {
	opID, key := g.Operation, g.Key()
	err := a.updateGroup(ctx, g.Cluster, g.User, func(cur *provisioner.NodeGroup, exists bool) (bool, error) {
		if !exists || cur.State != provisioner.StateDeploying || cur.Operation != opID {
			return false, nil
		}
		cur.State, cur.UpdatedAt, cur.Reason = st.State, a.now().UTC(), st.Reason
		return true, nil
	})
	if err != nil {
		return err
	}
	if st.State == provisioner.StateRunning {
		a.finishOp(ctx, opID, "", "")
		a.event(ctx, key, "state.running", system, fmt.Sprintf("%d nodes registered as service %s", g.NodeCapacity, g.User))
		return nil
	}
	a.finishOp(ctx, opID, provisioner.EFAILED, "deploy of the node group of "+g.User+" on "+g.Cluster+" failed: "+st.Reason)
	a.event(ctx, key, "state.failed", system, st.Reason)
	if gd, err := a.groupDriver(); err == nil {
		if err := gd.DestroyGroup(ctx, g.Cluster, g.User); err != nil {
			a.log.Error("cannot clean up a failed node group; the sweep will retry", "group", key, "err", err)
		}
	}
	a.removeSchedule(ctx, key, system)
	return nil
}

func (a *App) finishGroupDestroyLocked(ctx context.Context, g provisioner.NodeGroup, failure string) error {
	key := g.Key()
	if failure != "" {
		err := a.updateGroup(ctx, g.Cluster, g.User, func(cur *provisioner.NodeGroup, exists bool) (bool, error) {
			if !exists || cur.Operation != g.Operation || cur.State != provisioner.StateDestroying {
				return false, nil
			}
			cur.State, cur.Reason, cur.UpdatedAt = provisioner.StateRunning, "destroy failed: "+failure, a.now().UTC()
			return true, nil
		})
		a.finishOp(ctx, g.Operation, provisioner.EFAILED, "destroy of the node group of "+g.User+" failed: "+failure)
		a.event(ctx, key, "destroy.failed", system, failure)
		return err
	}
	a.removeSchedule(ctx, key, system)
	if err := a.store.DeleteNodeGroup(ctx, g.Cluster, g.User, g.Revision); err != nil {
		return err
	}
	a.finishOp(ctx, g.Operation, "", "")
	a.event(ctx, key, "state.absent", system, "destroyed")
	a.event(ctx, g.Cluster, "group.destroyed", system, "node group of "+g.User)
	return nil
}

// followGroup watches a group's pending operation in the background.
func (a *App) followGroup(cluster, user string) {
	key := provisioner.GroupKey(cluster, user)
	a.background(key, func(ctx context.Context) bool {
		if err := a.advanceGroup(ctx, cluster, user); err != nil && ctx.Err() == nil {
			a.log.Warn("advancing node group", "group", key, "err", err)
		}
		g, err := a.store.GetNodeGroup(ctx, cluster, user)
		return err != nil || (g.State != provisioner.StateDeploying && g.State != provisioner.StateDestroying)
	})
}

func (a *App) refreshGroup(ctx context.Context, r GroupResult) GroupResult {
	if op, err := a.store.GetOperation(ctx, r.Operation.ID); err == nil {
		r.Operation, r.Done = op, op.Done()
	}
	g, err := a.store.GetNodeGroup(ctx, r.Group.Cluster, r.Group.User)
	switch {
	case err == nil:
		r.Group = g
	case provisioner.ErrorCode(err) == provisioner.ENOTFOUND:
		r.Group = provisioner.NodeGroup{Cluster: r.Group.Cluster, User: r.Group.User, Deployment: provisioner.Deployment{State: provisioner.StateAbsent}}
	}
	return r
}

// fireGroupDestroy is FireDestroy for a group's schedule: it destroys the
// group, never its cluster.
func (a *App) fireGroupDestroy(ctx context.Context, cluster, user string, at time.Time) error {
	g, err := a.store.GetNodeGroup(ctx, cluster, user)
	if provisioner.ErrorCode(err) == provisioner.ENOTFOUND {
		return nil
	} else if err != nil {
		return err
	}
	if t := g.DestroyTime(); t.IsZero() || t.After(a.now()) {
		return nil
	}
	msg := "destroy scheduled for " + at.UTC().Format(time.RFC3339)
	if strings.HasPrefix(g.Reason, budgetReasonPrefix) {
		msg += "; " + g.Reason // a budget brought it forward (graceDestroy)
	}
	a.event(ctx, g.Key(), "schedule.fired", system, msg)
	_, err = a.startGroupDestroy(ctx, system, cluster, user)
	return err
}

// destroyGroupsOf destroys every node group of a cluster whose DESTROY
// started, before the cluster itself.
func (a *App) destroyGroupsOf(ctx context.Context, cluster string) {
	if _, err := a.groupDriver(); err != nil {
		return
	}
	groups, err := a.store.ListNodeGroups(ctx, cluster)
	if err != nil {
		a.log.Error("cannot list the node groups of a cluster being destroyed; the sweep will catch them", "cluster", cluster, "err", err)
		return
	}
	for _, g := range groups {
		a.event(ctx, g.Key(), "cluster.destroy", system, "destroyed with cluster "+cluster)
		if _, err := a.startGroupDestroy(ctx, system, cluster, g.User); err != nil {
			a.log.Warn("destroying a node group with its cluster", "group", g.Key(), "err", err)
		}
	}
}

// forgetGroupsOf drops the records of a destroyed cluster's groups: the
// driver removed them with the cluster.
func (a *App) forgetGroupsOf(ctx context.Context, cluster string) {
	groups, err := a.store.ListNodeGroups(ctx, cluster)
	if err != nil {
		a.log.Error("cannot list the node groups of a destroyed cluster; the sweep will catch them", "cluster", cluster, "err", err)
		return
	}
	for _, g := range groups {
		key := g.Key()
		a.removeSchedule(ctx, key, system)
		if err := a.store.DeleteNodeGroup(ctx, cluster, g.User, g.Revision); err != nil {
			a.log.Warn("forgetting a node group of a destroyed cluster", "group", key, "err", err)
			continue
		}
		if g.Operation != "" {
			a.finishOp(ctx, g.Operation, provisioner.EFAILED, "cluster "+cluster+" was destroyed")
		}
		a.event(ctx, key, "state.absent", system, "destroyed with cluster "+cluster)
	}
}

// reconcileGroups is the sweep's part for node groups: operations in
// flight advance, groups past their time or whose cluster is gone or not
// running are destroyed.
func (a *App) reconcileGroups(ctx context.Context) {
	if _, err := a.groupDriver(); err != nil {
		return
	}
	groups, err := a.store.ListNodeGroups(ctx, "")
	if err != nil {
		a.log.Error("sweep: listing node groups", "err", err)
		return
	}
	now := a.now()
	for _, g := range groups {
		if ctx.Err() != nil {
			return
		}
		parent, perr := a.store.GetCluster(ctx, g.Cluster)
		orphan := provisioner.ErrorCode(perr) == provisioner.ENOTFOUND ||
			(perr == nil && parent.State != provisioner.StateRunning && parent.State != provisioner.StateDestroying)
		switch {
		case g.State == provisioner.StateDeploying || g.State == provisioner.StateDestroying:
			if err := a.advanceGroup(ctx, g.Cluster, g.User); err != nil {
				a.log.Warn("sweep: advancing node group", "group", g.Key(), "err", err)
			}
			a.followGroup(g.Cluster, g.User)
		case orphan || (!g.DestroyTime().IsZero() && !now.Before(g.DestroyTime())):
			a.event(ctx, g.Key(), "sweep.destroy", system, "past its destroy time, or its cluster is gone")
			if _, err := a.startGroupDestroy(ctx, system, g.Cluster, g.User); err != nil {
				a.log.Warn("sweep: destroying node group", "group", g.Key(), "err", err)
			}
		}
	}
}

// NodeGroups lists the groups of a cluster ("": all) for the reports; the
// caller must be allowed to list clusters.
func (a *App) NodeGroups(ctx context.Context, c Caller, cluster string) ([]provisioner.NodeGroup, error) {
	if err := requireLevel(c.User, provisioner.LevelMember, "listing node groups"); err != nil {
		return nil, err
	}
	return a.store.ListNodeGroups(ctx, cluster)
}
