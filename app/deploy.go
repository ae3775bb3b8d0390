package app

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"provisioner"
)

// DeployRequest is DEPLOY's input, as the SlideRule Python client sends it.
type DeployRequest struct {
	Cluster      string
	IsPublic     bool
	NodeCapacity int
	TTL          time.Duration // zero: the default TTL
	Version      string        // empty: "latest"
	// Team is the organization team to share the cluster with (a slug);
	// its members then manage it as its owner, the deployer, does.
	Team string
}

// Result is the answer of a long request: Done with the final operation, or
// pending with the operation to wait for.
type Result struct {
	Operation provisioner.Operation
	Cluster   provisioner.Cluster
	Done      bool
	// Budget says how a budget cut the TTL asked; nil when none did.
	Budget *BudgetShrink
}

// system is the caller for what the provisioner does by itself (schedules,
// the reconcile sweep).
var system = Caller{User: provisioner.User{Login: "provisioner", Level: provisioner.LevelAdmin}, Source: "scheduler"}

// Deploy is the seed's DEPLOY: running → success; scheduled for delete →
// failure; deploying → join the deployment in flight; otherwise deploy, and
// the returned operation ends when the cluster runs or the deadline passes.
func (a *App) Deploy(ctx context.Context, c Caller, req DeployRequest) (Result, error) {
	ctx, end := a.journaled(ctx)
	defer end()
	r, err := a.deploy(ctx, c, req)
	err = a.audit(ctx, c, "deploy", req.Cluster, err, fmt.Sprintf("nodes=%d ttl=%s version=%s public=%t team=%s", req.NodeCapacity, req.TTL, req.Version, req.IsPublic, req.Team))
	return r, err
}

// quarantiner is a driver that keeps clusters it found running without a
// record (the local driver after a lost database): their names are not
// deployed over.
type quarantiner interface{ Quarantined() []string }

