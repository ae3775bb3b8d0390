package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"provisioner"
	"provisioner/testkit"
)

// testConcurrent has many goroutines write at once: Store implementations
// must be safe for concurrent use, and no write may be lost.
func testConcurrent(t *testing.T, open func(t *testing.T) provisioner.Store) {
	const workers, perWorker = 50, 4
	s, ctx := fresh(t, open), t.Context()
	var wg sync.WaitGroup
	var winners atomic.Int32
	for w := range workers {
		wg.Go(func() {
			own := cluster(fmt.Sprintf("c%02d", w), w%2 == 0, 0)
			if _, err := s.PutCluster(ctx, own); err != nil {
				t.Errorf("worker %d: PutCluster %s: %v", w, own.Name, err)
			}
			// Everyone creates "shared": one wins, the others conflict.
			shared := cluster("shared", false, time.Duration(w)*time.Second)
			shared.CreatedBy = fmt.Sprintf("worker%02d", w)
			switch _, err := s.PutCluster(ctx, shared); provisioner.ErrorCode(err) {
			case "":
				winners.Add(1)
			case provisioner.ECONFLICT:
			default:
				t.Errorf("worker %d: PutCluster shared: %v", w, err)
			}
			for i := range perWorker {
				e := entry(w*perWorker+i, base.Add(time.Duration(i)*time.Millisecond))
				e.Actor = shared.CreatedBy
				if err := s.AppendAudit(ctx, e); err != nil {
					t.Errorf("worker %d: AppendAudit: %v", w, err)
				}
				if err := s.AppendEvent(ctx, event("shared", w*perWorker+i, base.Add(time.Duration(w)*time.Millisecond))); err != nil {
					t.Errorf("worker %d: AppendEvent: %v", w, err)
				}
			}
			if _, err := s.GetCluster(ctx, own.Name); err != nil {
				t.Errorf("worker %d: GetCluster after put: %v", w, err)
			}
			if _, err := s.ListAudit(ctx, provisioner.AuditFilter{Actor: shared.CreatedBy}); err != nil {
				t.Errorf("worker %d: ListAudit: %v", w, err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if n := winners.Load(); n != 1 {
		t.Fatalf("%d workers created the shared cluster, want exactly 1", n)
	}

	all, err := s.ListClusters(ctx)
	ok(t, err)
	if len(all) != workers+1 {
		t.Fatalf("ListClusters returned %d clusters, want %d", len(all), workers+1)
	}
	// The shared cluster is one worker's write whole, never a mix of two.
	got, err := s.GetCluster(ctx, "shared")
	ok(t, err)
	var w int
	if _, err := fmt.Sscanf(got.CreatedBy, "worker%02d", &w); err != nil ||
		!got.UpdatedAt.Equal(base.Add(time.Duration(w)*time.Second)) {
		t.Fatalf("shared cluster mixes writes: %+v", got)
	}

	entries, err := s.ListAudit(ctx, provisioner.AuditFilter{Limit: workers * perWorker * 2})
	ok(t, err)
	seen := map[string]bool{}
	for _, e := range entries {
		seen[e.ID] = true
	}
	for i := range workers * perWorker {
		if id := fmt.Sprintf("e%d", i); !seen[id] {
			t.Errorf("audit entry %s was lost", id)
		}
	}
	if len(entries) != workers*perWorker {
		t.Errorf("ListAudit returned %d entries, want %d", len(entries), workers*perWorker)
	}
	events, err := s.ListEvents(ctx, "shared", workers*perWorker*2)
	ok(t, err)
	if len(events) != workers*perWorker {
		t.Errorf("ListEvents returned %d events, want %d", len(events), workers*perWorker)
	}
}

// RetryConflicts runs step, a read-modify-write, until it does not fail
// with ECONFLICT (another writer won the compare-and-swap since the read),
// and returns how often it was retried and its last error: how a store's
// callers update a record.
func RetryConflicts(step func() error) (conflicts int, err error) {
	for {
		err := step()
		if provisioner.ErrorCode(err) != provisioner.ECONFLICT {
			return conflicts, err
		}
		conflicts++
	}
}

// testNoLostUpdate has workers increment one cluster's NodeCapacity by
// read, modify, compare-and-swap, retrying on ECONFLICT: the store's
// revisions must make every increment count exactly once.
func testNoLostUpdate(t *testing.T, open func(t *testing.T) provisioner.Store) {
	const workers, perWorker = 16, 5
	s, ctx := fresh(t, open), t.Context()
	create(t, s, cluster("alpha", false, 0))
	var wg sync.WaitGroup
	var conflicts atomic.Int64
	for w := range workers {
		wg.Go(func() {
			for range perWorker {
				n, err := RetryConflicts(func() error {
					c, err := s.GetCluster(ctx, "alpha")
					if err != nil {
						return err
					}
					c.NodeCapacity++
					c.Reason = fmt.Sprintf("worker %d", w)
					_, err = s.PutCluster(ctx, c)
					return err
				})
				conflicts.Add(int64(n))
				if err != nil {
					t.Errorf("worker %d: %v", w, err)
					return
				}
			}
		})
	}
	wg.Wait()
	got, err := s.GetCluster(ctx, "alpha")
	ok(t, err)
	if got.NodeCapacity != workers*perWorker {
		t.Fatalf("after %d increments NodeCapacity = %d: updates were lost", workers*perWorker, got.NodeCapacity)
	}
	t.Logf("%d increments, %d conflicts retried", workers*perWorker, conflicts.Load())
}

// testUpdateDeleteRace races an update and a delete that hold the same
// revision: exactly one wins, and the record shows which.
func testUpdateDeleteRace(t *testing.T, open func(t *testing.T) provisioner.Store) {
	s, ctx := fresh(t, open), t.Context()
	for i := range 30 {
		rev := create(t, s, cluster("alpha", false, 0))
		upd := fullCluster("alpha")
		upd.Revision = rev
		var putErr, delErr error
		var wg sync.WaitGroup
		wg.Go(func() { _, putErr = s.PutCluster(ctx, upd) })
		wg.Go(func() { delErr = s.DeleteCluster(ctx, "alpha", rev) })
		wg.Wait()
		got, getErr := s.GetCluster(ctx, "alpha")
		switch {
		case putErr == nil && provisioner.ErrorCode(delErr) == provisioner.ECONFLICT:
			ok(t, getErr)
			wantCluster(t, got, upd)
			ok(t, s.DeleteCluster(ctx, "alpha", got.Revision))
		case delErr == nil && provisioner.ErrorCode(putErr) == provisioner.ECONFLICT:
			testkit.WantCode(t, getErr, provisioner.ENOTFOUND)
		default:
			t.Fatalf("round %d: update: %v, delete: %v; want exactly one to win", i, putErr, delErr)
		}
	}
}

// testContext checks that a done context stops every method before it
// changes anything, with an error that still says why (errors.Is).
func testContext(t *testing.T, open func(t *testing.T) provisioner.Store) {
	s := fresh(t, open)
	rev := create(t, s, cluster("keep", false, 0))

	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	expired, cancel2 := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	defer cancel2()

	for _, c := range []struct {
		ctx  context.Context
		want error
	}{{canceled, context.Canceled}, {expired, context.DeadlineExceeded}} {
		ctx := c.ctx
		ops := map[string]func() error{
			"GetCluster":    func() error { _, err := s.GetCluster(ctx, "keep"); return err },
			"PutCluster":    func() error { _, err := s.PutCluster(ctx, cluster("ghost", false, 0)); return err },
			"DeleteCluster": func() error { return s.DeleteCluster(ctx, "keep", rev) },
			"ListClusters":  func() error { _, err := s.ListClusters(ctx); return err },
			"PutOperation":  func() error { return s.PutOperation(ctx, operation("ghost")) },
			"GetOperation":  func() error { _, err := s.GetOperation(ctx, "ghost"); return err },
			"AppendEvent":   func() error { return s.AppendEvent(ctx, event("keep", 0, base)) },
			"ListEvents":    func() error { _, err := s.ListEvents(ctx, "keep", 0); return err },
			"AppendAudit":   func() error { return s.AppendAudit(ctx, entry(0, base)) },
			"ListAudit":     func() error { _, err := s.ListAudit(ctx, provisioner.AuditFilter{}); return err },
			"Apply": func() error {
				ghost := cluster("ghost", false, 0)
				_, err := s.Apply(ctx, provisioner.Batch{Cluster: &ghost, Operations: []provisioner.Operation{operation("ghost")},
					Events: []provisioner.Event{event("keep", 1, base)}, Audit: []provisioner.AuditEntry{entry(1, base)}})
				return err
			},
		}
		for name, op := range ops {
			err := op()
			var pe *provisioner.Error
			if !errors.Is(err, c.want) || !errors.As(err, &pe) {
				t.Errorf("%s with a done context: err = %v, want a *provisioner.Error wrapping %v", name, err, c.want)
			}
		}
	}

	ctx := t.Context()
	if got, err := s.GetCluster(ctx, "keep"); err != nil {
		t.Errorf("a canceled DeleteCluster deleted: %v", err)
	} else {
		wantRevision(t, got, rev)
	}
	wantMissing(t, s, "ghost")
	_, err := s.GetOperation(ctx, "ghost")
	testkit.WantCode(t, err, provisioner.ENOTFOUND)
	entries, err := s.ListAudit(ctx, provisioner.AuditFilter{})
	ok(t, err)
	if len(entries) != 0 {
		t.Errorf("a canceled AppendAudit appended %v", ids(entries, entryID))
	}
	events, err := s.ListEvents(ctx, "keep", 0)
	ok(t, err)
	if len(events) != 0 {
		t.Errorf("a canceled AppendEvent appended %v", ids(events, eventID))
	}
}
