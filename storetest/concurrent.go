package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"provisioner"
)

// testConcurrent has many goroutines write at once: Store implementations
// must be safe for concurrent use, and no write may be lost.
func testConcurrent(t *testing.T, open func(t *testing.T) provisioner.Store) {
	const workers, perWorker = 50, 4
	s, ctx := fresh(t, open), t.Context()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			own := cluster(fmt.Sprintf("c%02d", w), w%2 == 0, 0)
			shared := cluster("shared", false, time.Duration(w)*time.Second)
			shared.CreatedBy = fmt.Sprintf("worker%02d", w)
			for _, c := range []provisioner.Cluster{own, shared} {
				if err := s.PutCluster(ctx, c); err != nil {
					t.Errorf("worker %d: PutCluster %s: %v", w, c.Name, err)
				}
			}
			for i := range perWorker {
				e := entry(w*perWorker+i, base.Add(time.Duration(i)*time.Millisecond))
				e.Actor = shared.CreatedBy
				if err := s.AppendAudit(ctx, e); err != nil {
					t.Errorf("worker %d: AppendAudit: %v", w, err)
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
}

// testContext checks that a done context stops every method before it
// changes anything, with an error that still says why (errors.Is).
func testContext(t *testing.T, open func(t *testing.T) provisioner.Store) {
	s := fresh(t, open)
	ok(t, s.PutCluster(t.Context(), cluster("keep", false, 0)))

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
			"PutCluster":    func() error { return s.PutCluster(ctx, cluster("ghost", false, 0)) },
			"DeleteCluster": func() error { return s.DeleteCluster(ctx, "keep") },
			"ListClusters":  func() error { _, err := s.ListClusters(ctx); return err },
			"AppendAudit":   func() error { return s.AppendAudit(ctx, entry(0, base)) },
			"ListAudit":     func() error { _, err := s.ListAudit(ctx, provisioner.AuditFilter{}); return err },
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
	if _, err := s.GetCluster(ctx, "keep"); err != nil {
		t.Errorf("a canceled DeleteCluster deleted: %v", err)
	}
	_, err := s.GetCluster(ctx, "ghost")
	wantCode(t, err, provisioner.ENOTFOUND)
	entries, err := s.ListAudit(ctx, provisioner.AuditFilter{})
	ok(t, err)
	if len(entries) != 0 {
		t.Errorf("a canceled AppendAudit appended %v", ids(entries))
	}
}