func (a *App) deploy(ctx context.Context, c Caller, req DeployRequest) (Result, error) {
	if a.driver == nil {
		return Result{}, provisioner.Errorf(provisioner.ENOTFOUND, "cluster deployment is not enabled on this provisioner")
	}
	if err := a.checkDeploy(c, &req); err != nil {
		return Result{}, err
	}
	if q, ok := a.driver.(quarantiner); ok && slices.Contains(q.Quarantined(), req.Cluster) {
		return Result{}, provisioner.Errorf(provisioner.ECONFLICT,
			"a cluster named %s is running without a record (quarantined after the database was lost); the operator must destroy it before the name can be deployed", req.Cluster)
	}
	// "running" from the record is not an answer if the cluster died
	// since it was last checked.
	a.freshen(ctx, req.Cluster)
	unlock := a.locks.lock(req.Cluster)
	defer unlock()

	var res Result
	var started bool
	var book *budgetBook
	_, err := a.transition(ctx, req.Cluster, func(cl *provisioner.Cluster, exists bool, b *provisioner.Batch) (bool, error) {
		started = false
		now := a.now().UTC()
		if exists {
			// The seed's order: running → success; scheduled for delete →
			// failure; then join a deployment in flight, or deploy.
			if cl.State == provisioner.StateRunning {
				res = Result{Cluster: *cl, Done: true}
				return false, nil
			}
			if cl.State == provisioner.StateDestroying {
				return false, provisioner.Errorf(provisioner.ESCHEDULED, "cluster %s is being destroyed", cl.Name)
			}
			if t := cl.DestroyTime(); cl.State == provisioner.StateDeploying && !t.IsZero() && !now.Before(t.Add(-GuardWindow)) {
				return false, provisioner.Errorf(provisioner.ESCHEDULED, "cluster %s is scheduled for delete at %s", cl.Name, t.Format(time.RFC3339))
			}
			if cl.State == provisioner.StateDeploying {
				op, err := a.store.GetOperation(ctx, cl.Operation)
				if err != nil {
					return false, err
				}
				res = Result{Operation: op, Cluster: *cl}
				return false, nil
			}
			if cl.IsPublic != req.IsPublic {
				// A failed cluster is redeployed as asked; its old visibility does not bind.
				if err := authorizeCluster(c.User, req.Cluster, req.IsPublic, "DEPLOY of "+req.Cluster); err != nil {
					return false, err
				}
			}
			// A failed cluster is still its owner's: redeploying it is
			// for those who may manage it, and keeps its owner and team
			// (a new team only from its owner or an administrator).
			if err := requireManager(c.User, *cl, "DEPLOY of "+req.Cluster+" (redeploying it)"); err != nil {
				return false, err
			}
			if req.Team != "" && !strings.EqualFold(req.Team, cl.Team) && !isOwner(c.User, *cl) && c.User.Level < provisioner.LevelAdmin {
				return false, provisioner.Errorf(provisioner.EFORBIDDEN, "DEPLOY of %s: only its owner (%s) or an administrator may share it with another team", req.Cluster, cl.CreatedBy)
			}
		}
		if err := a.checkQuota(ctx, c, req); err != nil {
			return false, err
		}
		owner, team := deployOwner(c, *cl, req)
		// The budgets' ledgers go with the record: of two deploys that
		// saw room for one, the second's write fails and it looks again.
		ttl, ledgers, shrink, err := a.claimBudgets(ctx, c, &book, budgetClaim{key: req.Cluster, owner: owner, team: team,
			nodes: req.NodeCapacity, ttl: req.TTL, deploy: true}, "DEPLOY of "+req.Cluster)
		if err != nil {
			return false, err
		}
		op := a.newOperation("deploy", req.Cluster, c, now, a.deployTimeout)
		created := cl.CreatedAt
		if !exists {
			created = now
		}
		*cl = provisioner.Cluster{Name: req.Cluster, IsPublic: req.IsPublic, Version: req.Version, Team: team,
			Deployment: provisioner.Deployment{State: provisioner.StateDeploying, NodeCapacity: req.NodeCapacity,
				CreatedBy: owner, CreatedAt: created, UpdatedAt: now, ExpiresAt: now.Add(ttl), Operation: op.ID,
				Revision: cl.Revision}}
		// The operation and the request's event are written with the record.
		b.Operations = append(b.Operations, op)
		b.Budgets = ledgers
		a.note(b, cl.Name, "deploy.requested", c, fmt.Sprintf("nodes=%d version=%s ttl until %s", cl.NodeCapacity, cl.Version, cl.ExpiresAt.Format(time.RFC3339)))
		if shrink != nil {
			a.note(b, cl.Name, eventBudgetShrink, c, shrink.Message)
		}
		res, started = Result{Operation: op, Cluster: *cl, Budget: shrink}, true
		return true, nil
	})
	if err != nil || res.Done {
		return res, err
	}
	if started {
		a.startDeploy(ctx, c, res.Cluster)
		// The driver may have failed at once; answer with what is true now.
		res = a.refresh(ctx, res)
	}
	a.follow(res.Cluster.Name)
	return res, nil
}

// deployOwner is who owns a cluster a DEPLOY (re)deploys, and the team
// it is shared with: a failed cluster keeps its owner, and its team
// unless the request names another.
func deployOwner(c Caller, cl provisioner.Cluster, req DeployRequest) (owner, team string) {
	owner, team = cl.CreatedBy, cl.Team
	if owner == "" {
		owner = c.User.Login
	}
	if req.Team != "" {
		team = req.Team
	}
	return owner, team
}

// startDeploy sets the TTL schedule and asks the driver to deploy; a driver
// that refuses at once fails the operation now rather than at the deadline.
func (a *App) startDeploy(ctx context.Context, c Caller, cl provisioner.Cluster) {
	if err := a.setSchedule(ctx, cl.Name, cl.ExpiresAt, c); err != nil {
		a.log.Error("cannot schedule the TTL destroy; the reconcile sweep will catch it", "cluster", cl.Name, "err", err)
	}
	spec := provisioner.ClusterSpec{Name: cl.Name, IsPublic: cl.IsPublic, NodeCapacity: cl.NodeCapacity,
		Version: cl.Version, CreatedBy: cl.CreatedBy, ExpiresAt: cl.ExpiresAt, Team: cl.Team}
	if err := a.driver.Deploy(ctx, spec); err != nil {
		a.log.Error("driver deploy failed", "cluster", cl.Name, "err", err)
		a.finishDeploy(ctx, cl.Name, cl.Operation, provisioner.DriverStatus{State: provisioner.StateFailed, Reason: "deploy could not start: " + provisioner.ErrorMessage(err)})
	}
}

