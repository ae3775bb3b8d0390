package app

import (
	"context"
	"fmt"
	"time"

	"provisioner"
)

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
