package sqlite

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"provisioner"
)

// TestCASAcrossProcesses runs the read-modify-write race of the conformance
// suite over two stores on one file, which share nothing but SQLite's
// locks, as two provisioner processes would: no increment may be lost.
func TestCASAcrossProcesses(t *testing.T) {
	const workers, perWorker = 8, 10
	path := filepath.Join(t.TempDir(), "provisioner.db")
	var dbs [2]*DB
	for i := range dbs {
		db, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		dbs[i] = db
	}
	ctx := t.Context()
	if _, err := dbs[0].PutCluster(ctx, provisioner.Cluster{Name: "alpha"}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range workers {
		db := dbs[w%2]
		wg.Go(func() {
			for range perWorker {
				for {
					c, err := db.GetCluster(ctx, "alpha")
					if err != nil {
						t.Error(err)
						return
					}
					c.NodeCapacity++
					_, err = db.PutCluster(ctx, c)
					if provisioner.ErrorCode(err) == provisioner.ECONFLICT {
						continue
					}
					if err != nil {
						t.Error(err)
						return
					}
					break
				}
			}
		})
	}
	wg.Wait()
	c, err := dbs[1].GetCluster(ctx, "alpha")
	if err != nil {
		t.Fatal(err)
	}
	if c.NodeCapacity != workers*perWorker {
		t.Fatalf("NodeCapacity = %d after %d increments over two stores", c.NodeCapacity, workers*perWorker)
	}
}

// TestMigrateFromV1 upgrades a database written by a provisioner that knew
// only migration 1: its registered clusters become running clusters at
// revision 1 that compare-and-swap like any other, and new revisions do
// not repeat theirs.
func TestMigrateFromV1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "provisioner.db")
	old, err := open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(t.Context(), old.w.DB, migrations[:1]); err != nil {
		t.Fatal(err)
	}
	if _, err := old.w.Exec(`INSERT INTO clusters (name, is_public, created_by, created_at, updated_at)
		VALUES ('demo', 1, 'alice', '2025-03-01T12:00:00.000000000Z', '2025-03-01T12:00:00.000000000Z')`); err != nil {
		t.Fatal(err)
	}
	old.Close()

	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := t.Context()
	c, err := db.GetCluster(ctx, "demo")
	if err != nil {
		t.Fatal(err)
	}
	want := provisioner.Cluster{
		Name:     "demo",
		IsPublic: true,
		Deployment: provisioner.Deployment{
			State:     provisioner.StateRunning,
			CreatedBy: "alice",
			CreatedAt: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
			UpdatedAt: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
			Revision:  1,
		},
	}
	if c != want {
		t.Fatalf("migrated cluster = %+v, want %+v", c, want)
	}
	fresh, err := db.PutCluster(ctx, provisioner.Cluster{Name: "new"})
	if err != nil {
		t.Fatal(err)
	}
	if fresh <= 1 {
		t.Fatalf("first cluster after the migration has revision %d, which a migrated one has", fresh)
	}
	c.NodeCapacity = 3
	rev, err := db.PutCluster(ctx, c)
	if err != nil || rev <= fresh {
		t.Fatalf("update of a migrated cluster: revision %d, %v", rev, err)
	}
	if v := userVersion(t, db.w.DB); v != len(migrations) {
		t.Fatalf("user_version = %d, want %d", v, len(migrations))
	}
}

// TestEventsSameTime lists events that share a time in the order they
// were appended, newest last, and cuts the page by that order too.
func TestEventsSameTime(t *testing.T) {
	db := openTemp(t)
	defer db.Close()
	ctx := t.Context()
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for i := range 5 {
		e := provisioner.Event{ID: fmt.Sprintf("z%d", 9-i), Cluster: "alpha", Time: at, Type: "t"} // IDs sort backwards
		if err := db.AppendEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	got, err := db.ListEvents(ctx, "alpha", 3)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range got {
		ids = append(ids, e.ID)
	}
	if fmt.Sprint(ids) != "[z7 z6 z5]" {
		t.Fatalf("events = %v, want the last three appended, in order: [z7 z6 z5]", ids)
	}
}

// TestListEventsUsesIndex guards the events page against a table scan.
func TestListEventsUsesIndex(t *testing.T) {
	db := openTemp(t)
	defer db.Close()
	rows, err := db.r.Query(`EXPLAIN QUERY PLAN SELECT seq, id FROM events WHERE cluster = ? ORDER BY time DESC, seq DESC LIMIT 10`, "alpha")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan += detail + "; "
	}
	if want := "SEARCH events USING INDEX events_cluster_time (cluster=?); "; plan != want {
		t.Fatalf("query plan: %s; want %s", plan, want)
	}
}
