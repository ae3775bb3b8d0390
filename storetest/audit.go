package storetest

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"provisioner"
	"provisioner/testkit"
)

func testAudit(t *testing.T, open func(t *testing.T) provisioner.Store) {
	t.Run("AppendList", func(t *testing.T) {
		s, ctx := fresh(t, open), t.Context()
		var want []provisioner.AuditEntry
		for i := range 4 {
			e := entry(i, base.Add(time.Duration(i)*time.Second))
			e.Level = provisioner.Level(i) // every level round-trips
			want = append([]provisioner.AuditEntry{e}, want...)
		}
		for _, i := range rand.Perm(len(want)) { // append order must not matter
			ok(t, s.AppendAudit(ctx, want[i]))
		}
		got, err := s.ListAudit(ctx, provisioner.AuditFilter{})
		ok(t, err)
		wantEntries(t, got, want)
	})
	t.Run("Invalid", func(t *testing.T) {
		s, ctx := fresh(t, open), t.Context()
		noID := entry(0, base)
		noID.ID = ""
		testkit.WantCode(t, s.AppendAudit(ctx, noID), provisioner.EINVALID)
		testkit.WantCode(t, s.AppendAudit(ctx, entry(1, time.Time{})), provisioner.EINVALID)
		badLevel := entry(2, base)
		badLevel.Level = 42
		testkit.WantCode(t, s.AppendAudit(ctx, badLevel), provisioner.EINVALID)
		_, err := s.ListAudit(ctx, provisioner.AuditFilter{Limit: -1})
		testkit.WantCode(t, err, provisioner.EINVALID)
	})
	t.Run("DuplicateID", func(t *testing.T) {
		s, ctx := fresh(t, open), t.Context()
		first := entry(0, base)
		ok(t, s.AppendAudit(ctx, first))
		again := entry(0, base.Add(time.Second))
		again.Actor = "mallory"
		testkit.WantCode(t, s.AppendAudit(ctx, again), provisioner.ECONFLICT)
		got, err := s.ListAudit(ctx, provisioner.AuditFilter{})
		ok(t, err)
		wantEntries(t, got, []provisioner.AuditEntry{first})
	})
	t.Run("Filter", func(t *testing.T) { testAuditFilter(t, open) })
	t.Run("Count", func(t *testing.T) { testAuditCount(t, open) })
	t.Run("DefaultLimit", func(t *testing.T) {
		s, ctx := fresh(t, open), t.Context()
		for i := range 120 {
			ok(t, s.AppendAudit(ctx, entry(i, base.Add(time.Duration(i)*time.Second))))
		}
		got, err := s.ListAudit(ctx, provisioner.AuditFilter{})
		ok(t, err)
		if len(got) != 100 {
			t.Fatalf("ListAudit with no limit returned %d entries, want 100", len(got))
		}
		if got[0].ID != "e119" || got[99].ID != "e20" {
			t.Fatalf("default page runs %s..%s, want the newest: e119..e20", got[0].ID, got[99].ID)
		}
	})
}

// testAuditFilter checks each filter alone and all together over ten
// entries: actors alternate alice/bob, actions cycle through three.
func testAuditFilter(t *testing.T, open func(t *testing.T) provisioner.Store) {
	s, ctx := fresh(t, open), t.Context()
	var all []provisioner.AuditEntry // newest first
	for i := range 10 {
		e := entry(i, base.Add(time.Duration(i)*time.Minute))
		e.Actor = []string{"alice", "bob"}[i%2]
		e.Action = []string{"login.pat", "access", "deploy"}[i%3]
		ok(t, s.AppendAudit(ctx, e))
		all = append([]provisioner.AuditEntry{e}, all...)
	}
	pick := func(keep func(provisioner.AuditEntry) bool) []provisioner.AuditEntry {
		var out []provisioner.AuditEntry
		for _, e := range all {
			if keep(e) {
				out = append(out, e)
			}
		}
		return out
	}
	since := base.Add(5 * time.Minute)
	tests := []struct {
		name   string
		filter provisioner.AuditFilter
		want   []provisioner.AuditEntry
	}{
		{"Actor", provisioner.AuditFilter{Actor: "bob"},
			pick(func(e provisioner.AuditEntry) bool { return e.Actor == "bob" })},
		{"Action", provisioner.AuditFilter{Action: "access"},
			pick(func(e provisioner.AuditEntry) bool { return e.Action == "access" })},
		{"SinceInclusive", provisioner.AuditFilter{Since: since}, all[:5]},
		{"SinceOtherZone", provisioner.AuditFilter{Since: since.In(time.FixedZone("", 5*3600))}, all[:5]},
		{"Limit", provisioner.AuditFilter{Limit: 3}, all[:3]},
		{"LimitAboveCount", provisioner.AuditFilter{Limit: 1000}, all},
		{"NoMatch", provisioner.AuditFilter{Actor: "nobody"}, nil},
		{"Combined", provisioner.AuditFilter{Actor: "alice", Action: "deploy", Since: base.Add(time.Minute), Limit: 1},
			pick(func(e provisioner.AuditEntry) bool { // e8 and e2: the newest
				return e.Actor == "alice" && e.Action == "deploy" && !e.Time.Before(base.Add(time.Minute))
			})[:1]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.ListAudit(ctx, tt.filter)
			ok(t, err)
			wantEntries(t, got, tt.want)
		})
	}
}

