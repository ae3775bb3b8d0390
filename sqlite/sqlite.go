// Package sqlite implements provisioner.Store on SQLite (modernc.org/sqlite,
// no cgo), the state of the embedded backend, and on the same database
// provisioner.Scheduler (see Scheduler), the embedded durable scheduler.
//
// Writes go through a pool of one connection, so writers queue in Go (where
// they honour their context) instead of spinning on SQLITE_BUSY; reads use a
// separate pool that WAL lets run beside the writer.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"

	"provisioner"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

var _ provisioner.Store = (*DB)(nil)

// busyTimeoutMS bounds how long a statement waits for another process (say a
// second provisioner on the same file) to release its lock.
const busyTimeoutMS = 5000

// DB is a provisioner.Store backed by one SQLite database.
type DB struct {
	w *pool // one connection: the only writer
	r *pool // readers; the same pool as w for an in-memory database
	// group commits the audit trail's appends (groupcommit.go).
	group committer
}

// Open opens, creating it with mode 0600 if absent, the database at path,
// checks it (PRAGMA quick_check) and brings its schema up to date. The path
// ":memory:" opens a private in-memory database that lives until Close.
//
// A damaged database is refused with ESTORAGECORRUPT, a full disk with
// ESTORAGEFULL; the message of an open error names its cause, since it is
// read by the operator starting the service.
func Open(path string) (*DB, error) {
	if path == "" || strings.ContainsRune(path, '?') {
		return nil, provisioner.Errorf(provisioner.EINVALID, "invalid database path %q", path)
	}
	db, err := open(path)
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	if err := db.check(ctx, path); err != nil {
		db.Close()
		return nil, err
	}
	if err := migrate(ctx, db.w.DB, migrations); err != nil {
		db.Close()
		return nil, openError(err, "cannot migrate database %s", path)
	}
	return db, nil
}

// check runs PRAGMA quick_check: a database with damaged pages would open,
// then fail writes one by one.
func (db *DB) check(ctx context.Context, path string) error {
	rows, err := db.w.QueryContext(ctx, "PRAGMA quick_check")
	if err != nil {
		return openError(err, "cannot check database %s", path)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return openError(err, "cannot check database %s", path)
		}
		if line != "ok" && len(problems) < 5 {
			problems = append(problems, strings.Join(strings.Fields(line), " "))
		}
	}
	if err := rows.Err(); err != nil {
		return openError(err, "cannot check database %s", path)
	}
	if len(problems) > 0 {
		return provisioner.Errorf(provisioner.ESTORAGECORRUPT,
			"database %s is corrupt (quick_check: %s); restore it from a backup, or move it aside and start with --recreate-db",
			path, strings.Join(problems, "; "))
	}
	return nil
}

// openError wraps an error met while opening the database: the code says
// whether storage is full or corrupt, and the message keeps the cause.
func openError(err error, format string, args ...any) error {
	code := storageCode(err)
	if code == "" {
		code = provisioner.EINTERNAL
	}
	msg := fmt.Sprintf(format, args...)
	cause := err.Error()
	var pe *provisioner.Error
	if errors.As(err, &pe) {
		if pe.Code != provisioner.EINTERNAL && pe.Code != "" {
			code = pe.Code
		}
		if pe.Err != nil {
			cause = pe.Message + ": " + pe.Err.Error()
			if c := storageCode(pe.Err); c != "" {
				code = c
			}
		}
	}
	if code == provisioner.ESTORAGECORRUPT {
		cause += "; restore it from a backup, or move it aside and start with --recreate-db"
	}
	return provisioner.Wrap(code, err, "%s: %s", msg, cause)
}

func open(path string) (*DB, error) {
	if path == ":memory:" {
		// Every connection to :memory: is a database of its own, so the
		// store keeps exactly one and never lets the pool replace it.
		w, err := sql.Open("sqlite", dsn(path, "_pragma=foreign_keys(1)"))
		if err != nil {
			return nil, openError(err, "cannot open in-memory database")
		}
		w.SetMaxOpenConns(1)
		w.SetMaxIdleConns(1)
		return newDB(w, w), nil
	}
	if err := create(path); err != nil {
		return nil, err
	}
	w, err := sql.Open("sqlite", dsn(path,
		"_pragma=journal_mode(WAL)",
		"_pragma=synchronous(NORMAL)",
		"_pragma=foreign_keys(1)",
		"_txlock=immediate", // take the write lock at BEGIN, never upgrade into a deadlock
	))
	if err != nil {
		return nil, openError(err, "cannot open database %s", path)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	// The writer must have switched the file to WAL before readers connect.
	if err := w.Ping(); err != nil {
		w.Close()
		return nil, openError(err, "cannot open database %s", path)
	}
	r, err := sql.Open("sqlite", dsn(path, "_pragma=query_only(1)"))
	if err != nil {
		w.Close()
		return nil, openError(err, "cannot open database %s", path)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	return newDB(w, r), nil
}

func newDB(w, r *sql.DB) *DB {
	wp, rp := newPool(w), newPool(r)
	if r == w {
		rp = wp
	}
	db := &DB{w: wp, r: rp}
	db.group.db = db
	return db
}

// dsn returns a modernc.org/sqlite data source name: the path, then the
// per-connection settings, which the driver applies to every new connection.
func dsn(path string, params ...string) string {
	params = append([]string{fmt.Sprintf("_pragma=busy_timeout(%d)", busyTimeoutMS)}, params...)
	return path + "?" + strings.Join(params, "&")
}

// create makes the database file 0600 before SQLite sees it: SQLite would
// create it world-readable, and it holds the audit trail. SQLite gives the
// -wal and -shm files the mode of the database file. An existing file keeps
// the mode its operator chose.
func create(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return openError(err, "cannot create database %s", path)
	}
	if err := f.Close(); err != nil {
		return openError(err, "cannot create database %s", path)
	}
	return nil
}

// Close closes the database. Writes waiting for a group commit are
// committed first; every other method commits before it returns.
func (db *DB) Close() error {
	db.group.close()
	err := db.w.Close()
	if db.r != db.w {
		err = errors.Join(err, db.r.Close())
	}
	if err != nil {
		return provisioner.Wrap(provisioner.EINTERNAL, err, "cannot close database")
	}
	return nil
}

// writeTx runs fn in a transaction on the writer, IMMEDIATE for a file (see
// open), and commits if fn returns nil. Errors come back unconverted.
func (db *DB) writeTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback() // the error that matters is fn's
		return err
	}
	return tx.Commit()
}
