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
	// GetCluster returns the cluster (with its Revision) or ENOTFOUND.
	GetCluster(ctx context.Context, name string) (Cluster, error)
	// PutCluster writes c if the stored revision equals c.Revision (0: no
	// record may exist) and returns the new revision; otherwise ECONFLICT and
	// nothing changes. This compare-and-swap is what keeps concurrent
	// requests (and Lambda instances) from losing each other's updates.
	PutCluster(ctx context.Context, c Cluster) (int64, error)
	// DeleteCluster removes the record if its revision equals revision, else
	// ECONFLICT; deleting an absent record is not an error.
	DeleteCluster(ctx context.Context, name string, revision int64) error
	// ListClusters returns every cluster record ordered by name.
	ListClusters(ctx context.Context) ([]Cluster, error)

	// Apply writes b at once: all of it, or on any error none of it. Its
	// cluster follows PutCluster's compare-and-swap (ECONFLICT when the
	// revision is not the stored one), or DeleteCluster's rule (deleting
	// an absent record is not an error: the rest is written); an event or
	// audit ID in use is ECONFLICT; a batch Validate refuses is EINVALID.
	// It returns the cluster's new revision (0 without one, or when b
	// deletes it). An empty batch writes nothing. One batch is one write:
	// a transaction (SQLite), one TransactWriteItems (DynamoDB).
	Apply(ctx context.Context, b Batch) (int64, error)

	// GroupStore keeps the user node groups of clusters.
	GroupStore

	// BudgetStore keeps the budget ledgers (budget.go).
	BudgetStore

	// PutOperation creates or replaces an operation.
	PutOperation(ctx context.Context, op Operation) error
	// GetOperation returns an operation or ENOTFOUND.
	GetOperation(ctx context.Context, id string) (Operation, error)

	JobStore

	// SessionStore keeps LOGIN's sessions, for revocation.
	SessionStore

	// OAuthStore keeps the authorization server's clients, requests,
	// codes and grants (oauth.go).
	OAuthStore

	// AppendEvent records one cluster event; ID and Time are set by the caller.
	AppendEvent(ctx context.Context, e Event) error
	// ListEvents returns the newest limit events of a cluster (0: 100), oldest first.
	ListEvents(ctx context.Context, cluster string, limit int) ([]Event, error)

	// AppendAudit records one audit entry; ID and Time are set by the caller.
	AppendAudit(ctx context.Context, e AuditEntry) error
	// CountAudit records an aggregated entry: the first call with an ID
	// appends e (Count 0 counts as 1), later calls with the same ID add
	// their Count to the stored one and move its Last to their Time if
	// later; the other fields stay the first call's. It bounds the trail of
	// repeated attempts (failed logins) to one entry per window.
	CountAudit(ctx context.Context, e AuditEntry) error
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
	// Count and Last are set on aggregated entries (CountAudit): how many
	// attempts the entry stands for, and when the latest was. Time is
	// the first's. Entries appended one by one have neither.
	Count int       `json:"count,omitempty"`
	Last  time.Time `json:"last,omitzero"`
}

// HistoryPruner is a Store that deletes old history itself (SQLite); a
// store whose records expire on their own (DynamoDB's TTL) does not
// implement it.
type HistoryPruner interface {
	// PruneHistory deletes audit entries older than auditBefore and cluster
	// events older than eventsBefore (a zero time keeps them all) and
	// returns how many records went.
	PruneHistory(ctx context.Context, auditBefore, eventsBefore time.Time) (int64, error)
}

// AuditFilter narrows ListAudit. Zero fields do not filter.
type AuditFilter struct {
	Actor  string
	Action string
	Since  time.Time
	Limit  int // 0 means a default limit of 100
}
