package app

// Who may do what: ACCESS, levels, ownership and teams, visibility of
// private clusters, and what affiliations add.

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"provisioner"
)

// Access is a successful ACCESS: the jwt_cluster for one cluster.
type Access struct {
	Token  string
	Claims provisioner.Claims
}

// Access is the seed's ACCESS(cluster, jwt_user): a public cluster needs a
// logged-in GitHub member, a private one an organization member (the
// identity provider already leaves members of no allowed team at member
// level), an administrator, or an affiliate it is granted to.
func (a *App) Access(ctx context.Context, c Caller, cluster string) (Access, error) {
	acc, err := a.access(ctx, c, cluster)
	if err = a.audit(ctx, c, "access", cluster, err, ""); err != nil {
		return Access{}, err // no token the audit log does not show
	}
	return acc, nil
}

func (a *App) access(ctx context.Context, c Caller, name string) (Access, error) {
	if err := requireLevel(c.User, provisioner.LevelMember, "ACCESS"); err != nil {
		return Access{}, err
	}
	if err := provisioner.ValidateClusterName(name); err != nil {
		return Access{}, err
	}
	notFound := provisioner.Errorf(provisioner.ENOTFOUND, "cluster %q does not exist", name)
	cl, err := a.store.GetCluster(ctx, name)
	if provisioner.ErrorCode(err) == provisioner.ENOTFOUND {
		return Access{}, notFound
	} else if err != nil {
		return Access{}, err
	}
	if !cl.IsPublic && !seesPrivate(c.User, name) {
		// Answered as a missing one: no telling it exists.
		return Access{}, notFound
	}
	if !cl.IsPublic && !mayReach(c.User, name) {
		if err := requireLevel(c.User, provisioner.LevelOrgMember, "access to private cluster "+name); err != nil {
			return Access{}, err
		}
	}
	tok, claims, err := a.tokens.IssueCluster(ctx, c.User, name)
	if err != nil {
		return Access{}, err
	}
	return Access{Token: tok, Claims: claims}, nil
}

// requireLevel answers EUNAUTHORIZED to the anonymous caller (a login would
// help) and EFORBIDDEN to a logged-in caller whose level is too low.
func requireLevel(u provisioner.User, min provisioner.Level, what string) error {
	if u.Level >= min {
		return nil
	}
	if u.Level == provisioner.LevelAnonymous {
		return provisioner.Errorf(provisioner.EUNAUTHORIZED, "%s requires a login", what)
	}
	return provisioner.Errorf(provisioner.EFORBIDDEN, "%s requires level %s; %s has level %s", what, min, u.Login, u.Level)
}

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

// affiliation looks login up in the operator's current affiliates list. A
// list that cannot be read grants nothing, as production's get_affiliation
// returns None then; the source logs why.
func (a *App) affiliation(ctx context.Context, login string) *provisioner.Affiliation {
	if a.affil == nil || login == "" {
		return nil
	}
	af, err := a.affil.Affiliation(ctx, login)
	if err != nil {
		a.log.Warn("affiliates list unavailable; no affiliation granted", "login", login, "err", err)
		return nil
	}
	return af
}

// affiliateAudience is what an affiliation adds to a login token's aud, as
// production's intersection_of_scope and generate_audience_list make it
// for a token without organization membership: the runner and the monitor
// if the affiliate keeps their scopes, and the named clusters if it keeps
// sliderule:access ("provisioner" is always there).
func affiliateAudience(af *provisioner.Affiliation) []string {
	var aud []string
	if af == nil {
		return nil
	}
	if af.Allows(provisioner.ScopeRunner) {
		aud = append(aud, provisioner.AudienceRunner)
	}
	if af.Allows(provisioner.ScopeMonitor) {
		aud = append(aud, provisioner.AudienceMonitor)
	}
	if af.Allows(provisioner.ScopeSlideRule) {
		aud = append(aud, af.Clusters...)
	}
	return aud
}

// mayReach is ACCESS's rule for a private cluster: an organization member,
// or an affiliate the cluster is granted to.
func mayReach(u provisioner.User, cluster string) bool {
	return u.Level >= provisioner.LevelOrgMember || u.Affiliation.Reaches(cluster)
}

// userLimits returns what u may deploy on cluster ("": anywhere).
// Organization members have the member limits; an affiliate on one of its
// clusters its own; an organization member who is also an affiliate the
// larger of each there. bounded is false for administrators (the absolute
// limits only), and for users who may not deploy there at all, whom the
// authorization check refuses with a clearer answer than a limit.
func (a *App) userLimits(u provisioner.User, cluster string) (maxNodes int, maxTTL time.Duration, bounded bool) {
	if u.Level >= provisioner.LevelAdmin {
		return a.limits.AbsMaxNodes, a.limits.AbsMaxTTL, false
	}
	if u.Level >= provisioner.LevelOrgMember {
		maxNodes, maxTTL, bounded = a.limits.MaxNodes, a.limits.MaxTTL, true
	}
	if af := u.Affiliation; af != nil && (cluster == "" && af.Allows(provisioner.ScopeProvisioner) || af.Deploys(cluster)) {
		maxNodes, maxTTL, bounded = max(maxNodes, af.MaxNodes), max(maxTTL, af.MaxTTL), true
	}
	if !bounded {
		return 0, 0, false
	}
	return min(maxNodes, a.limits.AbsMaxNodes), min(maxTTL, a.limits.AbsMaxTTL), true
}

// limitHolder names whose limit a refusal quotes.
func limitHolder(u provisioner.User, cluster string) string {
	if u.Level < provisioner.LevelOrgMember || u.Affiliation.Deploys(cluster) {
		return fmt.Sprintf("affiliate %s on %s", u.Login, cluster)
	}
	return "org members"
}
