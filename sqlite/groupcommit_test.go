package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
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

// TestGroupCommitGivenUp: an append whose caller gives up while it waits
// in the queue is withdrawn (never written, so never reported failed yet
// saved); Close waits for the appends still queued and refuses new ones.
func TestGroupCommitGivenUp(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// queueIs waits until the committer holds a group and n writes wait.
	queueIs := func(n int) {
		t.Helper()
		for range 500 {
			db.group.mu.Lock()
			ok := db.group.running && len(db.group.queue) == n
			db.group.mu.Unlock()
			if ok {
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
		t.Fatalf("the queue never held %d writes", n)
	}
	hold, release := make(chan struct{}), make(chan struct{})
	go func() { _ = db.writeTx(ctx, func(*sql.Tx) error { close(hold); <-release; return nil }) }() // holds the writer
	<-hold
	first := make(chan error, 1)
	go func() { first <- db.AppendAudit(ctx, groupEntry("first")) }()
	queueIs(0) // "first" is the group waiting for the writer
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := db.AppendAudit(short, groupEntry("given-up")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("an append given up: %v", err)
	}
	queued := make(chan error, 1)
	go func() { queued <- db.AppendAudit(ctx, groupEntry("queued")) }()
	queueIs(1)
	closed := make(chan error, 1)
	go func() { closed <- db.Close() }()
	close(release)
	for name, ch := range map[string]chan error{"first": first, "queued": queued, "Close": closed} {
		if err := <-ch; err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if err := db.AppendAudit(ctx, groupEntry("late")); err == nil {
		t.Fatal("an append after Close succeeded")
	}
	db, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	entries, err := db.ListAudit(ctx, provisioner.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range entries {
		ids = append(ids, e.ID)
	}
	slices.Sort(ids)
	if strings.Join(ids, " ") != "first queued" {
		t.Fatalf("entries %v, want first and queued", ids)
	}
}
