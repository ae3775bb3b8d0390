package sqlite

import (
	"os"
	"path/filepath"
	"testing"

	"provisioner"
	"provisioner/storetest"
)

// openTemp opens a database in a file of its own, removed after the test.
func openTemp(tb testing.TB) *DB {
	tb.Helper()
	db, err := Open(filepath.Join(tb.TempDir(), "provisioner.db"))
	if err != nil {
		tb.Fatal(err)
	}
	return db
}

func openMemory(tb testing.TB) *DB {
	tb.Helper()
	db, err := Open(":memory:")
	if err != nil {
		tb.Fatal(err)
	}
	return db
}

func TestConformance(t *testing.T) {
	t.Run("File", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) provisioner.Store { return openTemp(t) })
	})
	t.Run("Memory", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) provisioner.Store { return openMemory(t) })
	})
}

func BenchmarkStore(b *testing.B) {
	b.Run("File", func(b *testing.B) {
		storetest.Bench(b, func(b *testing.B) provisioner.Store { return openTemp(b) })
	})
	b.Run("Memory", func(b *testing.B) {
		storetest.Bench(b, func(b *testing.B) provisioner.Store { return openMemory(b) })
	})
}

func TestMemoryDatabasesAreSeparate(t *testing.T) {
	a, b := openMemory(t), openMemory(t)
	defer a.Close()
	defer b.Close()
	if _, err := a.PutCluster(t.Context(), provisioner.Cluster{Name: "alpha"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.GetCluster(t.Context(), "alpha"); provisioner.ErrorCode(err) != provisioner.ENOTFOUND {
		t.Fatalf("second :memory: store sees the first's cluster: err = %v", err)
	}
}

func TestFileMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "provisioner.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// A write makes SQLite create the -wal and -shm files too.
	if _, err := db.PutCluster(t.Context(), provisioner.Cluster{Name: "alpha"}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if mode := fi.Mode().Perm(); mode != 0o600 {
			t.Errorf("%s has mode %o, want 600", filepath.Base(p), mode)
		}
	}
}

func TestPragmas(t *testing.T) {
	db := openTemp(t)
	defer db.Close()
	for _, p := range []struct {
		pragma string
		want   string
	}{
		{"journal_mode", "wal"},
		{"busy_timeout", "5000"},
		{"foreign_keys", "1"},
		{"synchronous", "1"}, // NORMAL
	} {
		var got string
		if err := db.w.QueryRow("PRAGMA " + p.pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != p.want {
			t.Errorf("PRAGMA %s = %s, want %s", p.pragma, got, p.want)
		}
	}
	if err := db.r.QueryRow("PRAGMA query_only").Scan(new(int)); err != nil {
		t.Fatal(err)
	}
}

func TestOpenBadPath(t *testing.T) {
	for _, path := range []string{"", "a.db?mode=ro", filepath.Join(t.TempDir(), "missing", "x.db")} {
		if db, err := Open(path); err == nil {
			db.Close()
			t.Errorf("Open(%q) succeeded", path)
		} else if provisioner.ErrorCode(err) == "" {
			t.Errorf("Open(%q): %v is not a *provisioner.Error", path, err)
		}
	}
}
