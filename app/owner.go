package app

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"time"

	"provisioner"
)

// teamRE accepts GitHub team slugs, as the identity provider's settings do.
var teamRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

// checkTeam validates DEPLOY's team: a cluster may be shared only with a
// team the deployer is in (as of its login), or by an administrator.
func checkTeam(u provisioner.User, team string) error {
	if team == "" {
		return nil
	}
	if !teamRE.MatchString(team) {
		return provisioner.Errorf(provisioner.EINVALID, "invalid team %q: give the slug of a team of the organization", clip(team))
	}
	if u.Level >= provisioner.LevelAdmin || inTeam(u, team) {
		return nil
	}
	return provisioner.Errorf(provisioner.EFORBIDDEN, "%s is not a member of team %s (as of its login); a cluster may be shared only with a team of the deployer's", u.Login, team)
}

func inTeam(u provisioner.User, team string) bool {
	return team != "" && slices.ContainsFunc(u.Teams, func(t string) bool { return strings.EqualFold(t, team) })
}

// isOwner tells whether u deployed cl.
func isOwner(u provisioner.User, cl provisioner.Cluster) bool {
	return cl.CreatedBy != "" && strings.EqualFold(cl.CreatedBy, u.Login)
}

// mayManage is who may shorten a cluster's life or end it: its owner, a
// member of the team it is shared with, an affiliate it is granted to for
// deploying (as production lets any token naming a cluster act on it), or
// an administrator. The level rules (authorizeCluster) apply first.
func mayManage(u provisioner.User, cl provisioner.Cluster) bool {
	switch {
	case u.Level >= provisioner.LevelAdmin:
		return true
	case u.Level < provisioner.LevelMember:
		return false
	}
	return isOwner(u, cl) || inTeam(u, cl.Team) || u.Affiliation.Deploys(cl.Name)
}

// requireManager refuses what unless u may manage cl.
func requireManager(u provisioner.User, cl provisioner.Cluster, what string) error {
	if mayManage(u, cl) {
		return nil
	}
	if u.Level == provisioner.LevelAnonymous {
		return provisioner.Errorf(provisioner.EUNAUTHORIZED, "%s requires a login", what)
	}
	owner := cl.CreatedBy
	if owner == "" {
		owner = "none"
	}
	team := ""
	if cl.Team != "" {
		team = ", a member of its team " + cl.Team
	}
	return provisioner.Errorf(provisioner.EFORBIDDEN, "%s is for the cluster's owner (%s)%s or an administrator; %s is none of them", what, owner, team, u.Login)
}

// shortens tells whether moving a destroy time from before to after
// brings it earlier; a zero time is never, so any time shortens it.
func shortens(before, after time.Time) bool {
	if before.IsZero() {
		return !after.IsZero()
	}
	return !after.IsZero() && after.Before(before)
}

// seesPrivate tells whether u may see private cluster name: organization
// members and administrators see every cluster, affiliates the ones
// named to them. Others get the answers a missing cluster gets.
func seesPrivate(u provisioner.User, name string) bool {
	return u.Level >= provisioner.LevelOrgMember || u.Affiliation.Names(name)
}

// visible tells whether c may see the cluster name at all: a public one
// that exists, or any that seesPrivate allows. A cluster it may not see
// (private, destroyed or never deployed) is answered as absent.
func (a *App) visible(ctx context.Context, c Caller, name string) (bool, error) {
	if seesPrivate(c.User, name) {
		return true, nil
	}
	cl, err := a.store.GetCluster(ctx, name)
	switch {
	case provisioner.ErrorCode(err) == provisioner.ENOTFOUND:
		return false, nil
	case err != nil:
		return false, err
	}
	return cl.IsPublic, nil
}

// opVisible tells whether c may see op: administrators every one;
// a node group's to its user and whoever started it; a cluster's to
// whoever may see the cluster and whoever started it.
func (a *App) opVisible(ctx context.Context, c Caller, op provisioner.Operation) (bool, error) {
	u := c.User
	if u.Level >= provisioner.LevelAdmin || (op.CreatedBy != "" && strings.EqualFold(op.CreatedBy, u.Login)) {
		return true, nil
	}
	if _, user, group := provisioner.ParseScheduleKey(op.Cluster); group {
		return strings.EqualFold(user, u.Login), nil
	}
	if provisioner.ValidateClusterName(op.Cluster) != nil {
		return false, nil
	}
	return a.visible(ctx, c, op.Cluster)
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// formatTime is t in RFC 3339, "never" for the zero time.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}
