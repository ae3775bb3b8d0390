// Package storetest is the conformance suite of provisioner.Store: every
// backend (SQLite and DynamoDB) runs the same tests, so the
// application logic can rely on one behaviour whatever the backend.
//
// A backend's test calls Run with a function that opens a new, empty store;
// each subtest opens its own and closes it when done.
//
// Beyond what provisioner.Store documents, the suite holds backends to what
// the application relies on: PutCluster's compare-and-swap lets exactly one
// of several writers holding a revision win (no lost update under
// read-modify-write with retry); a revision read before a delete never
// matches the record of the same name created after it (revisions must not
// restart at 1, or a slow writer could overwrite a newer cluster); zero
// times come back zero; every time comes back in UTC with at least
// millisecond precision.
package storetest

import (
	"fmt"
	"testing"
	"time"

	"provisioner"
)

// Run runs the conformance suite against stores made by open, which must
// return a new, empty store each time it is called.
func Run(t *testing.T, open func(t *testing.T) provisioner.Store) {
	t.Helper()
	t.Run("Cluster", func(t *testing.T) { testClusters(t, open) })
	t.Run("NodeGroup", func(t *testing.T) { testNodeGroups(t, open) })
	t.Run("Operation", func(t *testing.T) { testOperations(t, open) })
	t.Run("Event", func(t *testing.T) { testEvents(t, open) })
	t.Run("Audit", func(t *testing.T) { testAudit(t, open) })
	t.Run("Apply", func(t *testing.T) { testApply(t, open) })
	t.Run("Budgets", func(t *testing.T) { testBudgets(t, open) })
	t.Run("Jobs", func(t *testing.T) { testJobs(t, open) })
	t.Run("Sessions", func(t *testing.T) { testSessions(t, open) })
	t.Run("OAuth", func(t *testing.T) { testOAuth(t, open) })
	t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, open) })
	t.Run("NoLostUpdate", func(t *testing.T) { testNoLostUpdate(t, open) })
	t.Run("UpdateDeleteRace", func(t *testing.T) { testUpdateDeleteRace(t, open) })
	t.Run("Context", func(t *testing.T) { testContext(t, open) })
}

// fresh opens a store that the test closes when it ends.
func fresh(t *testing.T, open func(t *testing.T) provisioner.Store) provisioner.Store {
	t.Helper()
	s := open(t)
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// base is a millisecond-precise time: every backend must keep at least that.
var base = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// ok fails the test at once on an unexpected error.
func ok(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantSame fails unless got equals want: the times that times points at
// in UTC and equal by time.Equal, every other field equal. what names the
// record in the failure.
func wantSame[T comparable](t testing.TB, what string, got, want T, times func(*T) []*time.Time) {
	t.Helper()
	g, w := got, want
	gt, wt := times(&g), times(&w)
	for i := range gt {
		wantUTC(t, *gt[i])
		if !gt[i].Equal(*wt[i]) {
			t.Fatalf("%s = %+v, want %+v", what, got, want)
		}
		*gt[i], *wt[i] = time.Time{}, time.Time{}
	}
	if g != w {
		t.Fatalf("%s = %+v, want %+v", what, got, want)
	}
}

// wantList is wantSame for every record of two lists of one length; id
// names the records in the failure.
func wantList[T comparable](t testing.TB, what string, got, want []T, id func(T) string, times func(*T) []*time.Time) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d %s %v, want %d %v", len(got), what, ids(got, id), len(want), ids(want, id))
	}
	for i := range want {
		wantSame(t, fmt.Sprintf("%s[%d]", what, i), got[i], want[i], times)
	}
}

// ids returns the IDs of records.
func ids[T any](rs []T, id func(T) string) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = id(r)
	}
	return out
}

func wantUTC(t testing.TB, tm time.Time) {
	t.Helper()
	if tm.Location() != time.UTC {
		t.Fatalf("time %v is in %v, want UTC", tm, tm.Location())
	}
}
