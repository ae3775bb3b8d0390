package app

import (
	"testing"
	"time"

	"provisioner"
)

// TestFaultRetentionPrune: with an injected clock, the sweep deletes audit
// entries and events past their retention, keeps the younger ones, and
// prunes at most hourly.
func TestFaultRetentionPrune(t *testing.T) {
	f := newFixture(t)
	f.app.auditRetention, f.app.eventRetention = 90*24*time.Hour, 30*24*time.Hour
	ctx := t.Context()
	add := func(age time.Duration, id string) {
		t.Helper()
		at := f.clock.Now().Add(-age)
		ok(t, f.store.AppendAudit(ctx, provisioner.AuditEntry{ID: "a" + id, Time: at, Action: "login.pat"}))
		ok(t, f.store.AppendEvent(ctx, provisioner.Event{ID: "e" + id, Cluster: "demo", Time: at}))
	}
	day := 24 * time.Hour
	add(100*day, "100d")
	add(60*day, "60d")
	add(10*day, "10d")
	ok(t, f.app.Reconcile(ctx))
	ids := func() string {
		audit, err := f.store.ListAudit(ctx, provisioner.AuditFilter{})
		ok(t, err)
		events, err := f.store.ListEvents(ctx, "demo", 0)
		ok(t, err)
		s := ""
		for _, a := range audit {
			s += a.ID + " "
		}
		for _, e := range events {
			s += e.ID + " "
		}
		return s
	}
	if got := ids(); got != "a10d a60d e10d " {
		t.Fatalf("after the prune: %q", got)
	}
	// The 10-day-old records cross their limits; the sweep prunes again
	// only an hour after the last prune.
	add(30*day-time.Minute, "young")
	f.clock.Add(30 * time.Minute)
	ok(t, f.app.Reconcile(ctx))
	if got := ids(); got != "a10d ayoung a60d eyoung e10d " {
		t.Fatalf("within the hour: %q", got)
	}
	f.clock.Add(31 * time.Minute)
	ok(t, f.app.Reconcile(ctx))
	if got := ids(); got != "a10d ayoung a60d e10d " {
		t.Fatalf("an hour later: %q", got)
	}
	f.app.auditRetention, f.app.eventRetention = 0, 0
	if n, err := f.app.PruneHistory(ctx); n != 0 || err != nil {
		t.Fatalf("retention forever pruned %d (%v)", n, err)
	}
}

func ok(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
