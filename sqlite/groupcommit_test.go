package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"provisioner"
	"provisioner/testkit"
)

func groupEntry(id string) provisioner.AuditEntry {
	return provisioner.AuditEntry{ID: id, Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Actor: "ada",
		Level: provisioner.LevelAdmin, Action: "access", Target: "c1", Result: "success", Source: "192.0.2.1"}
}

// TestGroupCommit: appends that arrive together share transactions; each
// caller hears back only once its entry is readable from another
// connection; a refused entry (a duplicate id) fails alone.
func TestGroupCommit(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx := context.Background()
	if err := db.AppendAudit(ctx, groupEntry("dup")); err != nil {
		t.Fatal(err)
	}
	const n = 400
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			id := fmt.Sprintf("e%03d", i)
			if i == n/2 {
				id = "dup"
			}
			if errs[i] = db.AppendAudit(ctx, groupEntry(id)); errs[i] == nil {
				// Acknowledged: a reader sees it at once.
				var found int
				if err := db.r.QueryRowContext(ctx, "SELECT count(*) FROM audit WHERE id = ?", id).Scan(&found); err != nil || found != 1 {
					t.Errorf("%s acknowledged but not readable: %d %v", id, found, err)
				}
			}
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if i == n/2 {
			testkit.WantCode(t, err, provisioner.ECONFLICT)
		} else if err != nil {
			t.Errorf("entry %d: %v", i, err)
		}
	}
	var count int
	if err := db.r.QueryRowContext(ctx, "SELECT count(*) FROM audit").Scan(&count); err != nil || count != n {
		t.Fatalf("%d entries (%v), want %d", count, err, n)
	}
	db.group.mu.Lock()
	commits := db.group.commits
	db.group.mu.Unlock()
	if commits >= n {
		t.Errorf("%d appends took %d commits: nothing was grouped", n, commits)
	}
	t.Logf("%d appends in %d commits", n+1, commits)
}

// BenchmarkAppendAudit is the audit append of every request, from many
// goroutines at once, on a file database.
func BenchmarkAppendAudit(b *testing.B) {
	db, err := Open(filepath.Join(b.TempDir(), "p.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	var seq sync.Mutex
	next := 0
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			seq.Lock()
			next++
			id := fmt.Sprintf("b%09d", next)
			seq.Unlock()
			if err := db.AppendAudit(context.Background(), groupEntry(id)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
