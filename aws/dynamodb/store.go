// Package dynamodb implements provisioner.Store on one Amazon DynamoDB table
// (single-table design), the state of the AWS backend. Several Lambda
// instances share the table; conditional writes keep any of them from losing
// another's update.
//
// # Table
//
// The table has a string partition key "pk", a string sort key "sk", one
// global secondary index "gsi1" (string keys "gsi1pk", "gsi1sk", projection
// ALL), and TTL on the number attribute "ttl" (epoch seconds). TableSchema
// returns it; CreateTable creates it; deploy/provisioner.yaml declares the
// same thing.
//
//	record                pk                  sk                        other keys
//	cluster               CLUSTERS            <name>
//	operation             OP#<id>             OP
//	event                 EVENT#<cluster>     <time>#<id>
//	event id guard        EVENTID#<id>        ID
//	audit entry           AUDIT#<yyyy-mm-dd>  <time>#<id>
//	audit id guard        AUDITID#<id>        ID
//	audit day index       AUDITDAYS           <yyyy-mm-dd>
//	job                   JOB#<id>            JOB                       gsi1pk JOBS, gsi1sk <created>#<id>
//	signature guard       SIG#<signature>     SIG                       ttl (ClaimSignature)
//	budget ledger         BUDGETS             <scope>
//
// <time> is fixed-width UTC with nanoseconds (2006-01-02T15:04:05.000000000Z),
// so string order is time order and a Query on sk reads in time order.
//
// Clusters share one partition so that ListClusters is a single strongly
// consistent Query in name order: the application counts a user's live
// clusters from it before a DEPLOY, which an eventually consistent index
// could undercount. A provisioner keeps tens of clusters, far below a
// partition's limits (3,000 reads and 1,000 writes a second).
//
// Events are partitioned per cluster, audit entries per UTC day, so no
// partition grows hot or large; the audit day index (one small item per
// day, written about once an hour per Store value) tells ListAudit which
// days to read, newest first. The "ID" guard items make event and audit IDs
// unique across the whole table, whatever their time: the guard (naming its
// record's key) is written first, then the record, each only if absent; a
// repeat of the same append recognises both and succeeds. Two conditional
// PutItems cost half of a two-item TransactWriteItems and never fail on
// transaction conflicts.
//
// Apply writes what must change together (a cluster, the operation it
// starts or ends, the events and audit entries recording it) in one
// TransactWriteItems, with the same conditions: one round trip, all or
// nothing, for twice the write capacity of its items.
//
// Jobs are listed newest first through the sparse index gsi1 (only jobs
// carry gsi1pk). Reads of a global secondary index are eventually
// consistent: ListJobs may lag a PutJob by a moment; GetJob is consistent,
// and callers act on GetJob's revision.
//
// # Revisions
//
// Cluster and job revisions are time-based: a write stores revision
// max(now in Unix nanoseconds, previous revision + 1) under the condition
// that the stored revision is still the caller's. DeleteCluster does not
// remove the item: it replaces it with a tombstone (attribute "deleted")
// that keeps the last revision, and creating the cluster again requires a
// revision above the tombstone's. So a cluster's revisions only ever grow,
// across deletes and on machines whose clocks disagree, and a revision read
// before a delete never matches the record created after it. Tombstones
// expire with the retention period, by when the clock alone keeps new
// revisions above old ones.
//
// Budget ledgers (never deleted) count their revisions up from 1; Apply
// writes them under the condition that the stored revision is the one
// read, in the transaction of the change they pay for.
//
// Cluster and job writes carry a random write token ("wtok") and ask
// DynamoDB for the old item when their condition fails: when the SDK
// retries a write whose first attempt succeeded but whose response was
// lost, the token recognises the write as our own instead of reporting a
// conflict. Event and audit appends recognise their own guard and record.
//
// The store uses GetItem, PutItem (tombstones replace deletes), UpdateItem
// (CountAudit's atomic count), Query (on the table and on gsi1) and
// TransactWriteItems (Apply, authorized as the PutItems it holds) only:
// those are the IAM actions it needs.
//
// # Retention
//
// Operations, events, audit entries and their guards, audit day indexes
// and cluster tombstones carry "ttl": the record's own time plus the
// retention (WithRetention; 90 days by default; WithAuditRetention and
// WithEventRetention replace it for audit entries and events), after which
// DynamoDB deletes them in the background. Clusters, jobs and budget ledgers never expire.
// Aggregated audit entries (CountAudit) expire with their first time.
// Signature guards (the replay record of signed requests, shared by every
// Lambda instance) expire a minute after their signature's timestamp left
// the ±60 s window.
package dynamodb

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"sync"
	"time"

	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"provisioner"
)

