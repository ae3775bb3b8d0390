package sqlite

import (
	"database/sql"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"provisioner"
)

func userVersion(t *testing.T, db *sql.DB) int {
	t.Helper()
	var v int
	if err := db.QueryRow("PRAGMA user_version").Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "provisioner.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	want := provisioner.Cluster{
		Name:     "alpha",
		IsPublic: true,
		Deployment: provisioner.Deployment{
			State:     provisioner.StateRunning,
			CreatedBy: "alice",
			CreatedAt: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
			ExpiresAt: time.Date(2025, 3, 1, 14, 0, 0, 0, time.UTC),
		},
	}
	rev, err := db.PutCluster(t.Context(), want)
	if err != nil {
		t.Fatal(err)
	}
	want.Revision = rev
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = Open(path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer db.Close()
	got, err := db.GetCluster(t.Context(), "alpha")
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("after reopen: %+v, %v; want %+v", got, err, want)
	}
	if v := userVersion(t, db.w.DB); v != len(migrations) {
		t.Fatalf("user_version = %d, want %d", v, len(migrations))
	}
}

// TestMigrateOnce runs a schema whose last step is not idempotent (an
// INSERT): repeating migrate, or reopening, must not run it again, and a
// later step appended to the list runs exactly once.
func TestMigrateOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "provisioner.db")
	steps := append(migrations[:len(migrations):len(migrations)],
		`CREATE TABLE probe (n INTEGER); INSERT INTO probe VALUES (1);`)
	count := func(db *DB) int {
		var n int
		if err := db.w.QueryRow("SELECT count(*) FROM probe").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	db, err := Open(path) // the real schema first, as an older binary would
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := migrate(t.Context(), db.w.DB, steps); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(db); n != 1 {
		t.Fatalf("probe step ran %d times, want 1", n)
	}
	if v := userVersion(t, db.w.DB); v != len(steps) {
		t.Fatalf("user_version = %d, want %d", v, len(steps))
	}
	db.Close()

	// The current binary knows fewer steps than the file has run: it must
	// refuse rather than guess, and must not touch the file.
	if db, err := Open(path); err == nil {
		db.Close()
		t.Fatal("Open of a database from a newer schema succeeded")
	}

	db, err = open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := migrate(t.Context(), db.w.DB, steps); err != nil {
		t.Fatal(err)
	}
	if n := count(db); n != 1 {
		t.Fatalf("after reopen the probe step ran %d times, want 1", n)
	}
}

// TestMigrateAtomic checks that a failing step leaves no part of the
// migration behind.
func TestMigrateAtomic(t *testing.T) {
	db, err := open(filepath.Join(t.TempDir(), "provisioner.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	steps := append(migrations[:len(migrations):len(migrations)], `CREATE TABLE half (n INTEGER)`, `NOT SQL`)
	if err := migrate(t.Context(), db.w.DB, steps); err == nil {
		t.Fatal("migrate with a bad step succeeded")
	}
	if v := userVersion(t, db.w.DB); v != 0 {
		t.Fatalf("user_version = %d after a failed migration, want 0", v)
	}
	var n int
	if err := db.w.QueryRow("SELECT count(*) FROM sqlite_schema WHERE name IN ('clusters', 'half')").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("a failed migration left %d tables behind", n)
	}
}
