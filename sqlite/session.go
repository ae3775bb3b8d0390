package sqlite

import (
	"context"
	"database/sql"

	"provisioner"
	"provisioner/storetime"

	"time"
)

const sessionColumns = `login, id, uid, level, via, created_at, expires_at, revoked_at, reason, checked_at`

// CreateSession records a new session.
func (db *DB) CreateSession(ctx context.Context, s provisioner.Session) error {
	if err := validSession(s); err != nil {
		return err
	}
	level, err := s.Level.MarshalText()
	if err != nil {
		return provisioner.Wrap(provisioner.EINVALID, err, "session has an invalid level")
	}
	var args []any
	for _, t := range []time.Time{s.Created, s.Expires} {
		v, err := storetime.Format(t)
		if err != nil {
			return err
		}
		args = append(args, v)
	}
	for _, t := range []time.Time{s.RevokedAt, s.CheckedAt} {
		v, err := formatOptionalTime(t)
		if err != nil {
			return err
		}
		args = append(args, v)
	}
	_, err = db.w.ExecContext(ctx, `INSERT INTO sessions (`+sessionColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		s.Login, s.ID, s.UID, string(level), s.Via, args[0], args[1], args[2], s.Reason, args[3])
	return storeError(ctx, err, "create session")
}

func validSession(s provisioner.Session) error {
	switch {
	case s.Login == "" || s.ID == "":
		return provisioner.Errorf(provisioner.EINVALID, "a session needs a login and an id")
	case s.Created.IsZero() || s.Expires.IsZero():
		return provisioner.Errorf(provisioner.EINVALID, "a session needs its creation and expiry times")
	}
	return nil
}

// GetSession returns the login's session id, or ENOTFOUND.
func (db *DB) GetSession(ctx context.Context, login, id string) (provisioner.Session, error) {
	row := db.r.QueryRowContext(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE login = ? AND id = ?`, login, id)
	s, err := scanSession(row)
	if err != nil {
		return provisioner.Session{}, storeError(ctx, err, "get session")
	}
	return s, nil
}

// ListSessions returns the login's sessions, newest first.
func (db *DB) ListSessions(ctx context.Context, login string) ([]provisioner.Session, error) {
	return db.sessions(ctx, "list sessions", `SELECT `+sessionColumns+` FROM sessions WHERE login = ? ORDER BY created_at DESC, id`, login)
}

// RevokeSessions revokes the login's session id, or all of them.
func (db *DB) RevokeSessions(ctx context.Context, login, id string, at time.Time, reason string) ([]provisioner.Session, error) {
	when, err := storetime.Format(at)
	if err != nil {
		return nil, err
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, storeError(ctx, err, "revoke sessions")
	}
	defer tx.Rollback()
	q := `SELECT ` + sessionColumns + ` FROM sessions WHERE login = ?`
	args := []any{login}
	if id != "" {
		q += ` AND id = ?`
		args = append(args, id)
	}
	rows, err := tx.QueryContext(ctx, q+` ORDER BY created_at, id`, args...)
	if err != nil {
		return nil, storeError(ctx, err, "revoke sessions")
	}
	var found int
	var out []provisioner.Session
	for rows.Next() {
		s, err := scanSession(rows)
		if err != nil {
			rows.Close()
			return nil, storeError(ctx, err, "revoke sessions")
		}
		found++
		if s.Live(at) {
			s.RevokedAt, s.Reason = at.UTC(), reason
			out = append(out, s)
		}
	}
	if err := rows.Close(); err != nil {
		return nil, storeError(ctx, err, "revoke sessions")
	}
	if err := rows.Err(); err != nil {
		return nil, storeError(ctx, err, "revoke sessions")
	}
	if id != "" && found == 0 {
		return nil, provisioner.Errorf(provisioner.ENOTFOUND, "session %q of %s does not exist", id, login)
	}
	for _, s := range out {
		if _, err := tx.ExecContext(ctx, `UPDATE sessions SET revoked_at = ?, reason = ? WHERE login = ? AND id = ?`,
			when, reason, s.Login, s.ID); err != nil {
			return nil, storeError(ctx, err, "revoke sessions")
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, storeError(ctx, err, "revoke sessions")
	}
	return out, nil
}

// CheckSession records a passed membership check.
func (db *DB) CheckSession(ctx context.Context, login, id string, at time.Time) error {
	when, err := storetime.Format(at)
	if err != nil {
		return err
	}
	_, err = db.w.ExecContext(ctx, `UPDATE sessions SET checked_at = ? WHERE login = ? AND id = ? AND revoked_at IS NULL`, when, login, id)
	return storeError(ctx, err, "record session check")
}

// ListRevoked returns the sessions revoked since since that are unexpired at now.
func (db *DB) ListRevoked(ctx context.Context, since, now time.Time, limit int) ([]provisioner.Session, error) {
	if limit < 0 {
		return nil, provisioner.Errorf(provisioner.EINVALID, "limit must not be negative")
	}
	if limit == 0 {
		limit = 1000
	}
	s, err := storetime.Format(since)
	if err != nil {
		return nil, err
	}
	n, err := storetime.Format(now)
	if err != nil {
		return nil, err
	}
	return db.sessions(ctx, "list revoked sessions", `SELECT `+sessionColumns+` FROM sessions
		WHERE revoked_at IS NOT NULL AND revoked_at >= ? AND expires_at > ? ORDER BY revoked_at, id LIMIT ?`, s, n, limit)
}

func (db *DB) sessions(ctx context.Context, op, q string, args ...any) ([]provisioner.Session, error) {
	return queryAll(ctx, db, op, scanSession, q, args...)
}

func scanSession(sc scanner) (provisioner.Session, error) {
	var s provisioner.Session
	var level, created, expires string
	var revoked, checked sql.NullString
	if err := sc.Scan(&s.Login, &s.ID, &s.UID, &level, &s.Via, &created, &expires, &revoked, &s.Reason, &checked); err != nil {
		return s, err
	}
	if err := s.Level.UnmarshalText([]byte(level)); err != nil {
		return s, provisioner.Wrap(provisioner.EINTERNAL, err, "stored session has an invalid level")
	}
	var err error
	if s.Created, err = storetime.Parse(created); err != nil {
		return s, err
	}
	if s.Expires, err = storetime.Parse(expires); err != nil {
		return s, err
	}
	if s.RevokedAt, err = parseOptionalTime(revoked); err != nil {
		return s, err
	}
	s.CheckedAt, err = parseOptionalTime(checked)
	return s, err
}