var _ provisioner.Store = (*Store)(nil)

// DefaultRetention is how long operations, events and audit entries are
// kept unless WithRetention says otherwise.
const DefaultRetention = 90 * 24 * time.Hour

// Store is a provisioner.Store on one DynamoDB table. It is safe for
// concurrent use, and any number of Store values (in one process or many)
// may share a table.
type Store struct {
	db        *ddb.Client
	table     string
	retention time.Duration
	// auditRetention and eventRetention, when set, replace retention for
	// audit entries and events.
	auditRetention, eventRetention *time.Duration
	now                            func() time.Time

	mu        sync.Mutex
	auditDays map[string]time.Time // day index items this Store wrote, and when
}

// Option adjusts New.
type Option func(*Store)

// WithRetention sets how long operations, events and audit entries are
// kept (the TTL attribute is their time plus d); d <= 0 keeps them forever
// (no TTL attribute is written).
func WithRetention(d time.Duration) Option {
	return func(s *Store) { s.retention = d }
}

// WithAuditRetention sets how long audit entries (and their guards and
// day index) are kept, instead of WithRetention's; d <= 0: forever.
func WithAuditRetention(d time.Duration) Option {
	return func(s *Store) { s.auditRetention = &d }
}

// WithEventRetention sets how long cluster events are kept, instead of
// WithRetention's; d <= 0: forever.
func WithEventRetention(d time.Duration) Option {
	return func(s *Store) { s.eventRetention = &d }
}

// WithClock replaces time.Now as the source of revisions and tombstone
// expiry times (tests).
func WithClock(now func() time.Time) Option {
	return func(s *Store) { s.now = now }
}

// New returns a Store on table, which must exist with the schema of
// TableSchema. It makes no network call, so a Lambda cold start stays
// cheap; the first request reports a missing table.
func New(client *ddb.Client, table string, opts ...Option) *Store {
	s := &Store{db: client, table: table, retention: DefaultRetention, now: time.Now, auditDays: map[string]time.Time{}}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Table returns the name of the store's table.
func (s *Store) Table() string { return s.table }

// Close releases nothing: the client belongs to the caller.
func (s *Store) Close() error { return nil }

// expiry returns the TTL of a record with time t (now when t is zero), or
// 0 when records are kept forever.
func (s *Store) expiry(t time.Time) int64 {
	if s.retention <= 0 {
		return 0
	}
	if t.IsZero() {
		t = s.now()
	}
	return t.Add(s.retention).Unix()
}

func (s *Store) auditExpiry(t time.Time) int64 { return s.expiryWith(s.auditRetention, t) }

func (s *Store) eventExpiry(t time.Time) int64 { return s.expiryWith(s.eventRetention, t) }

// expiryWith is expiry with retention *d when d is set.
func (s *Store) expiryWith(d *time.Duration, t time.Time) int64 {
	if d == nil {
		return s.expiry(t)
	}
	if *d <= 0 {
		return 0
	}
	if t.IsZero() {
		t = s.now()
	}
	return t.Add(*d).Unix()
}

// nextRevision returns a revision above prev: the clock in nanoseconds,
// unless the clock is behind prev.
func (s *Store) nextRevision(prev int64) int64 {
	return max(s.now().UnixNano(), prev+1)
}

// writeToken returns a random positive number that marks one write.
func writeToken() int64 {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return int64(binary.BigEndian.Uint64(b[:]) >> 1)
}

// checkContext stops a call before it does anything when ctx is done.
func checkContext(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return provisioner.Wrap(provisioner.EUNAVAILABLE, err, "%s: canceled or timed out", op)
	}
	return nil
}
