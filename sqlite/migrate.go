package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"provisioner"
)

// migrations is the schema history: migrations[i] brings a database from
// version i to i+1 (PRAGMA user_version). Only ever append; an applied step
// must never change, because databases in the field have already run it.
var migrations = []string{
	// 1: clusters and the audit trail. Times are UTC text of fixed width
	// (see storetime) so they sort as strings and read well in the sqlite3
	// shell. audit.seq orders entries that share a time by insertion.
	`CREATE TABLE clusters (
		name       TEXT PRIMARY KEY,
		is_public  INTEGER NOT NULL CHECK (is_public IN (0, 1)),
		created_by TEXT NOT NULL,
		created_at TEXT NOT NULL,
		updated_at TEXT NOT NULL
	) STRICT;
	CREATE TABLE audit (
		seq    INTEGER PRIMARY KEY,
		id     TEXT NOT NULL UNIQUE,
		time   TEXT NOT NULL,
		actor  TEXT NOT NULL,
		level  TEXT NOT NULL,
		action TEXT NOT NULL,
		target TEXT NOT NULL,
		result TEXT NOT NULL,
		source TEXT NOT NULL,
		detail TEXT NOT NULL
	) STRICT;
	CREATE INDEX audit_time ON audit (time);
	CREATE INDEX audit_actor_time ON audit (actor, time);
	CREATE INDEX audit_action_time ON audit (action, time);`,

	// 2: the cluster lifecycle. Clusters gain their state, deployment and
	// schedule fields and a revision for compare-and-swap; rows from
	// version 1 were registered by hand, so they are running, at revision 1.
	// expires_at, destroy_at and operations.deadline are NULL when unset
	// (a zero time), so range queries never mistake "none" for "long ago".
	// sequences.cluster_revision is the last revision handed out: revisions
	// come from it, never from the row, so a cluster deleted and created
	// again never repeats a revision someone may still hold.
	// operations are DEPLOYs and DESTROYs to wait for; events are each
	// cluster's history (events.seq orders equal times by insertion);
	// schedules are the embedded scheduler's one destroy per cluster.
	`ALTER TABLE clusters ADD COLUMN state TEXT NOT NULL DEFAULT 'running';
	ALTER TABLE clusters ADD COLUMN node_capacity INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE clusters ADD COLUMN version TEXT NOT NULL DEFAULT '';
	ALTER TABLE clusters ADD COLUMN endpoint TEXT NOT NULL DEFAULT '';
	ALTER TABLE clusters ADD COLUMN expires_at TEXT;
	ALTER TABLE clusters ADD COLUMN destroy_at TEXT;
	ALTER TABLE clusters ADD COLUMN operation TEXT NOT NULL DEFAULT '';
	ALTER TABLE clusters ADD COLUMN reason TEXT NOT NULL DEFAULT '';
	ALTER TABLE clusters ADD COLUMN revision INTEGER NOT NULL DEFAULT 1 CHECK (revision > 0);
	CREATE TABLE sequences (
		name  TEXT PRIMARY KEY,
		value INTEGER NOT NULL
	) STRICT;
	INSERT INTO sequences (name, value) SELECT 'cluster_revision', coalesce(max(revision), 0) FROM clusters;
	CREATE TABLE operations (
		id         TEXT PRIMARY KEY,
		kind       TEXT NOT NULL,
		cluster    TEXT NOT NULL,
		state      TEXT NOT NULL,
		error_code TEXT NOT NULL,
		message    TEXT NOT NULL,
		created_by TEXT NOT NULL,
		created_at TEXT NOT NULL,
		updated_at TEXT NOT NULL,
		deadline   TEXT
	) STRICT;
	CREATE INDEX operations_cluster ON operations (cluster, created_at);
	CREATE TABLE events (
		seq     INTEGER PRIMARY KEY,
		id      TEXT NOT NULL UNIQUE,
		cluster TEXT NOT NULL,
		time    TEXT NOT NULL,
		type    TEXT NOT NULL,
		actor   TEXT NOT NULL,
		message TEXT NOT NULL
	) STRICT;
	CREATE INDEX events_cluster_time ON events (cluster, time);
	CREATE TABLE schedules (
		cluster      TEXT PRIMARY KEY,
		at           TEXT NOT NULL,
		attempts     INTEGER NOT NULL CHECK (attempts >= 0),
		next_attempt TEXT NOT NULL,
		last_error   TEXT NOT NULL
	) STRICT;
	CREATE INDEX schedules_next_attempt ON schedules (next_attempt);`,

	// 3: TEST and RELEASE jobs. steps is the JSON of []StepResult: it is
	// read and written whole, never queried. Jobs are never deleted, so a
	// revision is simply the previous one plus one.
	`CREATE TABLE jobs (
		id           TEXT PRIMARY KEY,
		kind         TEXT NOT NULL,
		cluster      TEXT NOT NULL,
		version      TEXT NOT NULL,
		requested_by TEXT NOT NULL,
		state        TEXT NOT NULL,
		reason       TEXT NOT NULL,
		steps        TEXT NOT NULL,
		log_key      TEXT NOT NULL,
		instance     TEXT NOT NULL,
		created_at   TEXT NOT NULL,
		started_at   TEXT,
		finished_at  TEXT,
		deadline     TEXT,
		revision     INTEGER NOT NULL CHECK (revision > 0)
	) STRICT;
	CREATE INDEX jobs_created ON jobs (created_at);
	CREATE INDEX jobs_cluster ON jobs (cluster, created_at);
	CREATE INDEX jobs_state ON jobs (state, created_at);`,

	// 4: user node groups, one per (cluster, user), beside their cluster.
	// Revisions come from the clusters' sequence. Their destroy schedules
	// are rows of schedules keyed "cluster/user" (provisioner.GroupKey).
	`CREATE TABLE node_groups (
		cluster       TEXT NOT NULL,
		user          TEXT NOT NULL,
		state         TEXT NOT NULL,
		node_capacity INTEGER NOT NULL,
		created_by    TEXT NOT NULL,
		created_at    TEXT NOT NULL,
		updated_at    TEXT NOT NULL,
		expires_at    TEXT,
		destroy_at    TEXT,
		operation     TEXT NOT NULL,
		reason        TEXT NOT NULL,
		revision      INTEGER NOT NULL CHECK (revision > 0),
		PRIMARY KEY (cluster, user)
	) STRICT;`,

	// 5: ownership. A cluster's owner stays created_by (the login that
	// deployed it); team is the organization team it is shared with, ''
	// for none.
	`ALTER TABLE clusters ADD COLUMN team TEXT NOT NULL DEFAULT '';`,

	// 6: aggregated audit entries (CountAudit): how many attempts an entry
	// stands for (0 for entries appended one by one) and when the latest
	// was (NULL when unset); events by time alone, for the retention prune.
	`ALTER TABLE audit ADD COLUMN count INTEGER NOT NULL DEFAULT 0 CHECK (count >= 0);
	ALTER TABLE audit ADD COLUMN last TEXT;
	CREATE INDEX events_time ON events (time);`,

	// 7: LOGIN's sessions, one per jwt_user (id is its jti), for
	// revocation. revoked_at is NULL while the session is live; the
	// revocation feed reads sessions by revoked_at.
	`CREATE TABLE sessions (
		login      TEXT NOT NULL,
		id         TEXT NOT NULL,
		uid        INTEGER NOT NULL,
		level      TEXT NOT NULL,
		via        TEXT NOT NULL,
		created_at TEXT NOT NULL,
		expires_at TEXT NOT NULL,
		revoked_at TEXT,
		reason     TEXT NOT NULL,
		checked_at TEXT,
		PRIMARY KEY (login, id)
	) STRICT;
	CREATE INDEX sessions_revoked ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;`,

	// 8: test history. A job keeps the commit its checkout resolved the
	// version to ('' when unknown); jobs by kind and version, newest
	// first, for a branch's TEST history.
	`ALTER TABLE jobs ADD COLUMN commit_id TEXT NOT NULL DEFAULT '';
	CREATE INDEX jobs_kind_version ON jobs (kind, version, created_at);`,

	// 9: the OAuth authorization server: registered clients, pending
	// authorization requests, codes and grants (refresh token families),
	// each stored whole as JSON (doc) with the columns its queries and
	// conditions need. A used code stays (used = 1) until pruned, so a
	// replay is recognised; a grant's current is its live refresh token's
	// hash, the compare-and-swap of a rotation.
	`CREATE TABLE oauth_clients (
		id         TEXT PRIMARY KEY,
		doc        TEXT NOT NULL,
		expires_at TEXT NOT NULL
	) STRICT;
	CREATE INDEX oauth_clients_expires ON oauth_clients (expires_at);
	CREATE TABLE oauth_requests (
		id         TEXT PRIMARY KEY,
		doc        TEXT NOT NULL,
		expires_at TEXT NOT NULL
	) STRICT;
	CREATE INDEX oauth_requests_expires ON oauth_requests (expires_at);
	CREATE TABLE oauth_codes (
		hash       TEXT PRIMARY KEY,
		doc        TEXT NOT NULL,
		used       INTEGER NOT NULL DEFAULT 0 CHECK (used IN (0, 1)),
		expires_at TEXT NOT NULL
	) STRICT;
	CREATE INDEX oauth_codes_expires ON oauth_codes (expires_at);
	CREATE TABLE oauth_grants (
		id         TEXT PRIMARY KEY,
		login      TEXT NOT NULL,
		current    TEXT NOT NULL,
		revoked    INTEGER NOT NULL CHECK (revoked IN (0, 1)),
		created_at TEXT NOT NULL,
		doc        TEXT NOT NULL,
		expires_at TEXT NOT NULL
	) STRICT;
	CREATE INDEX oauth_grants_login ON oauth_grants (login, created_at);
	CREATE INDEX oauth_grants_expires ON oauth_grants (expires_at);`,

	// 10: metering (usage.go): stretches of a cluster's or node group's
	// life at a node count and an hourly price; end_at NULL while open.
	`CREATE TABLE usage (
		key     TEXT NOT NULL,
		start   TEXT NOT NULL,
		cluster TEXT NOT NULL,
		owner   TEXT NOT NULL,
		team    TEXT NOT NULL,
		grp     INTEGER NOT NULL CHECK (grp IN (0, 1)),
		nodes   INTEGER NOT NULL CHECK (nodes >= 0),
		hourly  REAL NOT NULL CHECK (hourly >= 0),
		end_at  TEXT,
		PRIMARY KEY (key, start)
	) STRICT;
	CREATE UNIQUE INDEX usage_open ON usage (key) WHERE end_at IS NULL;
	CREATE INDEX usage_start ON usage (start);`,

	// 11: budget ledgers (budget.go): one per budget scope, its fields as
	// JSON, under a revision that only grows (a ledger is never deleted).
	`CREATE TABLE budget_ledgers (
		scope    TEXT PRIMARY KEY,
		revision INTEGER NOT NULL CHECK (revision > 0),
		doc      TEXT NOT NULL
	) STRICT;`,
}

