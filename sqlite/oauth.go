package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"provisioner"
	"provisioner/storetime"
)

// The authorization server's records are stored whole as JSON (doc), with
// beside it the columns the queries and conditions need. Expired rows go
// when a newer record of their kind is created (prune), so the tables stay
// bounded without a clock of the store's own.

// pruneAfter is how long after its expiry a record may still be read: a
// used code must outlive its expiry a little, to recognise a replay.
const pruneAfter = time.Hour

// CreateOAuthClient records a new client.
func (db *DB) CreateOAuthClient(ctx context.Context, c provisioner.OAuthClient) error {
	if err := c.Check(); err != nil {
		return err
	}
	c.IssuedAt, c.UsedAt, c.Expires = utc(c.IssuedAt), utc(c.UsedAt), utc(c.Expires)
	return db.insertDoc(ctx, "create OAuth client", "oauth_clients", c.IssuedAt,
		`INSERT INTO oauth_clients (id, doc, expires_at) VALUES (?, ?, ?)`, c, c.ID)
}

// GetOAuthClient returns a client.
func (db *DB) GetOAuthClient(ctx context.Context, id string) (provisioner.OAuthClient, error) {
	var c provisioner.OAuthClient
	err := db.readDoc(ctx, "get OAuth client", &c, `SELECT doc FROM oauth_clients WHERE id = ?`, id)
	return c, err
}

// TouchOAuthClient records a use of a client.
func (db *DB) TouchOAuthClient(ctx context.Context, id string, usedAt, expires time.Time) error {
	const op = "record OAuth client use"
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return storeError(ctx, err, op)
	}
	defer tx.Rollback()
	var doc string
	if err := tx.QueryRowContext(ctx, `SELECT doc FROM oauth_clients WHERE id = ?`, id).Scan(&doc); err != nil {
		return storeError(ctx, err, op)
	}
	var c provisioner.OAuthClient
	if err := unmarshalDoc(doc, &c); err != nil {
		return err
	}
	c.UsedAt, c.Expires = utc(usedAt), utc(expires)
	b, exp, err := docOf(c, c.Expires)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE oauth_clients SET doc = ?, expires_at = ? WHERE id = ?`, b, exp, id); err != nil {
		return storeError(ctx, err, op)
	}
	return storeError(ctx, tx.Commit(), op)
}

// CreateOAuthRequest records a pending authorization request.
func (db *DB) CreateOAuthRequest(ctx context.Context, r provisioner.OAuthRequest) error {
	if err := r.Check(); err != nil {
		return err
	}
	r.Created, r.Expires = utc(r.Created), utc(r.Expires)
	return db.insertDoc(ctx, "create OAuth request", "oauth_requests", r.Created,
		`INSERT INTO oauth_requests (id, doc, expires_at) VALUES (?, ?, ?)`, r, r.ID)
}

// TakeOAuthRequest returns a request and deletes it, in one statement.
func (db *DB) TakeOAuthRequest(ctx context.Context, id string) (provisioner.OAuthRequest, error) {
	var doc string
	err := db.w.QueryRowContext(ctx, `DELETE FROM oauth_requests WHERE id = ? RETURNING doc`, id).Scan(&doc)
	if err != nil {
		return provisioner.OAuthRequest{}, storeError(ctx, err, "take OAuth request")
	}
	var r provisioner.OAuthRequest
	return r, unmarshalDoc(doc, &r)
}

// CreateOAuthCode records a new code.
func (db *DB) CreateOAuthCode(ctx context.Context, c provisioner.OAuthCode) error {
	if err := c.Check(); err != nil {
		return err
	}
	c.Created, c.Expires = utc(c.Created), utc(c.Expires)
	return db.insertDoc(ctx, "create OAuth code", "oauth_codes", c.Created,
		`INSERT INTO oauth_codes (hash, doc, expires_at) VALUES (?, ?, ?)`, c, c.Hash)
}

// TakeOAuthCode marks a code used, once; a used one is a replay.
func (db *DB) TakeOAuthCode(ctx context.Context, hash string) (provisioner.OAuthCode, error) {
	const op = "take OAuth code"
	var c provisioner.OAuthCode
	var doc string
	err := db.w.QueryRowContext(ctx, `UPDATE oauth_codes SET used = 1 WHERE hash = ? AND used = 0 RETURNING doc`, hash).Scan(&doc)
	if err == nil {
		return c, unmarshalDoc(doc, &c)
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return c, storeError(ctx, err, op)
	}
	if err := db.readDoc(ctx, op, &c, `SELECT doc FROM oauth_codes WHERE hash = ?`, hash); err != nil {
		return c, err
	}
	return c, provisioner.Errorf(provisioner.ECONFLICT, "the code was used before")
}

// CreateOAuthGrant records a new grant.
func (db *DB) CreateOAuthGrant(ctx context.Context, g provisioner.OAuthGrant) error {
	if err := g.Check(); err != nil {
		return err
	}
	g = utcGrant(g)
	created, err := storetime.Format(g.Created)
	if err != nil {
		return err
	}
	return db.insertDoc(ctx, "create OAuth grant", "oauth_grants", g.Created,
		`INSERT INTO oauth_grants (id, login, current, revoked, created_at, doc, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		g, g.ID, g.User.Login, g.Current, boolInt(!g.RevokedAt.IsZero()), created)
}

