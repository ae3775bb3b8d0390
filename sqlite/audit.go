package sqlite

import (
	"context"
	"strings"

	"provisioner"
)

// defaultAuditLimit is the page size of ListAudit when the filter sets none.
const defaultAuditLimit = 100

// AppendAudit records e. The caller sets ID and Time; an ID already used is
// ECONFLICT, because the trail is append-only and must not be overwritten.
func (db *DB) AppendAudit(ctx context.Context, e provisioner.AuditEntry) error {
	if e.ID == "" {
		return provisioner.Errorf(provisioner.EINVALID, "audit entry id is required")
	}
	if e.Time.IsZero() {
		return provisioner.Errorf(provisioner.EINVALID, "audit entry time is required")
	}
	level, err := e.Level.MarshalText()
	if err != nil {
		return provisioner.Wrap(provisioner.EINVALID, err, "audit entry has an invalid level")
	}
	t, err := formatTime(e.Time)
	if err != nil {
		return err
	}
	_, err = db.w.ExecContext(ctx, `
		INSERT INTO audit (id, time, actor, level, action, target, result, source, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID, t, e.Actor, string(level), e.Action, e.Target, e.Result, e.Source, e.Detail)
	return storeError(ctx, err, "append audit entry")
}

// ListAudit returns the entries matching every set field of f, newest first
// (entries with the same time: last appended first), at most f.Limit of
// them (100 when unset). Since is inclusive.
func (db *DB) ListAudit(ctx context.Context, f provisioner.AuditFilter) ([]provisioner.AuditEntry, error) {
	if f.Limit < 0 {
		return nil, provisioner.Errorf(provisioner.EINVALID, "audit limit must not be negative")
	}
	if f.Limit == 0 {
		f.Limit = defaultAuditLimit
	}
	var where []string
	var args []any
	if f.Actor != "" {
		where, args = append(where, "actor = ?"), append(args, f.Actor)
	}
	if f.Action != "" {
		where, args = append(where, "action = ?"), append(args, f.Action)
	}
	if !f.Since.IsZero() {
		since, err := formatTime(f.Since)
		if err != nil {
			return nil, err
		}
		where, args = append(where, "time >= ?"), append(args, since)
	}
	q := `SELECT id, time, actor, level, action, target, result, source, detail FROM audit`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY time DESC, seq DESC LIMIT ?"
	args = append(args, f.Limit)

	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, storeError(ctx, err, "list audit entries")
	}
	defer rows.Close()
	out := make([]provisioner.AuditEntry, 0, min(f.Limit, defaultAuditLimit))
	for rows.Next() {
		var e provisioner.AuditEntry
		var t, level string
		if err := rows.Scan(&e.ID, &t, &e.Actor, &level, &e.Action, &e.Target, &e.Result, &e.Source, &e.Detail); err != nil {
			return nil, storeError(ctx, err, "list audit entries")
		}
		if e.Time, err = parseTime(t); err != nil {
			return nil, err
		}
		if err := e.Level.UnmarshalText([]byte(level)); err != nil {
			return nil, provisioner.Wrap(provisioner.EINTERNAL, err, "stored audit level is malformed")
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, storeError(ctx, err, "list audit entries")
	}
	return out, nil
}
