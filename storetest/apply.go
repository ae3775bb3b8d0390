package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"provisioner"
	"provisioner/testkit"
)

// testApply holds Store.Apply to all or nothing: whatever fails (a stale
// revision, an ID in use, a done context), none of the batch is written.
func testApply(t *testing.T, open func(t *testing.T) provisioner.Store) {
	t.Run("WritesAll", func(t *testing.T) {
		s, ctx := fresh(t, open), t.Context()
		c := fullCluster("alpha")
		b := batch(&c, 0)
		rev, err := s.Apply(ctx, b)
		ok(t, err)
		if rev <= 0 {
			t.Fatalf("Apply creating a cluster returned revision %d, want > 0", rev)
		}
		wantStored(t, s, c, rev)
		wantBatch(t, s, b)

		// The next change goes over the returned revision, by Apply or
		// PutCluster alike.
		c.State, c.Revision = provisioner.StateRunning, rev
		next := batch(&c, 1)
		rev2, err := s.Apply(ctx, next)
		ok(t, err)
		if rev2 <= rev {
			t.Fatalf("Apply updating revision %d returned %d, want more", rev, rev2)
		}
		wantStored(t, s, c, rev2)
		wantBatch(t, s, b, next)
		update(t, s, c, rev2)
	})
	t.Run("StaleRevisionWritesNothing", func(t *testing.T) {
		s, ctx := fresh(t, open), t.Context()
		c := cluster("alpha", false, 0)
		rev := create(t, s, c)
		rev = update(t, s, c, rev)
		stale := fullCluster("alpha")
		stale.Revision = rev - 1
		_, err := s.Apply(ctx, batch(&stale, 0))
		testkit.WantCode(t, err, provisioner.ECONFLICT)
		wantStored(t, s, c, rev)
		wantNothing(t, s, batch(nil, 0))

		again := fullCluster("alpha") // revision 0: only if absent
		_, err = s.Apply(ctx, batch(&again, 0))
		testkit.WantCode(t, err, provisioner.ECONFLICT)
		wantStored(t, s, c, rev)
		wantNothing(t, s, batch(nil, 0))
	})
	t.Run("UsedIDWritesNothing", func(t *testing.T) {
		s, ctx := fresh(t, open), t.Context()
		c := cluster("alpha", false, 0)
		rev := create(t, s, c)
		used := batch(nil, 0)
		ok(t, s.AppendEvent(ctx, used.Events[1]))
		ok(t, s.AppendAudit(ctx, used.Audit[0]))
		for name, change := range map[string]func(*provisioner.Batch){
			"event": func(b *provisioner.Batch) { b.Events[1].Message = "another event, the same id" },
			"audit": func(b *provisioner.Batch) { b.Audit[0].Detail = "another entry, the same id" },
		} {
			upd := fullCluster("alpha")
			upd.Revision = rev
			b := batch(&upd, 0)
			change(&b)
			b.Events = append(b.Events, event("alpha", 7, base.Add(time.Hour)))
			b.Audit = append(b.Audit, entry(7, base.Add(time.Hour)))
			_, err := s.Apply(ctx, b)
			if provisioner.ErrorCode(err) != provisioner.ECONFLICT {
				t.Fatalf("a batch reusing an %s id: %v, want %s", name, err, provisioner.ECONFLICT)
			}
			wantStored(t, s, c, rev)
			if _, err := s.GetOperation(ctx, b.Operations[0].ID); provisioner.ErrorCode(err) != provisioner.ENOTFOUND {
				t.Fatalf("a refused batch (%s id in use) wrote its operation: %v", name, err)
			}
			events, err := s.ListEvents(ctx, "alpha", 0)
			ok(t, err)
			wantEvents(t, events, used.Events[1:2])
			entries, err := s.ListAudit(ctx, provisioner.AuditFilter{})
			ok(t, err)
			wantEntries(t, entries, used.Audit[:1])
		}
	})
	t.Run("Delete", func(t *testing.T) {
		s, ctx := fresh(t, open), t.Context()
		c := fullCluster("alpha")
		rev := create(t, s, c)

		stale := c
		stale.Revision = rev + 1
		b := batch(&stale, 0)
		b.DeleteCluster = true
		_, err := s.Apply(ctx, b)
		testkit.WantCode(t, err, provisioner.ECONFLICT)
		wantStored(t, s, c, rev)
		wantNothing(t, s, b)

		c.Revision = rev
		b.Cluster = &c
		got, err := s.Apply(ctx, b)
		ok(t, err)
		if got != 0 {
			t.Fatalf("Apply deleting a cluster returned revision %d, want 0", got)
		}
		wantMissing(t, s, "alpha")
		wantBatch(t, s, b)
		// A revision read before the delete never matches the record
		// created after it.
		if again := create(t, s, c); again <= rev {
			t.Fatalf("cluster created again at revision %d, not above %d", again, rev)
		}

		// Deleting what is gone is no error: the rest is written.
		gone := cluster("beta", false, 0)
		gone.Revision = rev
		later := batch(nil, 1)
		later.Cluster, later.DeleteCluster = &gone, true
		_, err = s.Apply(ctx, later)
		ok(t, err)
		wantBatch(t, s, b, later)
	})
	t.Run("WithoutCluster", func(t *testing.T) {
		s, ctx := fresh(t, open), t.Context()
		b := batch(nil, 0)
		rev, err := s.Apply(ctx, b)
		ok(t, err)
		if rev != 0 {
			t.Fatalf("Apply without a cluster returned revision %d, want 0", rev)
		}
		wantBatch(t, s, b)
		wantMissing(t, s, "alpha")
		// One record alone, and nothing at all.
		one := provisioner.Batch{Operations: []provisioner.Operation{operation("op-alone")}}
		_, err = s.Apply(ctx, one)
		ok(t, err)
		got, err := s.GetOperation(ctx, "op-alone")
		ok(t, err)
		wantOperation(t, got, one.Operations[0])
		rev, err = s.Apply(ctx, provisioner.Batch{})
		if err != nil || rev != 0 {
			t.Fatalf("an empty batch: %d, %v; want 0, nil", rev, err)
		}
	})
	t.Run("Full", func(t *testing.T) {
		// MaxBatch records, as many events and audit entries as fit.
		s, ctx := fresh(t, open), t.Context()
		c := cluster("alpha", false, 0)
		b := provisioner.Batch{Cluster: &c, Operations: []provisioner.Operation{operation("op-full")}}
		for i := 0; b.Len() < provisioner.MaxBatch; i++ {
			if i%2 == 0 {
				b.Events = append(b.Events, event("alpha", i, base.Add(time.Duration(i)*time.Second)))
			} else {
				b.Audit = append(b.Audit, entry(i, base.Add(time.Duration(i)*time.Second)))
			}
		}
		rev, err := s.Apply(ctx, b)
		ok(t, err)
		wantStored(t, s, c, rev)
		wantBatch(t, s, b)
	})
	t.Run("Invalid", func(t *testing.T) {
		s, ctx := fresh(t, open), t.Context()
		for name, change := range map[string]func(*provisioner.Batch){
			"too many records": func(b *provisioner.Batch) {
				for i := b.Len(); i <= provisioner.MaxBatch; i++ {
					b.Events = append(b.Events, event("alpha", 100+i, base))
				}
			},
			"delete without a cluster": func(b *provisioner.Batch) { b.DeleteCluster = true },
			"cluster without a name":   func(b *provisioner.Batch) { b.Cluster = &provisioner.Cluster{} },
			"negative revision": func(b *provisioner.Batch) {
				b.Cluster = &provisioner.Cluster{Name: "alpha", Deployment: provisioner.Deployment{Revision: -1}}
			},
			"operation without an id": func(b *provisioner.Batch) { b.Operations[0].ID = "" },
			"operation twice":         func(b *provisioner.Batch) { b.Operations = append(b.Operations, b.Operations[0]) },
			"event without an id":     func(b *provisioner.Batch) { b.Events[0].ID = "" },
			"event without a time":    func(b *provisioner.Batch) { b.Events[0].Time = time.Time{} },
			"event twice":             func(b *provisioner.Batch) { b.Events[1].ID = b.Events[0].ID },
			"entry without an id":     func(b *provisioner.Batch) { b.Audit[0].ID = "" },
			"entry without a time":    func(b *provisioner.Batch) { b.Audit[0].Time = time.Time{} },
			"entry twice":             func(b *provisioner.Batch) { b.Audit = append(b.Audit, b.Audit[0]) },
		} {
			b := batch(nil, 0)
			change(&b)
			if _, err := s.Apply(ctx, b); provisioner.ErrorCode(err) != provisioner.EINVALID {
				t.Errorf("%s: %v, want %s", name, err, provisioner.EINVALID)
			}
		}
		wantNothing(t, s, batch(nil, 0))
		wantMissing(t, s, "alpha")
	})
	t.Run("OneWinner", func(t *testing.T) {
		// Batches racing over one revision: exactly one lands, and only
		// its events and entries are there.
		s, ctx := fresh(t, open), t.Context()
		c := cluster("alpha", false, 0)
		rev := create(t, s, c)
		const workers = 6
		batches := make([]provisioner.Batch, workers)
		for w := range workers {
			upd := c
			upd.Revision, upd.NodeCapacity = rev, w+1
			batches[w] = batch(&upd, w)
		}
		winner := oneWinner(t, s, batches)
		got, err := s.GetCluster(ctx, "alpha")
		ok(t, err)
		if got.NodeCapacity != winner+1 {
			t.Fatalf("cluster has the nodes of worker %d, the winner is %d", got.NodeCapacity-1, winner)
		}
		wantBatch(t, s, batches[winner])
	})
}

