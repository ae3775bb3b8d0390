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
	"errors"
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
	t.Run("Jobs", func(t *testing.T) { testJobs(t, open) })
	t.Run("Sessions", func(t *testing.T) { testSessions(t, open) })
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

// wantCode fails the test unless err is a *provisioner.Error with code.
func wantCode(t testing.TB, err error, code string) {
	t.Helper()
	var pe *provisioner.Error
	switch {
	case err == nil:
		t.Fatalf("err = nil, want code %s", code)
	case !errors.As(err, &pe):
		t.Fatalf("err = %v (%T), want a *provisioner.Error with code %s", err, err, code)
	case pe.Code != code:
		t.Fatalf("err code = %s (%v), want %s", pe.Code, err, code)
	case pe.Message == "":
		t.Fatalf("err %v has an empty message", err)
	}
}

// ok fails the test at once on an unexpected error.
func ok(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
