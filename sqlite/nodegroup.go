package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"provisioner"
)

// groupColumns are the columns scanGroup reads, in its order.
const groupColumns = `cluster, user, ` + deploymentColumns

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
	var rev int64
	err := db.writeTx(ctx, func(tx *sql.Tx) (err error) {
		rev, err = putNodeGroup(ctx, tx, g)
		return err
	})
	if err != nil {
		return 0, storeError(ctx, err, "save node group")
	}
	return rev, nil
}

// putNodeGroup is PutNodeGroup's write in tx; errors come back
// unconverted.
func putNodeGroup(ctx context.Context, tx *sql.Tx, g provisioner.NodeGroup) (int64, error) {
	return putDeploymentTx(ctx, tx, `
		INSERT INTO node_groups (`+deploymentColumns+`, cluster, user)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (cluster, user) DO NOTHING`, `
		UPDATE node_groups SET `+deploymentSet+`
		WHERE cluster = ? AND user = ? AND revision = ?`,
		nil, g.Deployment, []any{g.Cluster, g.User},
		func(*sql.Tx) error {
			return provisioner.Errorf(provisioner.ECONFLICT, "node group of %q on cluster %q was changed by another request", g.User, g.Cluster)
		})
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
	return queryAll(ctx, db, "list node groups", scanGroup, `SELECT `+groupColumns+` FROM node_groups
		WHERE ? = '' OR cluster = ? ORDER BY cluster, user`, cluster, cluster)
}

func scanGroup(s scanner) (provisioner.NodeGroup, error) {
	var g provisioner.NodeGroup
	err := scanDeployment(s, &g.Deployment, &g.Cluster, &g.User)
	return g, err
}
