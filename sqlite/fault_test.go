package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"provisioner"
	"provisioner/api"
)

func auditEntry(i int) provisioner.AuditEntry {
	return provisioner.AuditEntry{ID: fmt.Sprintf("e%d", i), Time: time.Now().UTC(), Actor: "alice",
		Level: provisioner.LevelMember, Action: "access", Target: "demo", Result: "success",
		Detail: strings.Repeat("x", 2000)}
}

// fill writes audit entries until the store fails, and returns the failure.
func fill(t *testing.T, db *DB) error {
	t.Helper()
	for i := range 10_000 {
		if err := db.AppendAudit(context.Background(), auditEntry(i)); err != nil {
			return err
		}
	}
	t.Fatal("the database never filled up")
	return nil
}

// populated returns the path of a closed database holding some rows.
func populated(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "provisioner.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if err := db.AppendAudit(context.Background(), auditEntry(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + "-wal"); err == nil {
		t.Fatal("the WAL survived Close; the test would corrupt a stale file")
	}
	return path
}

// overwrite writes garbage over n bytes of path at off.
func overwrite(t *testing.T, path string, off int64, n int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte(strings.Repeat("\xa5", n)), off); err != nil {
		t.Fatal(err)
	}
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := provisioner.ErrorCode(err); got != code {
		t.Fatalf("error %v: code %q, want %q", err, got, code)
	}
}

// TestFaultFullStorage: a write into a full database fails with
// storage_full (507), its cause kept for the log; what was written stays
// readable, and writes succeed again once there is room.
func TestFaultFullStorage(t *testing.T) {
	db := openTemp(t)
	defer db.Close()
	ctx := context.Background()
	var pages int
	if err := db.w.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	// The writer pool is one connection, so the limit holds for every write.
	if _, err := db.w.ExecContext(ctx, fmt.Sprintf("PRAGMA max_page_count = %d", pages+20)); err != nil {
		t.Fatal(err)
	}
	err := fill(t, db)
	wantCode(t, err, provisioner.ESTORAGEFULL)
	if got := provisioner.ErrorMessage(err); got != "append audit entry: storage full" && !strings.Contains(got, "storage full") {
		t.Errorf("message %q does not say the storage is full", got)
	}
	if !strings.Contains(err.Error(), "full") || errors.Unwrap(err) == nil {
		t.Errorf("the cause is lost: %v", err)
	}
	if st := api.StatusFor(provisioner.ErrorCode(err)); st != 507 {
		t.Errorf("HTTP status %d, want 507", st)
	}
	got, lerr := db.ListAudit(ctx, provisioner.AuditFilter{Limit: 100_000})
	if lerr != nil || len(got) == 0 {
		t.Fatalf("entries written before the fault: %d, %v", len(got), lerr)
	}
	if _, err := db.w.ExecContext(ctx, "PRAGMA max_page_count = 1073741823"); err != nil {
		t.Fatal(err)
	}
	if err := db.AppendAudit(ctx, auditEntry(-1)); err != nil {
		t.Fatalf("a write with room again: %v", err)
	}
}

// TestFaultCorruptHeader: a database file whose header is garbage is
// refused at Open with storage_corrupt, and the message says what to do.
func TestFaultCorruptHeader(t *testing.T) {
	path := populated(t)
	overwrite(t, path, 0, 100)
	_, err := Open(path)
	wantCode(t, err, provisioner.ESTORAGECORRUPT)
	msg := provisioner.ErrorMessage(err)
	if !strings.Contains(msg, path) || !strings.Contains(msg, "--recreate-db") || !strings.Contains(msg, "not a database") {
		t.Errorf("message %q lacks the path, the cause or the way out", msg)
	}
}

// TestFaultCorruptInnerPage: a database with a damaged page beyond the
// header opens in SQLite, but Open's quick_check refuses it.
func TestFaultCorruptInnerPage(t *testing.T) {
	path := populated(t)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	const page = 4096
	if fi.Size() < 8*page {
		t.Fatalf("database too small to damage an inner page: %d bytes", fi.Size())
	}
	// The last page holds audit rows (the table grows at the end).
	overwrite(t, path, fi.Size()-page+8, page-8)
	_, err = Open(path)
	wantCode(t, err, provisioner.ESTORAGECORRUPT)
	if msg := provisioner.ErrorMessage(err); !strings.Contains(msg, "corrupt") || !strings.Contains(msg, "--recreate-db") {
		t.Errorf("message %q", msg)
	}
}

// TestFaultStorageCodes: the classification of driver and system errors.
func TestFaultStorageCodes(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		err  error
		code string
	}{
		{&os.PathError{Op: "write", Path: "x", Err: syscall.ENOSPC}, provisioner.ESTORAGEFULL},
		{errors.New("disk I/O error: no space left on device"), provisioner.ESTORAGEFULL},
		{errors.New("something else"), provisioner.EINTERNAL},
	}
	for _, c := range cases {
		err := storeError(ctx, c.err, "op")
		wantCode(t, err, c.code)
		if !errors.Is(err, c.err) {
			t.Errorf("%v: cause dropped", c.err)
		}
	}
	// Real driver errors: SQLITE_NOTADB from a file that is no database.
	path := filepath.Join(t.TempDir(), "junk.db")
	if err := os.WriteFile(path, []byte(strings.Repeat("not a database ", 500)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(path)
	wantCode(t, err, provisioner.ESTORAGECORRUPT)
}
