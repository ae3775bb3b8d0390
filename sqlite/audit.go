package sqlite

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"provisioner"
	"provisioner/storetime"
)

// defaultAuditLimit is the page size of ListAudit when the filter sets none.
const defaultAuditLimit = 100

// AppendAudit records e. The caller sets ID and Time; an ID already used is
// ECONFLICT, because the trail is append-only and must not be overwritten.
func (db *DB) AppendAudit(ctx context.Context, e provisioner.AuditEntry) error {
	row, err := auditRow(e)
	if err != nil {
		return err
	}
	// Group committed: every request appends one (groupcommit.go).
	err = db.group.exec(ctx, appendAuditSQL, row...)
	return storeError(ctx, err, "append audit entry")
}

// appendAuditSQL appends an audit entry from auditRow's values.
const appendAuditSQL = `INSERT INTO audit (` + auditRowColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`

// auditRowColumns are the columns of auditRow, in its order.
const auditRowColumns = `id, time, actor, level, action, target, result, source, detail`

// auditRow checks e and returns its values for auditRowColumns; the time
// is the second.
func auditRow(e provisioner.AuditEntry) ([]any, error) {
	if e.ID == "" {
		return nil, provisioner.Errorf(provisioner.EINVALID, "audit entry id is required")
	}
	if e.Time.IsZero() {
		return nil, provisioner.Errorf(provisioner.EINVALID, "audit entry time is required")
	}
	level, err := e.Level.MarshalText()
	if err != nil {
		return nil, provisioner.Wrap(provisioner.EINVALID, err, "audit entry has an invalid level")
	}
	t, err := storetime.Format(e.Time)
	if err != nil {
		return nil, err
	}
	return []any{e.ID, t, e.Actor, string(level), e.Action, e.Target, e.Result, e.Source, e.Detail}, nil
}

// CountAudit records e, or adds its Count (0 counts as 1) to the entry with
// its ID and moves that entry's Last to e.Time if later.
func (db *DB) CountAudit(ctx context.Context, e provisioner.AuditEntry) error {
	if e.Count < 0 {
		return provisioner.Errorf(provisioner.EINVALID, "audit entry count must not be negative")
	}
	row, err := auditRow(e)
	if err != nil {
		return err
	}
	err = db.group.exec(ctx, `
		INSERT INTO audit (`+auditRowColumns+`, count, last) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET count = count + excluded.count, last = max(coalesce(last, ''), excluded.last)`,
		append(row, max(e.Count, 1), row[1])...)
	return storeError(ctx, err, "count audit entry")
}

// PruneHistory deletes audit entries older than auditBefore and events
// older than eventsBefore (zero: none), in batches so that no single
// write holds the database long.
func (db *DB) PruneHistory(ctx context.Context, auditBefore, eventsBefore time.Time) (int64, error) {
	var total int64
	for _, p := range []struct {
		table  string
		before time.Time
	}{{"audit", auditBefore}, {"events", eventsBefore}} {
		if p.before.IsZero() {
			continue
		}
		before, err := storetime.Format(p.before)
		if err != nil {
			return total, err
		}
		for {
			// The table name is one of two constants, not input.
			res, err := db.w.ExecContext(ctx, `DELETE FROM `+p.table+` WHERE seq IN (
				SELECT seq FROM `+p.table+` WHERE time < ? LIMIT ?)`, before, pruneBatch)
			if err != nil {
				return total, storeError(ctx, err, "prune "+p.table)
			}
			n, _ := res.RowsAffected()
			total += n
			if n < pruneBatch {
				break
			}
		}
	}
	return total, nil
}

// pruneBatch is how many rows one prune statement deletes at most.
const pruneBatch = 5000

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
		since, err := storetime.Format(f.Since)
		if err != nil {
			return nil, err
		}
		where, args = append(where, "time >= ?"), append(args, since)
	}
	q := `SELECT id, time, actor, level, action, target, result, source, detail, count, last FROM audit`
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
		var last sql.NullString
		if err := rows.Scan(&e.ID, &t, &e.Actor, &level, &e.Action, &e.Target, &e.Result, &e.Source, &e.Detail, &e.Count, &last); err != nil {
			return nil, storeError(ctx, err, "list audit entries")
		}
		if e.Time, err = storetime.Parse(t); err != nil {
			return nil, err
		}
		if last.Valid {
			if e.Last, err = storetime.Parse(last.String); err != nil {
				return nil, err
			}
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
