package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"provisioner"
	"provisioner/storetime"
)

// PutOperation creates the operation or replaces every field of the one
// with the same ID.
func (db *DB) PutOperation(ctx context.Context, op provisioner.Operation) error {
	if op.ID == "" {
		return provisioner.Errorf(provisioner.EINVALID, "operation id is required")
	}
	args, err := operationRow(op)
	if err != nil {
		return err
	}
	_, err = db.w.ExecContext(ctx, putOperationSQL, args...)
	return storeError(ctx, err, "save operation")
}

// putOperationSQL creates or replaces an operation from operationRow's values.
const putOperationSQL = `
	INSERT INTO operations (id, kind, cluster, state, error_code, message, created_by, created_at, updated_at, deadline)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (id) DO UPDATE SET
		kind = excluded.kind, cluster = excluded.cluster, state = excluded.state,
		error_code = excluded.error_code, message = excluded.message, created_by = excluded.created_by,
		created_at = excluded.created_at, updated_at = excluded.updated_at, deadline = excluded.deadline`

// operationRow returns the values of putOperationSQL.
func operationRow(op provisioner.Operation) ([]any, error) {
	created, err := storetime.Format(op.CreatedAt)
	if err != nil {
		return nil, err
	}
	updated, err := storetime.Format(op.UpdatedAt)
	if err != nil {
		return nil, err
	}
	deadline, err := formatOptionalTime(op.Deadline)
	if err != nil {
		return nil, err
	}
	return []any{op.ID, op.Kind, op.Cluster, string(op.State), op.ErrorCode, op.Message, op.CreatedBy, created, updated, deadline}, nil
}

// GetOperation returns the operation with the given ID, or ENOTFOUND.
func (db *DB) GetOperation(ctx context.Context, id string) (provisioner.Operation, error) {
	var op provisioner.Operation
	var state, created, updated string
	var deadline sql.NullString
	err := db.r.QueryRowContext(ctx, `
		SELECT id, kind, cluster, state, error_code, message, created_by, created_at, updated_at, deadline
		FROM operations WHERE id = ?`, id).Scan(
		&op.ID, &op.Kind, &op.Cluster, &state, &op.ErrorCode, &op.Message, &op.CreatedBy, &created, &updated, &deadline)
	if errors.Is(err, sql.ErrNoRows) && ctx.Err() == nil {
		return provisioner.Operation{}, provisioner.Errorf(provisioner.ENOTFOUND, "operation %q not found", id)
	}
	if err != nil {
		return provisioner.Operation{}, storeError(ctx, err, "read operation")
	}
	op.State = provisioner.OperationState(state)
	if op.CreatedAt, err = storetime.Parse(created); err != nil {
		return provisioner.Operation{}, err
	}
	if op.UpdatedAt, err = storetime.Parse(updated); err != nil {
		return provisioner.Operation{}, err
	}
	if op.Deadline, err = parseOptionalTime(deadline); err != nil {
		return provisioner.Operation{}, err
	}
	return op, nil
}
