package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"provisioner"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// storeError turns a driver error into a *provisioner.Error. The message
// names the operation only: SQL and driver text stay in the wrapped error,
// for logs. Cancellation keeps ctx.Err() in the chain, so callers can tell a
// gone client (errors.Is context.Canceled) from a failing store.
func storeError(ctx context.Context, err error, op string) error {
	if err == nil {
		return nil
	}
	if cerr := provisioner.ContextError(ctx, err, op); cerr != nil {
		return cerr
	}
	if errors.Is(err, sql.ErrNoRows) {
		return provisioner.Wrap(provisioner.ENOTFOUND, err, "%s: not found", op)
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
			return provisioner.Wrap(provisioner.ECONFLICT, err, "%s: already exists", op)
		}
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return provisioner.Wrap(provisioner.EUNAVAILABLE, err, "%s: database busy", op)
		}
	}
	return provisioner.Wrap(provisioner.EINTERNAL, err, "%s: store failure", op)
}