// testAuditCount checks CountAudit: the first call appends, later ones
// with the same ID add their count and move Last, keeping the first's
// fields, concurrent ones lose nothing, and other IDs stay apart.
func testAuditCount(t *testing.T, open func(t *testing.T) provisioner.Store) {
	s, ctx := fresh(t, open), t.Context()
	first := entry(1, base)
	first.Action, first.Result, first.Actor, first.Level = "login.pat", "unauthorized", "", provisioner.LevelAnonymous
	ok(t, s.CountAudit(ctx, first))
	got, err := s.ListAudit(ctx, provisioner.AuditFilter{})
	ok(t, err)
	want := first
	want.Count, want.Last = 1, base
	wantEntries(t, got, []provisioner.AuditEntry{want})

	again := first
	again.Time, again.Detail, again.Count = base.Add(time.Minute), "another detail", 3
	ok(t, s.CountAudit(ctx, again))
	const workers, each = 8, 5
	errs := make(chan error, workers)
	for w := range workers {
		go func() {
			var err error
			for i := range each {
				e := first
				e.Time = base.Add(time.Duration(w*each+i) * time.Second)
				if err == nil {
					err = s.CountAudit(ctx, e)
				}
			}
			errs <- err
		}()
	}
	for range workers {
		ok(t, <-errs)
	}
	other := entry(2, base.Add(time.Second))
	ok(t, s.CountAudit(ctx, other))
	got, err = s.ListAudit(ctx, provisioner.AuditFilter{})
	ok(t, err)
	want.Count = 1 + 3 + workers*each
	want.Last = base.Add(time.Minute)
	wantOther := other
	wantOther.Count, wantOther.Last = 1, other.Time
	if len(got) != 2 {
		t.Fatalf("got %d entries %v, want 2", len(got), ids(got, entryID))
	}
	if !got[1].Last.After(base) {
		t.Fatalf("last = %v, want a time of one of the later calls", got[1].Last)
	}
	got[1].Last = want.Last // stores may keep the latest write's time, not the latest time
	wantEntries(t, got, []provisioner.AuditEntry{wantOther, want})

	neg := entry(3, base)
	neg.Count = -1
	testkit.WantCode(t, s.CountAudit(ctx, neg), provisioner.EINVALID)
	testkit.WantCode(t, s.CountAudit(ctx, provisioner.AuditEntry{Time: base}), provisioner.EINVALID)
}

func entry(i int, at time.Time) provisioner.AuditEntry {
	return provisioner.AuditEntry{
		ID:     fmt.Sprintf("e%d", i),
		Time:   at,
		Actor:  "alice",
		Level:  provisioner.LevelOrgMember,
		Action: "access",
		Target: "alpha",
		Result: "success",
		Source: "192.0.2.1",
		Detail: fmt.Sprintf("entry %d", i),
	}
}

func wantEntries(t testing.TB, got, want []provisioner.AuditEntry) {
	t.Helper()
	wantList(t, "entries", got, want, entryID, func(e *provisioner.AuditEntry) []*time.Time {
		return []*time.Time{&e.Time, &e.Last}
	})
}

func entryID(e provisioner.AuditEntry) string { return e.ID }
