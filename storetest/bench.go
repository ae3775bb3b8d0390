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
	seed := func(b *testing.B, s provisioner.Store) {
		for i := range clusters {
			ok(b, s.PutCluster(b.Context(), cluster(fmt.Sprintf("c%04d", i), i%2 == 0, 0)))
		}
	}

	b.Run("PutCluster", func(b *testing.B) {
		s, ctx, i := newStore(b), b.Context(), 0
		for b.Loop() { // inserts, then replaces once every name exists
			ok(b, s.PutCluster(ctx, cluster(fmt.Sprintf("c%04d", i%clusters), true, time.Duration(i))))
			i++
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
