package storetest

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"provisioner"
	"provisioner/testkit"
)

func testEvents(t *testing.T, open func(t *testing.T) provisioner.Store) {
	t.Run("AppendList", func(t *testing.T) {
		s, ctx := fresh(t, open), t.Context()
		var want []provisioner.Event // oldest first
		for i := range 5 {
			want = append(want, event("alpha", i, base.Add(time.Duration(i)*time.Second)))
		}
		for _, i := range rand.Perm(len(want)) { // append order must not matter
			ok(t, s.AppendEvent(ctx, want[i]))
		}
		ok(t, s.AppendEvent(ctx, event("beta", 99, base.Add(2500*time.Millisecond))))
		got, err := s.ListEvents(ctx, "alpha", 0)
		ok(t, err)
		wantEvents(t, got, want)
	})
	t.Run("Limit", func(t *testing.T) {
		s, ctx := fresh(t, open), t.Context()
		var all []provisioner.Event
		for i := range 10 {
			e := event("alpha", i, base.Add(time.Duration(i)*time.Minute))
			ok(t, s.AppendEvent(ctx, e))
			all = append(all, e)
		}
		for _, tt := range []struct {
			limit int
			want  []provisioner.Event
		}{{1, all[9:]}, {3, all[7:]}, {10, all}, {1000, all}} {
			got, err := s.ListEvents(ctx, "alpha", tt.limit)
			ok(t, err)
			wantEvents(t, got, tt.want) // the newest, oldest first
		}
	})
	t.Run("DefaultLimit", func(t *testing.T) {
		s, ctx := fresh(t, open), t.Context()
		for i := range 120 {
			ok(t, s.AppendEvent(ctx, event("alpha", i, base.Add(time.Duration(i)*time.Second))))
		}
		got, err := s.ListEvents(ctx, "alpha", 0)
		ok(t, err)
		if len(got) != 100 {
			t.Fatalf("ListEvents with limit 0 returned %d events, want 100", len(got))
		}
		if got[0].ID != "alpha-20" || got[99].ID != "alpha-119" {
			t.Fatalf("default page runs %s..%s, want the newest, oldest first: alpha-20..alpha-119", got[0].ID, got[99].ID)
		}
	})
	t.Run("NoEvents", func(t *testing.T) {
		s, ctx := fresh(t, open), t.Context()
		ok(t, s.AppendEvent(ctx, event("alpha", 0, base)))
		got, err := s.ListEvents(ctx, "beta", 0)
		ok(t, err)
		if len(got) != 0 {
			t.Fatalf("cluster without events lists %d", len(got))
		}
	})
	t.Run("Invalid", func(t *testing.T) {
		s, ctx := fresh(t, open), t.Context()
		noID := event("alpha", 0, base)
		noID.ID = ""
		testkit.WantCode(t, s.AppendEvent(ctx, noID), provisioner.EINVALID)
		testkit.WantCode(t, s.AppendEvent(ctx, event("", 1, base)), provisioner.EINVALID)
		testkit.WantCode(t, s.AppendEvent(ctx, event("alpha", 2, time.Time{})), provisioner.EINVALID)
		_, err := s.ListEvents(ctx, "alpha", -1)
		testkit.WantCode(t, err, provisioner.EINVALID)
		got, err := s.ListEvents(ctx, "alpha", 0)
		ok(t, err)
		wantEvents(t, got, nil)
	})
	t.Run("DuplicateID", func(t *testing.T) {
		s, ctx := fresh(t, open), t.Context()
		first := event("alpha", 0, base)
		ok(t, s.AppendEvent(ctx, first))
		again := event("alpha", 0, base.Add(time.Second))
		again.Message = "rewritten"
		testkit.WantCode(t, s.AppendEvent(ctx, again), provisioner.ECONFLICT)
		got, err := s.ListEvents(ctx, "alpha", 0)
		ok(t, err)
		wantEvents(t, got, []provisioner.Event{first})
	})
}

func event(cluster string, i int, at time.Time) provisioner.Event {
	return provisioner.Event{
		ID:      fmt.Sprintf("%s-%d", cluster, i),
		Cluster: cluster,
		Time:    at,
		Type:    "state.running",
		Actor:   "alice",
		Message: fmt.Sprintf("event %d", i),
	}
}

func wantEvents(t testing.TB, got, want []provisioner.Event) {
	t.Helper()
	wantList(t, "events", got, want, eventID, func(e *provisioner.Event) []*time.Time { return []*time.Time{&e.Time} })
}

func eventID(e provisioner.Event) string { return e.ID }
