package provisioner

import (
	"context"
	"regexp"
	"strings"
	"time"
)

// ClusterState is where a cluster is in its life.
type ClusterState string

// The cluster states of the seed (docs/architecture.md). A cluster without a
// record is absent.
const (
	StateAbsent     ClusterState = "absent"
	StateDeploying  ClusterState = "deploying"
	StateRunning    ClusterState = "running"
	StateDestroying ClusterState = "destroying"
	StateFailed     ClusterState = "failed"
)

// Deployment is what a cluster and a node group share: where it is in its
// life, its nodes and owner, its times, the operation in flight and the
// store's revision. Both embed it.
type Deployment struct {
	State        ClusterState `json:"state"`
	NodeCapacity int          `json:"node_capacity"`
	// CreatedBy is the login that deployed it: its owner.
	CreatedBy string    `json:"created_by,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// ExpiresAt is the end of the TTL that DEPLOY and EXTEND set; zero for a
	// cluster registered by hand, which the provisioner does not destroy.
	ExpiresAt time.Time `json:"expires_at"`
	// DestroyAt is an explicit SCHEDULE_DESTROY time; zero when none.
	DestroyAt time.Time `json:"destroy_at"`
	// Operation is the id of the DEPLOY or DESTROY in flight, if any.
	Operation string `json:"operation,omitempty"`
	// Reason says why it failed.
	Reason string `json:"reason,omitempty"`
	// Revision is the store's optimistic concurrency token: a put succeeds
	// only if it equals the stored revision (0: no record yet).
	Revision int64 `json:"-"`
}

// DestroyTime is when the one destroy schedule fires: the explicit
// SCHEDULE_DESTROY time if set, else the end of the TTL; zero for none.
func (d Deployment) DestroyTime() time.Time {
	if !d.DestroyAt.IsZero() {
		return d.DestroyAt
	}
	return d.ExpiresAt
}

// Cluster is a SlideRule cluster the provisioner knows about.
type Cluster struct {
	Name     string `json:"cluster"`
	IsPublic bool   `json:"is_public"`
	Version  string `json:"version,omitempty"`
	Endpoint string `json:"endpoint,omitempty"`
	// Team is the organization team (a slug) the cluster is shared with:
	// its members manage it as the owner does. Empty for none.
	Team string `json:"team,omitempty"`
	Deployment
}

// ClusterSpec is what a driver needs to deploy a cluster.
type ClusterSpec struct {
	Name         string
	IsPublic     bool
	NodeCapacity int
	Version      string
	CreatedBy    string
	ExpiresAt    time.Time // for tags and in-cluster deadlines
	// Team is the team the cluster is shared with ("" for none), for the
	// cost allocation tag of its resources.
	Team string
}

// DriverStatus is what a driver observes of a cluster right now.
type DriverStatus struct {
	State    ClusterState // absent, deploying, running, destroying or failed
	Endpoint string       // URL of the cluster's gateway, once known
	Nodes    int          // nodes registered and healthy, when the driver knows
	Reason   string       // why it failed, when it did
}

// ClusterDriver creates and deletes clusters in a backend (local processes,
// CloudFormation stacks). Every method MUST be idempotent: the application
// retries them after crashes and restarts. Deploy and Destroy start the work
// and may return before it is done; Status observes, and "running" MUST mean
// the cluster answers its health check, not merely that it was created.
type ClusterDriver interface {
	Deploy(ctx context.Context, spec ClusterSpec) error
	Status(ctx context.Context, name string) (DriverStatus, error)
	Destroy(ctx context.Context, name string) error
}

// EventSource is a ClusterDriver that keeps events of its own (the
// CloudFormation stack's), shown with the provisioner's in EVENTS.
type EventSource interface {
	Events(ctx context.Context, name string) ([]Event, error)
}

var clusterNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,38}[a-z0-9]$`)

// reservedClusterNames cannot name a cluster: they are the provisioner's own
// host names or would confuse SlideRule clients ("None" means local there).
var reservedClusterNames = map[string]bool{
	"login": true, "provisioner": true, "www": true, "api": true, "auth": true,
	"admin": true, "none": true, "null": true, "localhost": true, "local": true,
	"default": true, "all": true, "public": true, "private": true, "status": true,
	"monitor": true, "gateway": true, "test": true, "release": true,
	// Audiences of login tokens beside cluster names.
	"runner": true,
	// Production's SYSTEM_KEYWORDS (login, provisioner, runner and monitor
	// are above): its services' host names, and "sliderule", the alias of
	// the public cluster.
	"client": true, "recorder": true, "mcp": true, "sliderule": true,
}

// ValidateClusterName accepts DNS-label-safe names of 2 to 40 characters,
// lower-case letters, digits and inner hyphens, and refuses reserved words.
func ValidateClusterName(name string) error {
	if name == "" {
		return Errorf(EINVALID, "cluster name is required")
	}
	if len(name) > 40 {
		return Errorf(EINVALID, "cluster name is %d characters long; at most 40 are allowed", len(name))
	}
	if !clusterNameRE.MatchString(name) {
		return Errorf(EINVALID, "invalid cluster name %q: use 2-40 lower-case letters, digits and hyphens, starting and ending with a letter or digit", truncate(name, 64))
	}
	if strings.Contains(name, "--") {
		return Errorf(EINVALID, "invalid cluster name %q: no consecutive hyphens", name)
	}
	if reservedClusterNames[name] {
		return Errorf(EINVALID, "cluster name %q is reserved", name)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
