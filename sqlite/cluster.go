package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"provisioner"
)

// clusterColumns are the columns scanCluster reads, in its order.
const clusterColumns = `name, is_public, state, node_capacity, version, endpoint, created_by,
	created_at, updated_at, expires_at, destroy_at, operation, reason, team, revision`

// GetCluster returns the named cluster with its revision, or ENOTFOUND.
func (db *DB) GetCluster(ctx context.Context, name string) (provisioner.Cluster, error) {
	row := db.r.QueryRowContext(ctx, `SELECT `+clusterColumns+` FROM clusters WHERE name = ?`, name)
	c, err := scanCluster(row)
	if errors.Is(err, sql.ErrNoRows) && ctx.Err() == nil {
		return provisioner.Cluster{}, provisioner.Errorf(provisioner.ENOTFOUND, "cluster %q not found", name)
	}
	if err != nil {
		return provisioner.Cluster{}, storeError(ctx, err, "read cluster")
	}
	return c, nil
}

// PutCluster writes every field of c if the stored revision is c.Revision
// (0: only if no record exists) and returns the new revision; otherwise it
// returns ECONFLICT and changes nothing. The compare and the write happen in
// one IMMEDIATE transaction, so of two writers holding the same revision,
// in this process or another on the same file, exactly one wins.
//
// New revisions come from one counter for the whole database: each is
// greater than every revision handed out before, so a revision read before
// a delete never matches the record of a cluster created again since.
func (db *DB) PutCluster(ctx context.Context, c provisioner.Cluster) (int64, error) {
	if c.Name == "" {
		return 0, provisioner.Errorf(provisioner.EINVALID, "cluster name is required")
	}
	if c.Revision < 0 {
		return 0, provisioner.Errorf(provisioner.EINVALID, "cluster revision must not be negative")
	}
	lt, err := formatLifeTimes(c.CreatedAt, c.UpdatedAt, c.ExpiresAt, c.DestroyAt)
	if err != nil {
		return 0, err
	}
	created, updated, expires, destroy := lt.created, lt.updated, lt.expires, lt.destroy
	var rev int64
	err = db.writeTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx,
			`UPDATE sequences SET value = value + 1 WHERE name = 'cluster_revision' RETURNING value`).Scan(&rev); err != nil {
			return err
		}
		args := []any{c.IsPublic, string(c.State), c.NodeCapacity, c.Version, c.Endpoint, c.CreatedBy,
			created, updated, expires, destroy, c.Operation, c.Reason, c.Team, rev, c.Name}
		var res sql.Result
		var err error
		if c.Revision == 0 {
			res, err = tx.ExecContext(ctx, `
				INSERT INTO clusters (is_public, state, node_capacity, version, endpoint, created_by,
					created_at, updated_at, expires_at, destroy_at, operation, reason, team, revision, name)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (name) DO NOTHING`, args...)
		} else {
			res, err = tx.ExecContext(ctx, `
				UPDATE clusters SET is_public = ?, state = ?, node_capacity = ?, version = ?, endpoint = ?,
					created_by = ?, created_at = ?, updated_at = ?, expires_at = ?, destroy_at = ?,
					operation = ?, reason = ?, team = ?, revision = ?
				WHERE name = ? AND revision = ?`, append(args, c.Revision)...)
		}
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return clusterConflict(ctx, tx, c.Name, c.Revision)
		}
		return nil
	})
	if err != nil {
		return 0, storeError(ctx, err, "save cluster")
	}
	return rev, nil
}

// DeleteCluster removes the cluster if its revision is revision, else
// returns ECONFLICT. An absent cluster is not an error, so retries converge.
func (db *DB) DeleteCluster(ctx context.Context, name string, revision int64) error {
	if revision < 0 {
		return provisioner.Errorf(provisioner.EINVALID, "cluster revision must not be negative")
	}
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM clusters WHERE name = ? AND revision = ?`, name, revision)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			if exists, err := clusterExists(ctx, tx, name); err != nil || !exists {
				return err
			}
			return provisioner.Errorf(provisioner.ECONFLICT, "cluster %q was changed by another request", name)
		}
		return nil
	})
	return storeError(ctx, err, "delete cluster")
}

// clusterConflict explains why a write that expected revision changed no
// row. With revision 0 the cluster exists; otherwise it has another
// revision or no longer exists. Either way the caller must read it again.
func clusterConflict(ctx context.Context, tx *sql.Tx, name string, revision int64) error {
	exists, err := clusterExists(ctx, tx, name)
	switch {
	case err != nil:
		return err
	case revision == 0:
		return provisioner.Errorf(provisioner.ECONFLICT, "cluster %q already exists", name)
	case exists:
		return provisioner.Errorf(provisioner.ECONFLICT, "cluster %q was changed by another request", name)
	default:
		return provisioner.Errorf(provisioner.ECONFLICT, "cluster %q no longer exists", name)
	}
}

func clusterExists(ctx context.Context, tx *sql.Tx, name string) (bool, error) {
	var exists bool
	err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM clusters WHERE name = ?)`, name).Scan(&exists)
	return exists, err
}

// ListClusters returns every cluster ordered by name (byte order).
func (db *DB) ListClusters(ctx context.Context) ([]provisioner.Cluster, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+clusterColumns+` FROM clusters ORDER BY name`)
	if err != nil {
		return nil, storeError(ctx, err, "list clusters")
	}
	defer rows.Close()
	out := []provisioner.Cluster{} // an empty list, never null in JSON
	for rows.Next() {
		c, err := scanCluster(rows)
		if err != nil {
			return nil, storeError(ctx, err, "list clusters")
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, storeError(ctx, err, "list clusters")
	}
	return out, nil
}

// scanner is what *sql.Row and *sql.Rows have in common.
type scanner interface{ Scan(dest ...any) error }

func scanCluster(s scanner) (provisioner.Cluster, error) {
	var c provisioner.Cluster
	var state, created, updated string
	var expires, destroy sql.NullString
	if err := s.Scan(&c.Name, &c.IsPublic, &state, &c.NodeCapacity, &c.Version, &c.Endpoint, &c.CreatedBy,
		&created, &updated, &expires, &destroy, &c.Operation, &c.Reason, &c.Team, &c.Revision); err != nil {
		return c, err
	}
	c.State = provisioner.ClusterState(state)
	var err error
	c.CreatedAt, c.UpdatedAt, c.ExpiresAt, c.DestroyAt, err = parseLifeTimes(created, updated, expires, destroy)
	return c, err
}