// batch returns a batch with cluster c (nil: none), an operation, two
// events of alpha and an audit entry, whose IDs and times are the n-th
// batch's.
func batch(c *provisioner.Cluster, n int) provisioner.Batch {
	at := base.Add(time.Duration(n) * time.Minute)
	op := operation(fmt.Sprintf("op-%d", n))
	op.State, op.UpdatedAt = provisioner.OpSuccess, at
	return provisioner.Batch{
		Cluster:    c,
		Operations: []provisioner.Operation{op},
		Events:     []provisioner.Event{event("alpha", 2*n, at), event("alpha", 2*n+1, at.Add(time.Second))},
		Audit:      []provisioner.AuditEntry{entry(n, at)},
	}
}

// wantBatch requires that the operations, events (of alpha) and audit
// entries of bs, and no others, are stored.
func wantBatch(t testing.TB, s provisioner.Store, bs ...provisioner.Batch) {
	t.Helper()
	var events []provisioner.Event
	var entries []provisioner.AuditEntry
	for _, b := range bs {
		for _, op := range b.Operations {
			got, err := s.GetOperation(t.Context(), op.ID)
			ok(t, err)
			wantOperation(t, got, op)
		}
		events = append(events, b.Events...)
		entries = append(entries, b.Audit...)
	}
	got, err := s.ListEvents(t.Context(), "alpha", 0)
	ok(t, err)
	wantEvents(t, got, events)
	gotEntries, err := s.ListAudit(t.Context(), provisioner.AuditFilter{})
	ok(t, err)
	slices.Reverse(entries) // newest first: the batches' entries are in time order
	wantEntries(t, gotEntries, entries)
}

