package sqlite

import (
	"fmt"
	"testing"
	"time"

	"provisioner"
)

// TestPruneHistory: entries and events older than their cut are deleted
// (more than one batch of them), newer ones and the other kind stay, and a
// zero cut keeps everything.
func TestPruneHistory(t *testing.T) {
	db := openTemp(t)
	defer db.Close()
	ctx := t.Context()
	base := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	const old = pruneBatch + 10
	for i := range old + 3 {
		at := base.Add(time.Duration(i) * time.Second)
		if i >= old {
			at = base.Add(48 * time.Hour)
		}
		if err := db.AppendAudit(ctx, provisioner.AuditEntry{ID: fmt.Sprint("a", i), Time: at, Action: "login.pat"}); err != nil {
			t.Fatal(err)
		}
		if i%1000 == 0 || i >= old {
			if err := db.AppendEvent(ctx, provisioner.Event{ID: fmt.Sprint("e", i), Cluster: "demo", Time: at}); err != nil {
				t.Fatal(err)
			}
		}
	}
	var _ provisioner.HistoryPruner = db
	n, err := db.PruneHistory(ctx, time.Time{}, time.Time{})
	if err != nil || n != 0 {
		t.Fatalf("zero cuts pruned %d (%v)", n, err)
	}
	cut := base.Add(24 * time.Hour)
	n, err = db.PruneHistory(ctx, cut, time.Time{})
	if err != nil || n != old {
		t.Fatalf("pruned %d audit entries (%v), want %d", n, err, old)
	}
	left, err := db.ListAudit(ctx, provisioner.AuditFilter{Limit: 1000})
	if err != nil || len(left) != 3 {
		t.Fatalf("%d audit entries left (%v), want 3", len(left), err)
	}
	if evs, _ := db.ListEvents(ctx, "demo", 1000); len(evs) != 6+3 {
		t.Fatalf("%d events after an audit prune, want 9", len(evs))
	}
	n, err = db.PruneHistory(ctx, time.Time{}, cut)
	if err != nil || n != 6 {
		t.Fatalf("pruned %d events (%v), want 6", n, err)
	}
}
