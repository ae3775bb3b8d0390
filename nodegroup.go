package provisioner

import (
	"context"
	"regexp"
	"strings"
	"time"
)

// PublicClusterAlias is what production's clients call the public cluster
// ("sliderule", the Python client's default). It is honoured on the user
// node group paths only, as production does; it can never name a cluster.
const PublicClusterAlias = "sliderule"

// NodeGroup is a user's node group: nodes of its own attached to a running
// cluster (production's user Auto Scaling group, userasg.yml), registering
// with the cluster's load balancer under service = User, with its own TTL
// and destroy schedule. A cluster has at most one group per user, and its
// groups are destroyed with it.
type NodeGroup struct {
	Cluster string `json:"cluster"`
	User    string `json:"user"`
	Deployment
}

// Key is the group's schedule key, GroupKey(g.Cluster, g.User).
func (g NodeGroup) Key() string { return GroupKey(g.Cluster, g.User) }

// GroupKey names a node group where one string must: its destroy schedule
// (beside clusters' schedules, keyed by the cluster name), its operations
// and its events. A "/" never occurs in a cluster name, so a group key is
// never taken for a cluster.
func GroupKey(cluster, user string) string { return cluster + "/" + user }

// ParseScheduleKey splits a schedule (or operation, or event) key: a
// cluster's name, or a node group's GroupKey.
func ParseScheduleKey(key string) (cluster, user string, group bool) {
	cluster, user, group = strings.Cut(key, "/")
	return cluster, user, group
}

// ValidateScheduleKey accepts a cluster's name in its shape (reserved names
// allowed: whatever the store holds must stay removable), a node group's
// GroupKey or a notice's NoticeKey; every Scheduler checks its keys with it.
func ValidateScheduleKey(key string) error {
	if cluster, _, ok := ParseNoticeKey(key); ok && clusterNameRE.MatchString(cluster) {
		return nil
	}
	cluster, user, group := ParseScheduleKey(key)
	if !clusterNameRE.MatchString(cluster) || (group && ValidateUsername(user) != nil) {
		return Errorf(EINVALID, "invalid schedule key %q: a cluster name, cluster/user or cluster@notice-<minutes>m", truncate(key, 64))
	}
	return nil
}

// NodeGroupSpec is what a driver needs to deploy a node group.
type NodeGroupSpec struct {
	Cluster      string // the running cluster it attaches to
	User         string // the service its nodes register under
	NodeCapacity int
	Version      string // the cluster's version
	CreatedBy    string
	ExpiresAt    time.Time // for tags and in-cluster deadlines
}

// NodeGroupDriver is a ClusterDriver that can attach node groups to its
// clusters. As ClusterDriver's, every method MUST be idempotent; a group
// is named by (cluster, user): on AWS one stack per group, named after
// both, as production's userasg.yml (cluster stack "<cluster>-cluster",
// group stack "<cluster>-cluster-<user>-asg", parameters from the cluster
// stack's resources). DeployGroup MUST refuse with ENOTFOUND when the
// cluster does not exist and EUNAVAILABLE when the backend cannot run
// groups. GroupStatus's "running" means the group's nodes are registered
// with the cluster's load balancer under the user's service. Destroying a
// cluster in the driver MUST also remove its groups.
type NodeGroupDriver interface {
	DeployGroup(ctx context.Context, spec NodeGroupSpec) error
	GroupStatus(ctx context.Context, cluster, user string) (DriverStatus, error)
	DestroyGroup(ctx context.Context, cluster, user string) error
}

// GroupStore keeps node groups beside clusters, with the same
// compare-and-swap rules as the cluster methods of Store.
type GroupStore interface {
	// GetNodeGroup returns the group (with its Revision) or ENOTFOUND.
	GetNodeGroup(ctx context.Context, cluster, user string) (NodeGroup, error)
	// PutNodeGroup writes g if the stored revision equals g.Revision (0: no
	// record may exist) and returns the new revision; otherwise ECONFLICT.
	PutNodeGroup(ctx context.Context, g NodeGroup) (int64, error)
	// DeleteNodeGroup removes the record if its revision equals revision,
	// else ECONFLICT; deleting an absent record is not an error.
	DeleteNodeGroup(ctx context.Context, cluster, user string, revision int64) error
	// ListNodeGroups returns the groups of cluster ("": of every cluster),
	// ordered by cluster, then user.
	ListNodeGroups(ctx context.Context, cluster string) ([]NodeGroup, error)
}

// GitHub logins: 1-39 letters, digits and single inner hyphens.
var usernameRE = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9]|-[A-Za-z0-9]){0,38}$`)

// ValidateUsername accepts a GitHub login, the user of a node group (and
// the service its nodes register under).
func ValidateUsername(user string) error {
	if user == "" {
		return Errorf(EINVALID, "user name is required")
	}
	if !usernameRE.MatchString(user) {
		return Errorf(EINVALID, "invalid user name %q", truncate(user, 64))
	}
	return nil
}

// GroupEventSource is a NodeGroupDriver that keeps events of its own for
// groups (a group stack's), shown with the provisioner's in EVENTS.
type GroupEventSource interface {
	GroupEvents(ctx context.Context, cluster, user string) ([]Event, error)
}
