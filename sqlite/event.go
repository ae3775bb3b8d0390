package sqlite

import (
	"context"

	"provisioner"
	"provisioner/storetime"
)

// defaultEventLimit is how many events ListEvents returns when asked for 0.
const defaultEventLimit = 100

// AppendEvent records e. The caller sets ID and Time; an ID already used is
// ECONFLICT, because a cluster's history is append-only.
func (db *DB) AppendEvent(ctx context.Context, e provisioner.Event) error {
	if err := e.Validate(); err != nil {
		return err
	}
	args, err := eventRow(e)
	if err != nil {
		return err
	}
	_, err = db.w.ExecContext(ctx, appendEventSQL, args...)
	return storeError(ctx, err, "append event")
}

// appendEventSQL appends an event from eventRow's values.
const appendEventSQL = `INSERT INTO events (id, cluster, time, type, actor, message) VALUES (?, ?, ?, ?, ?, ?)`

// eventRow returns the values of appendEventSQL.
func eventRow(e provisioner.Event) ([]any, error) {
	t, err := storetime.Format(e.Time)
	if err != nil {
		return nil, err
	}
	return []any{e.ID, e.Cluster, t, e.Type, e.Actor, e.Message}, nil
}

// ListEvents returns the newest limit events of the cluster (100 when limit
// is 0), oldest first; events with the same time come in the order they
// were appended. A cluster without events, or without a record, has none.
func (db *DB) ListEvents(ctx context.Context, cluster string, limit int) ([]provisioner.Event, error) {
	if limit < 0 {
		return nil, provisioner.Errorf(provisioner.EINVALID, "event limit must not be negative")
	}
	if limit == 0 {
		limit = defaultEventLimit
	}
	rows, err := db.r.QueryContext(ctx, `
		SELECT id, cluster, time, type, actor, message FROM (
			SELECT seq, id, cluster, time, type, actor, message FROM events
			WHERE cluster = ? ORDER BY time DESC, seq DESC LIMIT ?
		) ORDER BY time, seq`, cluster, limit)
	if err != nil {
		return nil, storeError(ctx, err, "list events")
	}
	defer rows.Close()
	out := make([]provisioner.Event, 0, min(limit, defaultEventLimit))
	for rows.Next() {
		var e provisioner.Event
		var t string
		if err := rows.Scan(&e.ID, &e.Cluster, &t, &e.Type, &e.Actor, &e.Message); err != nil {
			return nil, storeError(ctx, err, "list events")
		}
		if e.Time, err = storetime.Parse(t); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, storeError(ctx, err, "list events")
	}
	return out, nil
}
