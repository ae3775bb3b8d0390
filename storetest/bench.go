package storetest

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"provisioner"
)

// Bench measures the store operations the service does on every request,
// on stores made by open (new and empty each time, as for Run).
func Bench(b *testing.B, open func(b *testing.B) provisioner.Store) {
	newStore := func(b *testing.B) provisioner.Store {
		s := open(b)
		b.Cleanup(func() { s.Close() })
		b.ReportAllocs()
		return s
	}
	const clusters = 1000
	seed := func(b *testing.B, s provisioner.Store) []int64 {
		revs := make([]int64, clusters)
		for i := range clusters {
			revs[i] = create(b, s, cluster(fmt.Sprintf("c%04d", i), i%2 == 0, 0))
		}
		return revs
	}

	b.Run("PutClusterCreate", func(b *testing.B) {
		s, ctx, i := newStore(b), b.Context(), 0
		for b.Loop() {
			if _, err := s.PutCluster(ctx, cluster(fmt.Sprintf("c%08d", i), true, 0)); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("PutCluster", func(b *testing.B) {
		s, ctx, i := newStore(b), b.Context(), 0
		revs := seed(b, s)
		for b.Loop() { // compare-and-swap updates of existing clusters
			c := fullCluster(fmt.Sprintf("c%04d", i%clusters))
			c.Revision = revs[i%clusters]
			rev, err := s.PutCluster(ctx, c)
			if err != nil {
				b.Fatal(err)
			}
			revs[i%clusters] = rev
			i++
		}
	})
	b.Run("PutClusterConflict", func(b *testing.B) {
		s, ctx := newStore(b), b.Context()
		revs := seed(b, s)
		c := fullCluster("c0000")
		c.Revision = revs[0] + 1000 // stale
		for b.Loop() {
			if _, err := s.PutCluster(ctx, c); provisioner.ErrorCode(err) != provisioner.ECONFLICT {
				b.Fatalf("stale PutCluster: %v", err)
			}
		}
	})
	b.Run("PutOperation", func(b *testing.B) {
		s, ctx, i := newStore(b), b.Context(), 0
		for b.Loop() { // creates two, then replaces the first, as DEPLOY then its end do
			ok(b, s.PutOperation(ctx, operation(fmt.Sprintf("op%d", i/2))))
			i++
		}
	})
	b.Run("GetOperation", func(b *testing.B) {
		s, ctx, i := newStore(b), b.Context(), 0
		for i := range clusters {
			ok(b, s.PutOperation(ctx, operation(fmt.Sprintf("op%d", i))))
		}
		for b.Loop() {
			if _, err := s.GetOperation(ctx, fmt.Sprintf("op%d", i%clusters)); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("AppendEvent", func(b *testing.B) {
		s, ctx, i := newStore(b), b.Context(), 0
		for b.Loop() {
			ok(b, s.AppendEvent(ctx, event(fmt.Sprintf("c%02d", i%10), i, base.Add(time.Duration(i)*time.Millisecond))))
			i++
		}
	})
	b.Run("ListEvents", func(b *testing.B) { // the 100 newest of 1,000, among 10,000
		s, ctx := newStore(b), b.Context()
		for i := range 10000 {
			ok(b, s.AppendEvent(ctx, event(fmt.Sprintf("c%02d", i%10), i, base.Add(time.Duration(i)*time.Second))))
		}
		for b.Loop() {
			if _, err := s.ListEvents(ctx, "c03", 0); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("GetCluster", func(b *testing.B) {
		s, ctx, i := newStore(b), b.Context(), 0
		seed(b, s)
		for b.Loop() {
			if _, err := s.GetCluster(ctx, fmt.Sprintf("c%04d", i%clusters)); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("GetClusterParallel", func(b *testing.B) {
		s, ctx := newStore(b), b.Context()
		seed(b, s)
		var n atomic.Int64
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.GetCluster(ctx, fmt.Sprintf("c%04d", n.Add(1)%clusters)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("AppendAudit", func(b *testing.B) {
		s, ctx, i := newStore(b), b.Context(), 0
		for b.Loop() {
			ok(b, s.AppendAudit(ctx, entry(i, base.Add(time.Duration(i)*time.Millisecond))))
			i++
		}
	})
	b.Run("AppendAuditParallel", func(b *testing.B) {
		s, ctx := newStore(b), b.Context()
		var n atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := int(n.Add(1))
				if err := s.AppendAudit(ctx, entry(i, base.Add(time.Duration(i)*time.Millisecond))); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	benchListAudit(b, newStore)
}

// benchListAudit lists the default page of 100 from 10,000 entries by 10
// actors: all of them, one actor's, and the last minute's.
func benchListAudit(b *testing.B, newStore func(*testing.B) provisioner.Store) {
	const entries, actors = 10000, 10
	filters := []struct {
		name string
		f    provisioner.AuditFilter
	}{
		{"ListAudit", provisioner.AuditFilter{}},
		{"ListAuditByActor", provisioner.AuditFilter{Actor: "user3"}},
		{"ListAuditSince", provisioner.AuditFilter{Since: base.Add((entries - 60) * time.Second)}},
	}
	for _, fl := range filters {
		b.Run(fl.name, func(b *testing.B) {
			s, ctx := newStore(b), b.Context()
			for i := range entries {
				e := entry(i, base.Add(time.Duration(i)*time.Second))
				e.Actor = fmt.Sprintf("user%d", i%actors)
				ok(b, s.AppendAudit(ctx, e))
			}
			for b.Loop() {
				if _, err := s.ListAudit(ctx, fl.f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
