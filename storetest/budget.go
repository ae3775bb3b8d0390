package storetest

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"provisioner"
	"provisioner/testkit"
)

// testBudgets holds the budget ledgers to Apply's rules: each written
// under its revision (0: none may exist), counted up by one; a stale one
// refuses the whole batch, its cluster and records included; of batches
// racing over one ledger revision exactly one lands, which is what keeps
// two deploys from spending the same headroom.
func testBudgets(t *testing.T, open func(t *testing.T) provisioner.Store) {
	ledger := func(scope string) provisioner.BudgetLedger {
		return provisioner.BudgetLedger{Scope: scope, Since: base, Month: "2025-03", Warned: 80,
			Exhausted: base.Add(time.Hour), Exempt: []string{"alpha", "beta"}}
	}
	want := func(t *testing.T, s provisioner.Store, w provisioner.BudgetLedger, rev int64) {
		t.Helper()
		got, err := s.GetBudgetLedger(t.Context(), w.Scope)
		ok(t, err)
		if got.Revision != rev || !got.Since.Equal(w.Since) || got.Since.Location() != time.UTC || got.Month != w.Month ||
			got.Warned != w.Warned || !got.Exhausted.Equal(w.Exhausted) || !slices.Equal(got.Exempt, w.Exempt) {
			t.Fatalf("ledger %s = %+v (revision %d), want %+v at revision %d", w.Scope, got, got.Revision, w, rev)
		}
	}
	t.Run("CreateUpdate", func(t *testing.T) {
		s, ctx := fresh(t, open), t.Context()
		_, err := s.GetBudgetLedger(ctx, "user:ada")
		testkit.WantCode(t, err, provisioner.ENOTFOUND)
		l := ledger("user:ada")
		_, err = s.Apply(ctx, provisioner.Batch{Budgets: []provisioner.BudgetLedger{l}})
		ok(t, err)
		want(t, s, l, 1)

		// Revision 0 again: one exists.
		_, err = s.Apply(ctx, provisioner.Batch{Budgets: []provisioner.BudgetLedger{l}})
		testkit.WantCode(t, err, provisioner.ECONFLICT)
		// The next over revision 1; zero fields come back zero.
		next := provisioner.BudgetLedger{Scope: "user:ada", Since: base, Revision: 1}
		_, err = s.Apply(ctx, provisioner.Batch{Budgets: []provisioner.BudgetLedger{next}})
		ok(t, err)
		want(t, s, next, 2)
		got, err := s.GetBudgetLedger(ctx, "user:ada")
		ok(t, err)
		if !got.Exhausted.IsZero() || got.Exempt != nil {
			t.Fatalf("zero fields came back %v, %v", got.Exhausted, got.Exempt)
		}
		// Another scope is another record.
		_, err = s.GetBudgetLedger(ctx, "org")
		testkit.WantCode(t, err, provisioner.ENOTFOUND)
	})
	t.Run("StaleLedgerWritesNothing", func(t *testing.T) {
		s, ctx := fresh(t, open), t.Context()
		org := ledger("org")
		_, err := s.Apply(ctx, provisioner.Batch{Budgets: []provisioner.BudgetLedger{org}})
		ok(t, err)
		// A deploy's batch: the cluster, its records, two ledgers, one
		// of them stale.
		c := fullCluster("alpha")
		b := batch(&c, 0)
		b.Budgets = []provisioner.BudgetLedger{ledger("user:ada"), org} // org at revision 0: stale
		_, err = s.Apply(ctx, b)
		testkit.WantCode(t, err, provisioner.ECONFLICT)
		wantMissing(t, s, "alpha")
		wantNothing(t, s, b)
		_, err = s.GetBudgetLedger(ctx, "user:ada")
		testkit.WantCode(t, err, provisioner.ENOTFOUND)
		want(t, s, org, 1)

		// Over the revision read, all of it lands.
		org.Revision = 1
		b.Budgets[1] = org
		rev, err := s.Apply(ctx, b)
		ok(t, err)
		wantStored(t, s, c, rev)
		wantBatch(t, s, b)
		want(t, s, ledger("user:ada"), 1)
		want(t, s, org, 2)

		// A stale cluster refuses the ledgers too.
		stale := fullCluster("alpha")
		stale.Revision = rev - 1
		org.Revision = 2
		_, err = s.Apply(ctx, provisioner.Batch{Cluster: &stale, Budgets: []provisioner.BudgetLedger{org}})
		testkit.WantCode(t, err, provisioner.ECONFLICT)
		want(t, s, org, 2)
	})
	t.Run("NodeGroupStaleWritesNothing", func(t *testing.T) {
		// A node group's DEPLOY or EXTEND: the group under its revision,
		// its ledger and records, all or nothing.
		s, ctx := fresh(t, open), t.Context()
		g := group("alpha", "ada")
		b := batch(nil, 0)
		b.NodeGroup, b.Budgets = &g, []provisioner.BudgetLedger{ledger("user:ada")}
		rev, err := s.Apply(ctx, b)
		ok(t, err)
		got, err := s.GetNodeGroup(ctx, "alpha", "ada")
		ok(t, err)
		wantGroup(t, got, g)
		if got.Revision != rev || rev <= 0 {
			t.Fatalf("group revision %d, Apply returned %d", got.Revision, rev)
		}
		wantBatch(t, s, b)
		want(t, s, ledger("user:ada"), 1)

		// A stale group revision: neither the group, nor the ledger, nor
		// the records.
		stale := g
		stale.Revision, stale.NodeCapacity = rev-1, 9
		next := ledger("user:ada")
		next.Revision, next.Warned = 1, 90
		b2 := batch(nil, 1)
		b2.NodeGroup, b2.Budgets = &stale, []provisioner.BudgetLedger{next}
		_, err = s.Apply(ctx, b2)
		testkit.WantCode(t, err, provisioner.ECONFLICT)
		// Creating one that exists is stale too.
		stale.Revision = 0
		_, err = s.Apply(ctx, b2)
		testkit.WantCode(t, err, provisioner.ECONFLICT)
		// A stale ledger refuses the group.
		newer := g
		newer.Revision, newer.NodeCapacity = rev, 5
		b2.NodeGroup, b2.Budgets = &newer, []provisioner.BudgetLedger{ledger("user:ada")}
		_, err = s.Apply(ctx, b2)
		testkit.WantCode(t, err, provisioner.ECONFLICT)
		got, err = s.GetNodeGroup(ctx, "alpha", "ada")
		ok(t, err)
		wantGroup(t, got, g)
		if got.Revision != rev {
			t.Fatalf("group revision %d after refused batches, want %d", got.Revision, rev)
		}
		wantBatch(t, s, b)
		want(t, s, ledger("user:ada"), 1)

		// Over both revisions read, all of it lands.
		b2.Budgets = []provisioner.BudgetLedger{next}
		rev2, err := s.Apply(ctx, b2)
		ok(t, err)
		got, err = s.GetNodeGroup(ctx, "alpha", "ada")
		ok(t, err)
		if got.NodeCapacity != 5 || got.Revision != rev2 || rev2 <= rev {
			t.Fatalf("group %+v at revision %d (Apply %d), want 5 nodes above %d", got, got.Revision, rev2, rev)
		}
		wantBatch(t, s, b, b2)
		want(t, s, next, 2)

		// A group alone in a batch is PutNodeGroup.
		alone := got
		alone.NodeCapacity = 7
		rev3, err := s.Apply(ctx, provisioner.Batch{NodeGroup: &alone})
		ok(t, err)
		alone.Revision = rev - 1
		_, err = s.Apply(ctx, provisioner.Batch{NodeGroup: &alone})
		testkit.WantCode(t, err, provisioner.ECONFLICT)
		got, err = s.GetNodeGroup(ctx, "alpha", "ada")
		ok(t, err)
		if got.NodeCapacity != 7 || got.Revision != rev3 {
			t.Fatalf("group %+v, want 7 nodes at revision %d", got, rev3)
		}
	})
	t.Run("NodeGroupOneWinner", func(t *testing.T) {
		// Node group deploys of different users over one ledger
		// revision: exactly one lands, with its group.
		s, ctx := fresh(t, open), t.Context()
		const workers = 6
		batches := make([]provisioner.Batch, workers)
		for w := range workers {
			g := group("alpha", string(rune('a'+w))+"-user")
			l := ledger("org")
			l.Warned = w + 1
			batches[w] = provisioner.Batch{NodeGroup: &g, Budgets: []provisioner.BudgetLedger{l}}
		}
		winner := oneWinner(t, s, batches)
		all, err := s.ListNodeGroups(ctx, "")
		ok(t, err)
		if len(all) != 1 || all[0].User != string(rune('a'+winner))+"-user" {
			t.Fatalf("groups %v; only the winner's (%d) may be stored", all, winner)
		}
		got, err := s.GetBudgetLedger(ctx, "org")
		ok(t, err)
		if got.Warned != winner+1 || got.Revision != 1 {
			t.Fatalf("ledger %+v is not the winner's (%d)", got, winner)
		}
	})
	t.Run("Invalid", func(t *testing.T) {
		s, ctx := fresh(t, open), t.Context()
		for name, b := range map[string]provisioner.Batch{
			"no scope":          {Budgets: []provisioner.BudgetLedger{{}}},
			"negative revision": {Budgets: []provisioner.BudgetLedger{{Scope: "org", Revision: -1}}},
			"twice":             {Budgets: []provisioner.BudgetLedger{{Scope: "org"}, {Scope: "org"}}},
			"group and cluster": {Cluster: &provisioner.Cluster{Name: "alpha"}, NodeGroup: &provisioner.NodeGroup{Cluster: "alpha", User: "ada"},
				Budgets: []provisioner.BudgetLedger{{Scope: "org"}}},
			"group without a user":    {NodeGroup: &provisioner.NodeGroup{Cluster: "alpha"}, Budgets: []provisioner.BudgetLedger{{Scope: "org"}}},
			"group negative revision": {NodeGroup: &provisioner.NodeGroup{Cluster: "alpha", User: "ada", Deployment: provisioner.Deployment{Revision: -1}}},
		} {
			if _, err := s.Apply(ctx, b); provisioner.ErrorCode(err) != provisioner.EINVALID {
				t.Errorf("%s: %v, want %s", name, err, provisioner.EINVALID)
			}
		}
		_, err := s.GetBudgetLedger(ctx, "org")
		testkit.WantCode(t, err, provisioner.ENOTFOUND)
	})
	t.Run("OneWinner", func(t *testing.T) {
		// Deploys of different clusters over one ledger revision (both
		// saw room for one): exactly one lands, with its cluster.
		s, ctx := fresh(t, open), t.Context()
		const workers = 6
		batches := make([]provisioner.Batch, workers)
		for w := range workers {
			c := cluster(string(rune('a'+w))+"-cluster", false, 0)
			l := ledger("team:dev")
			l.Warned = w + 1
			batches[w] = provisioner.Batch{Cluster: &c, Budgets: []provisioner.BudgetLedger{l}}
		}
		winner := oneWinner(t, s, batches)
		all, err := s.ListClusters(ctx)
		ok(t, err)
		if len(all) != 1 || all[0].Name != string(rune('a'+winner))+"-cluster" {
			t.Fatalf("clusters %v; only the winner's (%d) may be stored", all, winner)
		}
		got, err := s.GetBudgetLedger(ctx, "team:dev")
		ok(t, err)
		if got.Warned != winner+1 || got.Revision != 1 {
			t.Fatalf("ledger %+v is not the winner's (%d)", got, winner)
		}
	})
	t.Run("NoLostReservation", func(t *testing.T) {
		// Read, change, compare-and-swap, retried on ECONFLICT: every
		// increment counts once.
		s, ctx := fresh(t, open), t.Context()
		const workers, each = 6, 4
		var conflicts atomic.Int64
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for range each {
					n, err := RetryConflicts(func() error {
						l, err := s.GetBudgetLedger(ctx, "org")
						if provisioner.ErrorCode(err) == provisioner.ENOTFOUND {
							l, err = provisioner.BudgetLedger{Scope: "org", Since: base}, nil
						}
						if err != nil {
							return err
						}
						l.Warned++
						_, err = s.Apply(ctx, provisioner.Batch{Budgets: []provisioner.BudgetLedger{l}})
						return err
					})
					conflicts.Add(int64(n))
					if err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		got, err := s.GetBudgetLedger(ctx, "org")
		ok(t, err)
		if got.Warned != workers*each || got.Revision != workers*each {
			t.Fatalf("ledger counted %d at revision %d, want %d (conflicts %d)", got.Warned, got.Revision, workers*each, conflicts.Load())
		}
	})
}
