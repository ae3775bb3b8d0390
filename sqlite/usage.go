package sqlite

import (
	"context"
	"database/sql"
	"math"
	"time"

	"provisioner"
	"provisioner/storetime"
)

// Metering: the embedded backend's provisioner.UsageStore. A key has at
// most one open stretch (the usage_open index).

// StartUsage opens u's stretch, ending key's open one at u.Start first;
// the same stretch again is a no-op.
func (db *DB) StartUsage(ctx context.Context, u provisioner.Usage) error {
	switch {
	case u.Key == "" || u.Start.IsZero():
		return provisioner.Errorf(provisioner.EINVALID, "usage key and start are required")
	case u.Nodes < 0 || u.Hourly < 0 || math.IsNaN(u.Hourly) || math.IsInf(u.Hourly, 0):
		return provisioner.Errorf(provisioner.EINVALID, "usage nodes and hourly price must not be negative")
	}
	start, err := storetime.Format(u.Start)
	if err != nil {
		return err
	}
	grp := 0
	if u.Group {
		grp = 1
	}
	err = db.writeTx(ctx, func(tx *sql.Tx) error {
		var exists bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM usage WHERE key = ? AND start = ?)`, u.Key, start).Scan(&exists); err != nil || exists {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE usage SET end_at = max(start, ?) WHERE key = ? AND end_at IS NULL`, start, u.Key); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO usage (key, start, cluster, owner, team, grp, nodes, hourly)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, u.Key, start, u.Cluster, u.Owner, u.Team, grp, u.Nodes, u.Hourly)
		return err
	})
	return storeError(ctx, err, "start usage")
}

// EndUsage ends key's open stretch at end (not before its start).
func (db *DB) EndUsage(ctx context.Context, key string, end time.Time) error {
	e, err := storetime.Format(end)
	if err != nil {
		return err
	}
	_, err = db.w.ExecContext(ctx, `UPDATE usage SET end_at = max(start, ?) WHERE key = ? AND end_at IS NULL`, e, key)
	return storeError(ctx, err, "end usage")
}

// ListUsage returns the stretches overlapping [since, until), by start.
func (db *DB) ListUsage(ctx context.Context, since, until time.Time) ([]provisioner.Usage, error) {
	s, err := storetime.Format(since)
	if err != nil {
		return nil, err
	}
	u, err := storetime.Format(until)
	if err != nil {
		return nil, err
	}
	return queryAll(ctx, db, "list usage", scanUsage, `SELECT key, start, cluster, owner, team, grp, nodes, hourly, end_at
		FROM usage WHERE start < ? AND (end_at IS NULL OR end_at > ?) ORDER BY start, key`, u, s)
}

func scanUsage(s scanner) (provisioner.Usage, error) {
	var u provisioner.Usage
	var start string
	var end sql.NullString
	if err := s.Scan(&u.Key, &start, &u.Cluster, &u.Owner, &u.Team, &u.Group, &u.Nodes, &u.Hourly, &end); err != nil {
		return u, err
	}
	var err error
	if u.Start, err = storetime.Parse(start); err != nil {
		return u, err
	}
	u.End, err = parseOptionalTime(end)
	return u, err
}

var _ provisioner.UsageStore = (*DB)(nil)
