package sqlite

import (
	"context"
	"database/sql"
	"slices"

	"provisioner"
	"provisioner/storetime"
)

// deploymentColumns are the columns of what a cluster's and a node group's
// rows share (provisioner.Deployment), in the order of scanDeployment and
// putDeployment; deploymentSet assigns them in an UPDATE.
const (
	deploymentColumns = `state, node_capacity, created_by, created_at, updated_at, expires_at, destroy_at,
		operation, reason, revision`
	deploymentSet = `state = ?, node_capacity = ?, created_by = ?, created_at = ?, updated_at = ?,
		expires_at = ?, destroy_at = ?, operation = ?, reason = ?, revision = ?`
)

// putDeploymentTx writes the row in tx, taking the new revision from the
// database's counter. The values go in the order head (the row's own
// columns), d's deploymentColumns with the new revision, key (the row's
// key): insert's when d.Revision is 0 (the row must not exist), update's
// otherwise, with d.Revision last as the expected revision. A write that
// changes no row returns conflict's error. Errors come back unconverted.
func putDeploymentTx(ctx context.Context, tx *sql.Tx, insert, update string, head []any, d provisioner.Deployment,
	key []any, conflict func(*sql.Tx) error) (int64, error) {
	created, err := storetime.Format(d.CreatedAt)
	if err != nil {
		return 0, err
	}
	updated, err := storetime.Format(d.UpdatedAt)
	if err != nil {
		return 0, err
	}
	expires, err := formatOptionalTime(d.ExpiresAt)
	if err != nil {
		return 0, err
	}
	destroy, err := formatOptionalTime(d.DestroyAt)
	if err != nil {
		return 0, err
	}
	var rev int64
	if err := tx.QueryRowContext(ctx,
		`UPDATE sequences SET value = value + 1 WHERE name = 'cluster_revision' RETURNING value`).Scan(&rev); err != nil {
		return 0, err
	}
	args := slices.Concat(head, []any{string(d.State), d.NodeCapacity, d.CreatedBy, created, updated, expires, destroy,
		d.Operation, d.Reason, rev}, key)
	var res sql.Result
	if d.Revision == 0 {
		res, err = tx.ExecContext(ctx, insert, args...)
	} else {
		res, err = tx.ExecContext(ctx, update, append(args, d.Revision)...)
	}
	if err != nil {
		return 0, err
	}
	if n, err := res.RowsAffected(); err != nil {
		return 0, err
	} else if n == 0 {
		return 0, conflict(tx)
	}
	return rev, nil
}

// scanDeployment scans a row of head's columns followed by
// deploymentColumns into head and d.
func scanDeployment(s scanner, d *provisioner.Deployment, head ...any) error {
	var state, created, updated string
	var expires, destroy sql.NullString
	if err := s.Scan(append(head, &state, &d.NodeCapacity, &d.CreatedBy, &created, &updated, &expires, &destroy,
		&d.Operation, &d.Reason, &d.Revision)...); err != nil {
		return err
	}
	d.State = provisioner.ClusterState(state)
	var err error
	if d.CreatedAt, err = storetime.Parse(created); err != nil {
		return err
	}
	if d.UpdatedAt, err = storetime.Parse(updated); err != nil {
		return err
	}
	if d.ExpiresAt, err = parseOptionalTime(expires); err != nil {
		return err
	}
	d.DestroyAt, err = parseOptionalTime(destroy)
	return err
}

// scanner is what *sql.Row and *sql.Rows have in common.
type scanner interface{ Scan(dest ...any) error }

// queryAll runs the query q and scans every row: a list empty but never
// nil (null in JSON) when no row matches.
func queryAll[T any](ctx context.Context, db *DB, op string, scan func(scanner) (T, error), q string, args ...any) ([]T, error) {
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, storeError(ctx, err, op)
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, storeError(ctx, err, op)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, storeError(ctx, err, op)
	}
	return out, nil
}