// checkDeploy validates DEPLOY's input and the caller's level for it.
func (a *App) checkDeploy(c Caller, req *DeployRequest) error {
	if err := provisioner.ValidateClusterName(req.Cluster); err != nil {
		return err
	}
	if req.Version == "" {
		req.Version = "latest"
	}
	if err := provisioner.ValidateClusterVersion(req.Version); err != nil {
		return err
	}
	if req.TTL == 0 {
		req.TTL = a.limits.DefaultTTL
	}
	if err := a.checkTTL(c, req.Cluster, req.TTL); err != nil {
		return err
	}
	if req.NodeCapacity < 1 || req.NodeCapacity > a.limits.AbsMaxNodes {
		return provisioner.Errorf(provisioner.EINVALID, "node_capacity must be between 1 and %d", a.limits.AbsMaxNodes)
	}
	if err := authorizeCluster(c.User, req.Cluster, req.IsPublic, "DEPLOY of "+req.Cluster); err != nil {
		return err
	}
	if err := checkTeam(c.User, req.Team); err != nil {
		return err
	}
	if maxNodes, _, bounded := a.userLimits(c.User, req.Cluster); bounded && req.NodeCapacity > maxNodes {
		return provisioner.Errorf(provisioner.ELIMIT, "%s may deploy at most %d nodes", limitHolder(c.User, req.Cluster), maxNodes)
	}
	return nil
}

func (a *App) checkTTL(c Caller, cluster string, ttl time.Duration) error {
	if ttl < MinTTL || ttl > a.limits.AbsMaxTTL {
		return provisioner.Errorf(provisioner.EINVALID, "ttl must be between %s and %s", MinTTL, a.limits.AbsMaxTTL)
	}
	if _, maxTTL, bounded := a.userLimits(c.User, cluster); bounded && ttl > maxTTL {
		return provisioner.Errorf(provisioner.ELIMIT, "%s may keep a cluster at most %s", limitHolder(c.User, cluster), maxTTL)
	}
	return nil
}

// checkQuota enforces the org member's limit of live clusters. An
// affiliate's clusters are its quota: deploying one of them is not counted.
func (a *App) checkQuota(ctx context.Context, c Caller, req DeployRequest) error {
	if c.User.Level >= provisioner.LevelAdmin || c.User.Affiliation.Deploys(req.Cluster) {
		return nil
	}
	all, err := a.store.ListClusters(ctx)
	if err != nil {
		return err
	}
	live := 0
	for _, cl := range all {
		if cl.Name != req.Cluster && cl.CreatedBy == c.User.Login &&
			(cl.State == provisioner.StateDeploying || cl.State == provisioner.StateRunning) {
			live++
		}
	}
	if live >= a.limits.MaxClusters {
		return provisioner.Errorf(provisioner.ELIMIT, "%s already has %d live clusters; org members may have %d", c.User.Login, live, a.limits.MaxClusters)
	}
	return nil
}

// authorizeCluster is the seed's rule for DEPLOY, SCHEDULE_DESTROY and
// DESTROY: org member (or an affiliate it is granted to) for private
// clusters, administrator for public ones. Production lets an affiliate
// deploy its clusters public too; here that stays an administrator's call.
func authorizeCluster(u provisioner.User, name string, public bool, what string) error {
	if public {
		return requireLevel(u, provisioner.LevelAdmin, what+" (a public cluster)")
	}
	return requireDeployer(u, name, what)
}

// requireDeployer lets organization members, and affiliates on the
// clusters granted to them, change a cluster.
func requireDeployer(u provisioner.User, name, what string) error {
	if u.Level >= provisioner.LevelMember && u.Affiliation.Deploys(name) {
		return nil
	}
	return requireLevel(u, provisioner.LevelOrgMember, what)
}

func (a *App) newOperation(kind, cluster string, c Caller, now time.Time, timeout time.Duration) provisioner.Operation {
	return provisioner.Operation{ID: newID(), Kind: kind, Cluster: cluster, State: provisioner.OpPending,
		CreatedBy: c.User.Login, CreatedAt: now, UpdatedAt: now, Deadline: now.Add(timeout)}
}
