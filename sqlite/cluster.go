package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"provisioner"
)

// clusterColumns are the columns scanCluster reads, in its order.
const clusterColumns = `name, is_public, version, endpoint, team, ` + deploymentColumns

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
	var rev int64
	err := db.writeTx(ctx, func(tx *sql.Tx) (err error) {
		rev, err = putCluster(ctx, tx, c)
		return err
	})
	if err != nil {
		return 0, storeError(ctx, err, "save cluster")
	}
	return rev, nil
}

// putCluster is PutCluster's write in tx; errors come back unconverted.
func putCluster(ctx context.Context, tx *sql.Tx, c provisioner.Cluster) (int64, error) {
	return putDeploymentTx(ctx, tx, `
		INSERT INTO clusters (is_public, version, endpoint, team, `+deploymentColumns+`, name)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (name) DO NOTHING`, `
		UPDATE clusters SET is_public = ?, version = ?, endpoint = ?, team = ?, `+deploymentSet+`
		WHERE name = ? AND revision = ?`,
		[]any{c.IsPublic, c.Version, c.Endpoint, c.Team}, c.Deployment, []any{c.Name},
		func(tx *sql.Tx) error { return clusterConflict(ctx, tx, c.Name, c.Revision) })
}

// DeleteCluster removes the cluster if its revision is revision, else
// returns ECONFLICT. An absent cluster is not an error, so retries converge.
func (db *DB) DeleteCluster(ctx context.Context, name string, revision int64) error {
	if revision < 0 {
		return provisioner.Errorf(provisioner.EINVALID, "cluster revision must not be negative")
	}
	err := db.writeTx(ctx, func(tx *sql.Tx) error { return deleteCluster(ctx, tx, name, revision) })
	return storeError(ctx, err, "delete cluster")
}

// deleteCluster is DeleteCluster's write in tx; errors come back
// unconverted.
func deleteCluster(ctx context.Context, tx *sql.Tx, name string, revision int64) error {
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
	return queryAll(ctx, db, "list clusters", scanCluster, `SELECT `+clusterColumns+` FROM clusters ORDER BY name`)
}

func scanCluster(s scanner) (provisioner.Cluster, error) {
	var c provisioner.Cluster
	err := scanDeployment(s, &c.Deployment, &c.Name, &c.IsPublic, &c.Version, &c.Endpoint, &c.Team)
	return c, err
}