// GetOAuthGrant returns a grant.
func (db *DB) GetOAuthGrant(ctx context.Context, id string) (provisioner.OAuthGrant, error) {
	var g provisioner.OAuthGrant
	err := db.readDoc(ctx, "get OAuth grant", &g, `SELECT doc FROM oauth_grants WHERE id = ?`, id)
	return g, err
}

// ListOAuthGrants returns a login's grants, newest first.
func (db *DB) ListOAuthGrants(ctx context.Context, login string) ([]provisioner.OAuthGrant, error) {
	return queryAll(ctx, db, "list OAuth grants", func(sc scanner) (provisioner.OAuthGrant, error) {
		var doc string
		var g provisioner.OAuthGrant
		if err := sc.Scan(&doc); err != nil {
			return g, err
		}
		return g, unmarshalDoc(doc, &g)
	}, `SELECT doc FROM oauth_grants WHERE login = ? ORDER BY created_at DESC, id`, login)
}

// RotateOAuthGrant replaces a live grant whose current token is prev.
func (db *DB) RotateOAuthGrant(ctx context.Context, g provisioner.OAuthGrant, prev string) error {
	const op = "rotate OAuth grant"
	if err := g.Check(); err != nil {
		return err
	}
	g = utcGrant(g)
	b, exp, err := docOf(g, g.Expires)
	if err != nil {
		return err
	}
	res, err := db.w.ExecContext(ctx, `UPDATE oauth_grants SET doc = ?, current = ?, expires_at = ?
		WHERE id = ? AND current = ? AND revoked = 0`, b, g.Current, exp, g.ID, prev)
	if err != nil {
		return storeError(ctx, err, op)
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return storeError(ctx, err, op)
	}
	if _, err := db.GetOAuthGrant(ctx, g.ID); err != nil {
		return err
	}
	return provisioner.Errorf(provisioner.ECONFLICT, "the grant was renewed or revoked meanwhile")
}

// RevokeOAuthGrant revokes a grant, once.
func (db *DB) RevokeOAuthGrant(ctx context.Context, id string, at time.Time, reason string) (provisioner.OAuthGrant, bool, error) {
	const op = "revoke OAuth grant"
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return provisioner.OAuthGrant{}, false, storeError(ctx, err, op)
	}
	defer tx.Rollback()
	var doc string
	if err := tx.QueryRowContext(ctx, `SELECT doc FROM oauth_grants WHERE id = ?`, id).Scan(&doc); err != nil {
		return provisioner.OAuthGrant{}, false, storeError(ctx, err, op)
	}
	var g provisioner.OAuthGrant
	if err := unmarshalDoc(doc, &g); err != nil {
		return g, false, err
	}
	if !g.RevokedAt.IsZero() {
		return g, false, nil
	}
	g.RevokedAt, g.Reason = utc(at), reason
	b, _, err := docOf(g, g.Expires)
	if err != nil {
		return g, false, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE oauth_grants SET doc = ?, revoked = 1 WHERE id = ?`, b, id); err != nil {
		return g, false, storeError(ctx, err, op)
	}
	if err := tx.Commit(); err != nil {
		return g, false, storeError(ctx, err, op)
	}
	return g, true, nil
}

// insertDoc runs an INSERT whose last two arguments are the record's doc
// and expiry (args are the ones before), after deleting the rows of table
// that expired pruneAfter before now, the new record's time.
func (db *DB) insertDoc(ctx context.Context, op, table string, now time.Time, q string, v any, args ...any) error {
	b, exp, err := docOf(v, expiryOf(v))
	if err != nil {
		return err
	}
	cutoff, err := storetime.Format(now.Add(-pruneAfter))
	if err != nil {
		return err
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return storeError(ctx, err, op)
	}
	defer tx.Rollback()
	// table is one of ours, never input.
	if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE expires_at < ?`, cutoff); err != nil {
		return storeError(ctx, err, op)
	}
	if _, err := tx.ExecContext(ctx, q, append(args, b, exp)...); err != nil {
		return storeError(ctx, err, op)
	}
	return storeError(ctx, tx.Commit(), op)
}

// readDoc reads one doc column into v; ENOTFOUND when there is no row.
func (db *DB) readDoc(ctx context.Context, op string, v any, q string, args ...any) error {
	var doc string
	if err := db.r.QueryRowContext(ctx, q, args...).Scan(&doc); err != nil {
		return storeError(ctx, err, op)
	}
	return unmarshalDoc(doc, v)
}

func expiryOf(v any) time.Time {
	switch r := v.(type) {
	case provisioner.OAuthClient:
		return r.Expires
	case provisioner.OAuthRequest:
		return r.Expires
	case provisioner.OAuthCode:
		return r.Expires
	case provisioner.OAuthGrant:
		return r.Expires
	}
	return time.Time{}
}

func docOf(v any, expires time.Time) (string, string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", "", provisioner.Wrap(provisioner.EINTERNAL, err, "cannot encode a record")
	}
	exp, err := storetime.Format(expires)
	return string(b), exp, err
}

func unmarshalDoc(doc string, v any) error {
	if err := json.Unmarshal([]byte(doc), v); err != nil {
		return provisioner.Wrap(provisioner.EINTERNAL, err, "stored record is malformed")
	}
	return nil
}

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

func utcGrant(g provisioner.OAuthGrant) provisioner.OAuthGrant {
	g.Created, g.Expires, g.RevokedAt = utc(g.Created), utc(g.Expires), utc(g.RevokedAt)
	return g
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
