package app

import (
	"context"
	"slices"
	"time"

	"provisioner"
)

// RegisterCluster records a cluster so ACCESS knows it; admin only. It stands
// in for DEPLOY until clusters are deployed by the provisioner itself.
func (a *App) RegisterCluster(ctx context.Context, c Caller, name string, public bool) (provisioner.Cluster, error) {
	cl, err := a.registerCluster(ctx, c, name, public)
	err = a.audit(ctx, c, "cluster.register", name, err, visibility(public))
	return cl, err
}

func (a *App) registerCluster(ctx context.Context, c Caller, name string, public bool) (provisioner.Cluster, error) {
	if err := requireLevel(c.User, provisioner.LevelAdmin, "registering a cluster"); err != nil {
		return provisioner.Cluster{}, err
	}
	if err := provisioner.ValidateClusterName(name); err != nil {
		return provisioner.Cluster{}, err
	}
	now := a.now().UTC()
	cl, err := a.store.GetCluster(ctx, name)
	switch provisioner.ErrorCode(err) {
	case "":
	case provisioner.ENOTFOUND:
		cl = provisioner.Cluster{Name: name, Deployment: provisioner.Deployment{CreatedBy: c.User.Login, CreatedAt: now}}
	default:
		return provisioner.Cluster{}, err
	}
	cl.IsPublic = public
	cl.UpdatedAt = now
	if cl.State == "" {
		cl.State = provisioner.StateRunning
	}
	rev, err := a.store.PutCluster(ctx, cl)
	if err != nil {
		return provisioner.Cluster{}, err
	}
	cl.Revision = rev
	return cl, nil
}

// UnregisterCluster forgets a registered cluster; admin only, idempotent.
func (a *App) UnregisterCluster(ctx context.Context, c Caller, name string) error {
	err := requireLevel(c.User, provisioner.LevelAdmin, "unregistering a cluster")
	if err == nil {
		err = provisioner.ValidateClusterName(name)
	}
	if err == nil {
		var cl provisioner.Cluster
		cl, err = a.store.GetCluster(ctx, name)
		switch {
		case provisioner.ErrorCode(err) == provisioner.ENOTFOUND:
			err = nil
		case err == nil && !cl.ExpiresAt.IsZero():
			err = provisioner.Errorf(provisioner.ECONFLICT, "cluster %s was deployed by the provisioner; destroy it instead", name)
		case err == nil:
			err = a.store.DeleteCluster(ctx, name, cl.Revision)
		}
	}
	err = a.audit(ctx, c, "cluster.unregister", name, err, "")
	return err
}

// ListClusters lists the clusters the caller may reach: public ones for
// members, private ones too for organization members and administrators,
// and for affiliates the ones granted to them.
func (a *App) ListClusters(ctx context.Context, c Caller) ([]provisioner.Cluster, error) {
	if err := requireLevel(c.User, provisioner.LevelMember, "listing clusters"); err != nil {
		return nil, err
	}
	all, err := a.store.ListClusters(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]provisioner.Cluster, 0, len(all))
	for _, cl := range all {
		if cl.IsPublic || c.User.Level >= provisioner.LevelOrgMember || c.User.Affiliation.Names(cl.Name) {
			out = append(out, cl)
		}
	}
	return out, nil
}

// Audit returns audit entries; admin only.
func (a *App) Audit(ctx context.Context, c Caller, f provisioner.AuditFilter) ([]provisioner.AuditEntry, error) {
	if err := requireLevel(c.User, provisioner.LevelAdmin, "reading the audit log"); err != nil {
		return nil, err
	}
	if f.Limit < 0 || f.Limit > 10000 {
		return nil, provisioner.Errorf(provisioner.EINVALID, "limit must be between 1 and 10000")
	}
	return a.store.ListAudit(ctx, f)
}

func visibility(public bool) string {
	if public {
		return "public"
	}
	return "private"
}

// UserInfo is production's /info: who the caller is, which clusters it
// knows of and may deploy, and its limits.
type UserInfo struct {
	Username           string
	OrgRoles           []string
	KnownClusters      []string // the clusters the caller may reach now
	DeployableClusters []string // "*" for organization members and admins: any free name
	MaxNodes           int
	MaxTTL             time.Duration
}

// Info returns the caller's UserInfo; any logged-in user may ask.
func (a *App) Info(ctx context.Context, c Caller) (UserInfo, error) {
	if err := requireLevel(c.User, provisioner.LevelMember, "user info"); err != nil {
		return UserInfo{}, err
	}
	list, err := a.ListClusters(ctx, c)
	if err != nil {
		return UserInfo{}, err
	}
	info := UserInfo{Username: c.User.Login, OrgRoles: provisioner.OrgRoles(c.User),
		KnownClusters: []string{}, DeployableClusters: []string{}}
	if info.OrgRoles == nil {
		info.OrgRoles = []string{}
	}
	for _, cl := range list {
		if cl.State != provisioner.StateAbsent {
			info.KnownClusters = append(info.KnownClusters, cl.Name)
		}
	}
	// An affiliate's clusters are known and deployable whether or not they
	// run now, as production derives both from the token's audience.
	if af := c.User.Affiliation; af != nil {
		for _, name := range af.Clusters {
			if af.Reaches(name) && !slices.Contains(info.KnownClusters, name) {
				info.KnownClusters = append(info.KnownClusters, name)
			}
			if af.Deploys(name) {
				info.DeployableClusters = append(info.DeployableClusters, name)
			}
		}
	}
	if c.User.Level >= provisioner.LevelOrgMember {
		info.DeployableClusters = []string{provisioner.AudienceAll}
	}
	if len(info.DeployableClusters) > 0 {
		info.MaxNodes, info.MaxTTL, _ = a.userLimits(c.User, "")
	}
	return info, nil
}