// wantNothing requires that none of b's operations, no event of alpha and
// no audit entry is stored.
func wantNothing(t testing.TB, s provisioner.Store, b provisioner.Batch) {
	t.Helper()
	for _, op := range b.Operations {
		if _, err := s.GetOperation(t.Context(), op.ID); provisioner.ErrorCode(err) != provisioner.ENOTFOUND {
			t.Fatalf("operation %s: %v, want %s", op.ID, err, provisioner.ENOTFOUND)
		}
	}
	wantBatch(t, s)
}

// oneWinner applies the batches at once, all written over the same
// revision, and returns the index of the one that landed; every other must
// be ECONFLICT.
func oneWinner(t *testing.T, s provisioner.Store, batches []provisioner.Batch) int {
	t.Helper()
	errs := make([]error, len(batches))
	var wg sync.WaitGroup
	for w := range batches {
		wg.Go(func() { _, errs[w] = s.Apply(t.Context(), batches[w]) })
	}
	wg.Wait()
	winner := -1
	for w, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("batches %d and %d both applied over one revision", winner, w)
		case err == nil:
			winner = w
		case provisioner.ErrorCode(err) != provisioner.ECONFLICT:
			t.Fatalf("batch %d: %v, want success or %s", w, err, provisioner.ECONFLICT)
		}
	}
	if winner < 0 {
		t.Fatal("no batch applied")
	}
	return winner
}