// migrate applies the steps the database has not run yet, all in one
// transaction, so a failure leaves the schema as it was. BEGIN IMMEDIATE
// (the writer's _txlock) keeps two processes from migrating at once.
func migrate(ctx context.Context, db *sql.DB, steps []string) (err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return provisioner.Wrap(provisioner.EINTERNAL, err, "cannot migrate database schema")
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	var version int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return provisioner.Wrap(provisioner.EINTERNAL, err, "cannot read database schema version")
	}
	if version > len(steps) {
		return provisioner.Errorf(provisioner.EINTERNAL,
			"database schema version %d is newer than this provisioner knows (%d); upgrade the provisioner", version, len(steps))
	}
	if version == len(steps) {
		tx.Rollback() // nothing to do; a failed rollback of a read changes nothing
		return nil
	}
	for i := version; i < len(steps); i++ {
		if _, err := tx.ExecContext(ctx, steps[i]); err != nil {
			return provisioner.Wrap(provisioner.EINTERNAL, err, "cannot migrate database schema to version %d", i+1)
		}
	}
	// PRAGMA takes no parameters; len(steps) is an int, not input.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", len(steps))); err != nil {
		return provisioner.Wrap(provisioner.EINTERNAL, err, "cannot record database schema version")
	}
	if err := tx.Commit(); err != nil {
		return provisioner.Wrap(provisioner.EINTERNAL, err, "cannot commit database schema migration")
	}
	return nil
}
