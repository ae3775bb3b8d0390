package app

// Cluster records and what reads them: registration, STATUS, events,
// operations, the user's info, and the audit log and its export.

import (
	"context"
	"encoding/json"
	"io"
	"slices"
	"sort"
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

// MaxAuditExport caps one export: the audit listing has no cursor to page
// with, so a larger window is refused rather than cut short.
const MaxAuditExport = 100_000

// ExportAudit writes the audit entries at or after since, oldest first, as
// JSON lines to the log store (S3 on AWS, files on the embedded service)
// under "audit/<since>-<now>.jsonl", and returns the key and the count.
// Administrators only.
func (a *App) ExportAudit(ctx context.Context, c Caller, since time.Time) (string, int, error) {
	key, n, err := a.exportAudit(ctx, c, since)
	err = a.audit(ctx, c, "audit.export", key, err, since.UTC().Format(time.RFC3339))
	return key, n, err
}

func (a *App) exportAudit(ctx context.Context, c Caller, since time.Time) (string, int, error) {
	if err := requireLevel(c.User, provisioner.LevelAdmin, "exporting the audit log"); err != nil {
		return "", 0, err
	}
	if a.jobs.logs == nil {
		return "", 0, provisioner.Errorf(provisioner.ENOTFOUND, "this provisioner has no log store to export to")
	}
	now := a.now().UTC()
	if since.IsZero() || since.After(now) {
		return "", 0, provisioner.Errorf(provisioner.EINVALID, "since must be a time in the past")
	}
	entries, err := a.store.ListAudit(ctx, provisioner.AuditFilter{Since: since, Limit: MaxAuditExport + 1})
	if err != nil {
		return "", 0, err
	}
	if len(entries) > MaxAuditExport {
		return "", 0, provisioner.Errorf(provisioner.ETOOLARGE, "more than %d audit entries since %s: export a shorter window",
			MaxAuditExport, since.UTC().Format(time.RFC3339))
	}
	const stamp = "20060102T150405Z"
	key := "audit/" + since.UTC().Format(stamp) + "-" + now.Format(stamp) + ".jsonl"
	pr, pw := io.Pipe()
	go func() {
		enc := json.NewEncoder(pw)
		for i := len(entries) - 1; i >= 0; i-- { // ListAudit is newest first
			if err := enc.Encode(entries[i]); err != nil {
				pw.CloseWithError(provisioner.Wrap(provisioner.EINTERNAL, err, "cannot encode audit entry"))
				return
			}
		}
		pw.Close()
	}()
	err = a.jobs.logs.Put(ctx, key, pr)
	pr.CloseWithError(io.ErrClosedPipe) // unblocks the writer if Put stopped early
	if err != nil {
		return "", 0, err
	}
	return key, len(entries), nil
}
