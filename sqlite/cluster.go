package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"provisioner"
)

// GetCluster returns the named cluster, or ENOTFOUND.
func (db *DB) GetCluster(ctx context.Context, name string) (provisioner.Cluster, error) {
	row := db.r.QueryRowContext(ctx,
		`SELECT name, is_public, created_by, created_at, updated_at FROM clusters WHERE name = ?`, name)
	c, err := scanCluster(row)
	if errors.Is(err, sql.ErrNoRows) && ctx.Err() == nil {
		return provisioner.Cluster{}, provisioner.Errorf(provisioner.ENOTFOUND, "cluster %q not found", name)
	}
	if err != nil {
		return provisioner.Cluster{}, storeError(ctx, err, "read cluster")
	}
	return c, nil
}

// PutCluster creates the cluster or replaces every field of an existing one.
func (db *DB) PutCluster(ctx context.Context, c provisioner.Cluster) error {
	if c.Name == "" {
		return provisioner.Errorf(provisioner.EINVALID, "cluster name is required")
	}
	created, err := formatTime(c.CreatedAt)
	if err != nil {
		return err
	}
	updated, err := formatTime(c.UpdatedAt)
	if err != nil {
		return err
	}
	_, err = db.w.ExecContext(ctx, `
		INSERT INTO clusters (name, is_public, created_by, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET
			is_public = excluded.is_public, created_by = excluded.created_by,
			created_at = excluded.created_at, updated_at = excluded.updated_at`,
		c.Name, c.IsPublic, c.CreatedBy, created, updated)
	return storeError(ctx, err, "save cluster")
}

// DeleteCluster removes the cluster; an absent one is not an error, so
// retries converge.
func (db *DB) DeleteCluster(ctx context.Context, name string) error {
	_, err := db.w.ExecContext(ctx, `DELETE FROM clusters WHERE name = ?`, name)
	return storeError(ctx, err, "delete cluster")
}

// ListClusters returns every cluster ordered by name (byte order).
func (db *DB) ListClusters(ctx context.Context) ([]provisioner.Cluster, error) {
	rows, err := db.r.QueryContext(ctx,
		`SELECT name, is_public, created_by, created_at, updated_at FROM clusters ORDER BY name`)
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
	var created, updated string
	if err := s.Scan(&c.Name, &c.IsPublic, &c.CreatedBy, &created, &updated); err != nil {
		return c, err
	}
	var err error
	if c.CreatedAt, err = parseTime(created); err != nil {
		return c, err
	}
	c.UpdatedAt, err = parseTime(updated)
	return c, err
}
