package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"provisioner"
)

// writeStore counts the store's writes, and fails Apply where fail says.
type writeStore struct {
	provisioner.Store
	mu     sync.Mutex
	writes int
	fail   func(b provisioner.Batch) bool
}

func (s *writeStore) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.writes
	s.writes = 0
	return n
}

func (s *writeStore) add() {
	s.mu.Lock()
	s.writes++
	s.mu.Unlock()
}

func (s *writeStore) Apply(ctx context.Context, b provisioner.Batch) (int64, error) {
	s.add()
	if s.fail != nil && s.fail(b) {
		return 0, provisioner.Wrap(provisioner.EUNAVAILABLE, errors.New("injected"), "save changes: the state store is unavailable")
	}
	return s.Store.Apply(ctx, b)
}

func (s *writeStore) PutCluster(ctx context.Context, c provisioner.Cluster) (int64, error) {
	s.add()
	return s.Store.PutCluster(ctx, c)
}

func (s *writeStore) DeleteCluster(ctx context.Context, name string, rev int64) error {
	s.add()
	return s.Store.DeleteCluster(ctx, name, rev)
}

func (s *writeStore) PutOperation(ctx context.Context, op provisioner.Operation) error {
	s.add()
	return s.Store.PutOperation(ctx, op)
}

func (s *writeStore) AppendEvent(ctx context.Context, e provisioner.Event) error {
	s.add()
	return s.Store.AppendEvent(ctx, e)
}

func (s *writeStore) AppendAudit(ctx context.Context, e provisioner.AuditEntry) error {
	s.add()
	return s.Store.AppendAudit(ctx, e)
}

func newWriteFixture(t *testing.T) (*fixture, *writeStore) {
	t.Helper()
	f := newFixture(t)
	ws := &writeStore{Store: f.store}
	f.app = New(Config{Store: ws, Tokens: f.app.tokens,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: f.clock.Now,
		Driver: f.driver, Scheduler: f.sched, Poll: time.Millisecond})
	return f, ws
}

// maxWritesPerChange bounds the store writes of a DEPLOY and of a DESTROY,
// request and waiting, audit included: the change that starts it, the
// request's audit entry with the events that waited, the change that ends
// it.
const maxWritesPerChange = 3

// TestWritesPerChange: a DEPLOY and a DESTROY each write the store three
// times, their events and audit lines riding with the changes, and every
// event is still recorded, in order, with its audit line.
func TestWritesPerChange(t *testing.T) {
	f, ws := newWriteFixture(t)
	ws.count()
	r, err := f.app.Deploy(bg, orgMem, DeployRequest{Cluster: "c1", NodeCapacity: 1})
	if err != nil {
		t.Fatal(err)
	}
	f.wait(t, r.Operation.ID)
	if n := ws.count(); n > maxWritesPerChange {
		t.Errorf("DEPLOY wrote the store %d times, want at most %d", n, maxWritesPerChange)
	}
	r, err = f.app.Destroy(bg, orgMem, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if !r.Done {
		f.wait(t, r.Operation.ID)
	}
	if n := ws.count(); n > maxWritesPerChange {
		t.Errorf("DESTROY wrote the store %d times, want at most %d", n, maxWritesPerChange)
	}

	evs, err := f.store.ListEvents(bg, "c1", 0)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range evs {
		types = append(types, e.Type)
	}
	want := []string{"deploy.requested", "schedule.set", "state.running", "destroy.requested", "schedule.removed", "state.absent"}
	if !slices.Equal(types, want) {
		t.Fatalf("events %v, want %v", types, want)
	}
	entries, err := f.store.ListAudit(bg, provisioner.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range slices.Backward(entries) {
		actions = append(actions, e.Action)
	}
	wantActions := []string{"event.deploy.requested", "event.schedule.set", "deploy", "event.state.running",
		"event.destroy.requested", "event.schedule.removed", "event.state.absent", "destroy"}
	if !slices.Equal(actions, wantActions) {
		t.Fatalf("audit %v, want %v", actions, wantActions)
	}
}

// TestTransitionAllOrNothing: when the write of a change fails, none of
// it is there: no record, no operation, no event; the driver and the
// scheduler were not asked; the request fails and its audit entry says so.
func TestTransitionAllOrNothing(t *testing.T) {
	f, ws := newWriteFixture(t)
	ws.fail = func(b provisioner.Batch) bool { return b.Cluster != nil }
	r, err := f.app.Deploy(bg, orgMem, DeployRequest{Cluster: "c1", NodeCapacity: 1})
	wantCode(t, err, provisioner.EUNAVAILABLE)
	if _, err := f.store.GetCluster(bg, "c1"); provisioner.ErrorCode(err) != provisioner.ENOTFOUND {
		t.Fatalf("cluster after a failed DEPLOY: %v", err)
	}
	if r.Operation.ID == "" {
		t.Fatal("the failed DEPLOY built no operation: the test tests nothing")
	}
	if _, err := f.store.GetOperation(bg, r.Operation.ID); provisioner.ErrorCode(err) != provisioner.ENOTFOUND {
		t.Fatalf("the operation of a DEPLOY that failed to start is stored: %v", err)
	}
	if evs, _ := f.store.ListEvents(bg, "c1", 0); len(evs) != 0 {
		t.Fatalf("events of a DEPLOY that failed to start: %+v", evs)
	}
	if f.driver.deploys["c1"] != 0 {
		t.Fatal("the driver deployed a cluster without a record")
	}
	if _, ok := f.sched.get("c1"); ok {
		t.Fatal("a schedule was set for a cluster without a record")
	}
	entries, err := f.store.ListAudit(bg, provisioner.AuditFilter{Action: "deploy"})
	if err != nil || len(entries) != 1 || entries[0].Result != provisioner.EUNAVAILABLE {
		t.Fatalf("audit of the failed DEPLOY: %+v, %v", entries, err)
	}

	// A DESTROY whose change cannot be written leaves the cluster as it was.
	ws.fail = nil
	cl := f.deployed(t, orgMem, "c2", false)
	ws.fail = func(b provisioner.Batch) bool { return b.Cluster != nil }
	_, err = f.app.Destroy(bg, orgMem, "c2")
	wantCode(t, err, provisioner.EUNAVAILABLE)
	if got := f.cluster(t, "c2"); got.State != provisioner.StateRunning || got.Operation != cl.Operation || !f.driver.has("c2") {
		t.Fatalf("cluster after a failed DESTROY: %+v", got)
	}
	evs, err := f.store.ListEvents(bg, "c2", 0)
	if err != nil || slices.ContainsFunc(evs, func(e provisioner.Event) bool { return e.Type == "destroy.requested" }) {
		t.Fatalf("events after a failed DESTROY: %+v, %v", evs, err)
	}
}
