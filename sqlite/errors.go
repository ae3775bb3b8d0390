package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"syscall"

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
	if code := storageCode(err); code != "" {
		return provisioner.Wrap(code, err, "%s: %s", op, storageMessage[code])
	}
	return provisioner.Wrap(provisioner.EINTERNAL, err, "%s: store failure", op)
}

// storageMessage is what the caller learns of a storage fault.
var storageMessage = map[string]string{
	provisioner.ESTORAGEFULL:    "storage full",
	provisioner.ESTORAGECORRUPT: "database corrupt",
}

// storageCode classifies a fault of the storage under the database:
// ESTORAGEFULL for a full disk or size limit (SQLITE_FULL, or ENOSPC from
// the file system, which SQLite may report as an I/O error),
// ESTORAGECORRUPT for damaged pages or a file that is no
// database (SQLITE_CORRUPT, SQLITE_NOTADB); "" for anything else.
func storageCode(err error) string {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_FULL:
			return provisioner.ESTORAGEFULL
		case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
			return provisioner.ESTORAGECORRUPT
		}
	}
	if errors.Is(err, syscall.ENOSPC) || strings.Contains(err.Error(), "no space left on device") {
		return provisioner.ESTORAGEFULL
	}
	return ""
}
