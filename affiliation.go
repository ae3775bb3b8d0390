package provisioner

import (
	"context"
	"slices"
	"time"
)

// Production's login scopes (apps/authenticator/github_oauth.py: GUEST,
// MEMBER, OWNER and THIRD_PARTY scopes), the values an affiliate's
// allowed_scopes may hold. A personal access token logs in with the member
// scopes; an affiliate's login keeps those its allowed_scopes also list.
const (
	ScopeSlideRule   = "sliderule:access"
	ScopeMonitor     = "monitor:access"
	ScopeProvisioner = "provisioner:access"
	ScopeRunner      = "runner:access"
	ScopeAdmin       = "sliderule:admin"
	ScopeMCPTools    = "mcp:tools"
	ScopeMCPRes      = "mcp:resources"
	ScopeMCPAccess   = "mcp:access"
)

// Scopes is production's set of scopes, in its order.
var Scopes = []string{ScopeSlideRule, ScopeMonitor, ScopeProvisioner, ScopeRunner, ScopeAdmin, ScopeMCPTools, ScopeMCPRes, ScopeMCPAccess}

// Affiliation is production's "affiliate": a GitHub user outside the
// organization to whom an operator grants named clusters and limits of its
// own (the affiliates file). It is read from the operator's current list on
// every request, so removing a user there takes effect at once.
type Affiliation struct {
	Clusters      []string      `json:"clusters"`       // the clusters the affiliate may reach and deploy
	MaxNodes      int           `json:"max_nodes"`      // per cluster
	MaxTTL        time.Duration `json:"max_ttl"`        // minutes in the file; a Duration here
	AllowedScopes []string      `json:"allowed_scopes"` // production's scopes the affiliate's logins keep
}

// Names tells whether the affiliation grants cluster.
func (a *Affiliation) Names(cluster string) bool {
	return a != nil && cluster != "" && slices.Contains(a.Clusters, cluster)
}

// Allows tells whether the affiliation keeps scope.
func (a *Affiliation) Allows(scope string) bool {
	return a != nil && slices.Contains(a.AllowedScopes, scope)
}

// Reaches tells whether the affiliate may reach cluster: it is named and
// the affiliate keeps the cluster scope (production puts the clusters in
// the token's aud only then).
func (a *Affiliation) Reaches(cluster string) bool {
	return a.Names(cluster) && a.Allows(ScopeSlideRule)
}

// Deploys tells whether the affiliate may deploy, extend and destroy
// cluster: it is named and the affiliate keeps the provisioner scope.
func (a *Affiliation) Deploys(cluster string) bool {
	return a.Names(cluster) && a.Allows(ScopeProvisioner)
}

// Affiliates is the operator's current list of affiliates.
type Affiliates interface {
	// Affiliation returns login's active affiliation, or nil when login is
	// not an active affiliate. An error means no list could be read at all;
	// a source that read one before keeps answering from it.
	Affiliation(ctx context.Context, login string) (*Affiliation, error)
}
