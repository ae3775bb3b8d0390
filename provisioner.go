// Package provisioner holds the domain of the SlideRule Provisioner: users and
// their levels, clusters, tokens, the audit trail, the error codes, and the
// interfaces that the backends (sqlite, github, jwt, aws, local, ...) implement.
//
// The package depends on nothing but the standard library; adapters depend on
// it, never the other way round.
package provisioner

import (
	"context"
	"time"
)

// Now is the clock used by code that does not have one injected.
var Now = time.Now

// Store keeps the provisioner's state. Implementations MUST be safe for
// concurrent use and MUST return *Error values with the codes documented on
// each method, so callers never depend on a driver's errors.
type Store interface {
	// GetCluster returns the cluster or an error with code ENOTFOUND.
	GetCluster(ctx context.Context, name string) (Cluster, error)
	// PutCluster creates or replaces a cluster record.
	PutCluster(ctx context.Context, c Cluster) error
	// DeleteCluster removes a cluster record; deleting an absent one is not an error.
	DeleteCluster(ctx context.Context, name string) error
	// ListClusters returns every cluster record ordered by name.
	ListClusters(ctx context.Context) ([]Cluster, error)

	// AppendAudit records one audit entry; ID and Time are set by the caller.
	AppendAudit(ctx context.Context, e AuditEntry) error
	// ListAudit returns entries newest first, filtered by f.
	ListAudit(ctx context.Context, f AuditFilter) ([]AuditEntry, error)

	// Close releases the store's resources.
	Close() error
}

// AuditEntry is one line of the audit trail: who tried what, and how it went.
type AuditEntry struct {
	ID     string    `json:"id"`
	Time   time.Time `json:"time"`
	Actor  string    `json:"actor"` // GitHub login, or "" for anonymous
	Level  Level     `json:"level"`
	Action string    `json:"action"` // e.g. "login.pat", "access"
	Target string    `json:"target,omitempty"`
	Result string    `json:"result"`           // "success" or an error code
	Source string    `json:"source,omitempty"` // client address
	Detail string    `json:"detail,omitempty"`
}

// AuditFilter narrows ListAudit. Zero fields do not filter.
type AuditFilter struct {
	Actor  string
	Action string
	Since  time.Time
	Limit  int // 0 means a default limit of 100
}
