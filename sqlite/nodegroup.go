package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"provisioner"
)

const groupColumns = `cluster, user, state, node_capacity, created_by, created_at, updated_at,
	expires_at, destroy_at, operation, reason, revision`

// GetNodeGroup returns the group with its revision, or ENOTFOUND.
func (db *DB) GetNodeGroup(ctx context.Context, cluster, user string) (provisioner.NodeGroup, error) {
	row := db.r.QueryRowContext(ctx, `SELECT `+groupColumns+` FROM node_groups WHERE cluster = ? AND user = ?`, cluster, user)
	g, err := scanGroup(row)
	if errors.Is(err, sql.ErrNoRows) && ctx.Err() == nil {
		return provisioner.NodeGroup{}, provisioner.Errorf(provisioner.ENOTFOUND, "node group of %q on cluster %q not found", user, cluster)
	}
	if err != nil {
		return provisioner.NodeGroup{}, storeError(ctx, err, "read node group")
	}
	return g, nil
}

// PutNodeGroup writes g under the same compare-and-swap as PutCluster.
func (db *DB) PutNodeGroup(ctx context.Context, g provisioner.NodeGroup) (int64, error) {
	switch {
	case g.Cluster == "" || g.User == "":
		return 0, provisioner.Errorf(provisioner.EINVALID, "node group cluster and user are required")
	case g.Revision < 0:
		return 0, provisioner.Errorf(provisioner.EINVALID, "node group revision must not be negative")
	}
	lt, err := formatLifeTimes(g.CreatedAt, g.UpdatedAt, g.ExpiresAt, g.DestroyAt)
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
		args := []any{string(g.State), g.NodeCapacity, g.CreatedBy, created, updated, expires, destroy,
			g.Operation, g.Reason, rev, g.Cluster, g.User}
		var res sql.Result
		var err error
		if g.Revision == 0 {
			res, err = tx.ExecContext(ctx, `
				INSERT INTO node_groups (state, node_capacity, created_by, created_at, updated_at,
					expires_at, destroy_at, operation, reason, revision, cluster, user)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (cluster, user) DO NOTHING`, args...)
		} else {
			res, err = tx.ExecContext(ctx, `
				UPDATE node_groups SET state = ?, node_capacity = ?, created_by = ?, created_at = ?,
					updated_at = ?, expires_at = ?, destroy_at = ?, operation = ?, reason = ?, revision = ?
				WHERE cluster = ? AND user = ? AND revision = ?`, append(args, g.Revision)...)
		}
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return provisioner.Errorf(provisioner.ECONFLICT, "node group of %q on cluster %q was changed by another request", g.User, g.Cluster)
		}
		return nil
	})
	if err != nil {
		return 0, storeError(ctx, err, "save node group")
	}
	return rev, nil
}

// DeleteNodeGroup removes the group if its revision is revision, else
// ECONFLICT; an absent group is not an error.
func (db *DB) DeleteNodeGroup(ctx context.Context, cluster, user string, revision int64) error {
	if revision < 0 {
		return provisioner.Errorf(provisioner.EINVALID, "node group revision must not be negative")
	}
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM node_groups WHERE cluster = ? AND user = ? AND revision = ?`, cluster, user, revision)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n > 0 {
			return err
		}
		var exists bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM node_groups WHERE cluster = ? AND user = ?)`,
			cluster, user).Scan(&exists); err != nil || !exists {
			return err
		}
		return provisioner.Errorf(provisioner.ECONFLICT, "node group of %q on cluster %q was changed by another request", user, cluster)
	})
	return storeError(ctx, err, "delete node group")
}

// ListNodeGroups returns the groups of cluster ("": all), by cluster, user.
func (db *DB) ListNodeGroups(ctx context.Context, cluster string) ([]provisioner.NodeGroup, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+groupColumns+` FROM node_groups
		WHERE ? = '' OR cluster = ? ORDER BY cluster, user`, cluster, cluster)
	if err != nil {
		return nil, storeError(ctx, err, "list node groups")
	}
	defer rows.Close()
	out := []provisioner.NodeGroup{}
	for rows.Next() {
		g, err := scanGroup(rows)
		if err != nil {
			return nil, storeError(ctx, err, "list node groups")
		}
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, storeError(ctx, err, "list node groups")
	}
	return out, nil
}

func scanGroup(s scanner) (provisioner.NodeGroup, error) {
	var g provisioner.NodeGroup
	var state, created, updated string
	var expires, destroy sql.NullString
	if err := s.Scan(&g.Cluster, &g.User, &state, &g.NodeCapacity, &g.CreatedBy, &created, &updated,
		&expires, &destroy, &g.Operation, &g.Reason, &g.Revision); err != nil {
		return g, err
	}
	g.State = provisioner.ClusterState(state)
	var err error
	g.CreatedAt, g.UpdatedAt, g.ExpiresAt, g.DestroyAt, err = parseLifeTimes(created, updated, expires, destroy)
	return g, err
}
