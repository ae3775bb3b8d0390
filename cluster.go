package provisioner

import (
	"context"
	"regexp"
	"strings"
	"time"
)

// Cluster is a SlideRule cluster the provisioner knows about.
type Cluster struct {
	Name      string    `json:"cluster"`
	IsPublic  bool      `json:"is_public"`
	CreatedBy string    `json:"created_by,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

var clusterNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,38}[a-z0-9]$`)

// reservedClusterNames cannot name a cluster: they are the provisioner's own
// host names or would confuse SlideRule clients ("None" means local there).
var reservedClusterNames = map[string]bool{
	"login": true, "provisioner": true, "www": true, "api": true, "auth": true,
	"admin": true, "none": true, "null": true, "localhost": true, "local": true,
	"default": true, "all": true, "public": true, "private": true, "status": true,
	"monitor": true, "gateway": true, "test": true, "release": true,
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

// Registry is how ACCESS learns which clusters exist and whether they are
// public; until deployment exists, admins register clusters by hand.
type Registry interface {
	GetCluster(ctx context.Context, name string) (Cluster, error)
}
