package dynamodb

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"provisioner"
)

// TestAuditAcrossDays checks ListAudit where storetest does not go: entries
// spread over day partitions (written by two stores, each with its own
// memory of indexed days), pages that cross days, Since in the middle of a
// day, and filters that skip whole days.
func TestAuditAcrossDays(t *testing.T) {
	a, b := twoStores(t)
	ctx := t.Context()
	day := func(d int, h, m int) time.Time {
		return base.Truncate(24*time.Hour).AddDate(0, 0, d).Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
	}
	times := []time.Time{ // oldest first; e0..e9
		day(-40, 10, 0), day(-2, 23, 59), day(-1, 0, 0), day(-1, 0, 1), day(-1, 12, 0),
		day(-1, 23, 59), day(0, 0, 0), day(0, 6, 30), day(3, 1, 0), day(3, 1, 0),
	}
	var all []provisioner.AuditEntry // newest first
	for i, tm := range times {
		e := provisioner.AuditEntry{ID: fmt.Sprintf("e%d", i), Time: tm, Actor: []string{"alice", "bob", "carol"}[i%3],
			Level: provisioner.LevelMember, Action: []string{"access", "deploy"}[i%2], Result: "success"}
		ok(t, []*Store{a, b}[i%2].AppendAudit(ctx, e))
		all = append([]provisioner.AuditEntry{e}, all...)
	}
	// e8 and e9 share a time: the higher ID comes first.
	pick := func(keep func(provisioner.AuditEntry) bool, limit int) []string {
		var out []string
		for _, e := range all {
			if keep(e) && len(out) < limit {
				out = append(out, e.ID)
			}
		}
		return out
	}
	everything := func(provisioner.AuditEntry) bool { return true }
	since := day(-1, 0, 1)
	for _, tc := range []struct {
		name string
		f    provisioner.AuditFilter
		want []string
	}{
		{"All", provisioner.AuditFilter{}, pick(everything, 100)},
		{"PageCrossesDays", provisioner.AuditFilter{Limit: 4}, pick(everything, 4)},
		{"SinceMidDay", provisioner.AuditFilter{Since: since}, pick(func(e provisioner.AuditEntry) bool { return !e.Time.Before(since) }, 100)},
		{"SinceOtherZone", provisioner.AuditFilter{Since: since.In(time.FixedZone("", -11*3600))},
			pick(func(e provisioner.AuditEntry) bool { return !e.Time.Before(since) }, 100)},
		{"SinceFuture", provisioner.AuditFilter{Since: day(5, 0, 0)}, nil},
		{"ActorAcrossDays", provisioner.AuditFilter{Actor: "alice"}, pick(func(e provisioner.AuditEntry) bool { return e.Actor == "alice" }, 100)},
		{"ActorLimit", provisioner.AuditFilter{Actor: "bob", Limit: 2}, pick(func(e provisioner.AuditEntry) bool { return e.Actor == "bob" }, 2)},
		{"ActorActionSince", provisioner.AuditFilter{Actor: "carol", Action: "deploy", Since: day(-2, 0, 0)},
			pick(func(e provisioner.AuditEntry) bool {
				return e.Actor == "carol" && e.Action == "deploy" && !e.Time.Before(day(-2, 0, 0))
			}, 100)},
		{"OldestDayOnly", provisioner.AuditFilter{Actor: "alice", Limit: 1000}, pick(func(e provisioner.AuditEntry) bool { return e.Actor == "alice" }, 1000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, s := range []*Store{a, b} {
				got, err := s.ListAudit(ctx, tc.f)
				ok(t, err)
				var ids []string
				for _, e := range got {
					ids = append(ids, e.ID)
				}
				if !slices.Equal(ids, tc.want) {
					t.Fatalf("ListAudit(%+v) = %v, want %v", tc.f, ids, tc.want)
				}
			}
		})
	}
}
