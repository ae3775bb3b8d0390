package storetest

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"provisioner"
	"provisioner/testkit"
)

func testClusters(t *testing.T, open func(t *testing.T) provisioner.Store) {
	t.Run("PutGet", func(t *testing.T) {
		s := fresh(t, open)
		want := fullCluster("alpha")
		rev := create(t, s, want)
		if rev <= 0 {
			t.Fatalf("PutCluster of a new cluster returned revision %d, want > 0", rev)
		}
		wantStored(t, s, want, rev)
	})
	t.Run("OwnerAndTeam", func(t *testing.T) {
		// The owner (created_by) and the team a cluster is shared with
		// survive a round trip, and clearing the team clears it.
		s, ctx := fresh(t, open), t.Context()
		want := cluster("alpha", false, 0)
		want.CreatedBy, want.Team = "carol", "data-team"
		want.Revision = create(t, s, want)
		got, err := s.GetCluster(ctx, "alpha")
		ok(t, err)
		wantCluster(t, got, want)
		if got.CreatedBy != "carol" || got.Team != "data-team" {
			t.Fatalf("owner %q team %q, want carol and data-team", got.CreatedBy, got.Team)
		}
		got.Team = ""
		_, err = s.PutCluster(ctx, got)
		ok(t, err)
		again, err := s.GetCluster(ctx, "alpha")
		ok(t, err)
		if again.Team != "" || again.CreatedBy != "carol" {
			t.Fatalf("after clearing the team: owner %q team %q, want carol and none", again.CreatedBy, again.Team)
		}
		all, err := s.ListClusters(ctx)
		ok(t, err)
		if len(all) != 1 || all[0].CreatedBy != "carol" || all[0].Team != "" {
			t.Fatalf("ListClusters = %+v, want alpha owned by carol, no team", all)
		}
	})
	t.Run("GetMissing", func(t *testing.T) {
		wantMissing(t, fresh(t, open), "nope")
	})
	t.Run("EmptyName", func(t *testing.T) {
		s := fresh(t, open)
		_, err := s.PutCluster(t.Context(), cluster("", false, 0))
		testkit.WantCode(t, err, provisioner.EINVALID)
	})
	t.Run("NegativeRevision", func(t *testing.T) {
		s, ctx := fresh(t, open), t.Context()
		c := cluster("alpha", false, 0)
		c.Revision = -1
		_, err := s.PutCluster(ctx, c)
		testkit.WantCode(t, err, provisioner.EINVALID)
		testkit.WantCode(t, s.DeleteCluster(ctx, "alpha", -1), provisioner.EINVALID)
		wantMissing(t, s, "alpha")
	})
	t.Run("CreateExisting", func(t *testing.T) {
		s, ctx := fresh(t, open), t.Context()
		first := fullCluster("alpha")
		rev := create(t, s, first)
		second := cluster("alpha", false, time.Hour)
		second.CreatedBy = "mallory"
		_, err := s.PutCluster(ctx, second) // revision 0: only if absent
		testkit.WantCode(t, err, provisioner.ECONFLICT)
		wantStored(t, s, first, rev)
	})
	t.Run("Update", func(t *testing.T) {
		s, ctx := fresh(t, open), t.Context()
		rev := create(t, s, cluster("alpha", false, 0))
		want := fullCluster("alpha")
		rev2 := update(t, s, want, rev)
		if rev2 == rev || rev2 <= 0 {
			t.Fatalf("update of revision %d returned revision %d, want a new positive one", rev, rev2)
		}
		wantStored(t, s, want, rev2)
		all, err := s.ListClusters(ctx)
		ok(t, err)
		if len(all) != 1 {
			t.Fatalf("ListClusters after an update returned %d clusters, want 1", len(all))
		}
	})
	t.Run("StaleUpdate", func(t *testing.T) {
		s, ctx := fresh(t, open), t.Context()
		rev := create(t, s, cluster("alpha", false, 0))
		want := fullCluster("alpha")
		rev2 := update(t, s, want, rev)
		stale := cluster("alpha", true, time.Hour)
		stale.State = provisioner.StateDestroying
		stale.Revision = rev // read before the update above
		_, err := s.PutCluster(ctx, stale)
		testkit.WantCode(t, err, provisioner.ECONFLICT)
		wantStored(t, s, want, rev2)
	})
	t.Run("UpdateMissing", func(t *testing.T) {
		s, ctx := fresh(t, open), t.Context()
		c := cluster("alpha", false, 0)
		c.Revision = 1
		_, err := s.PutCluster(ctx, c)
		testkit.WantCode(t, err, provisioner.ECONFLICT)
		wantMissing(t, s, "alpha")
	})
	t.Run("Delete", func(t *testing.T) {
		s, ctx := fresh(t, open), t.Context()
		rev := create(t, s, cluster("alpha", false, 0))
		create(t, s, cluster("beta", false, 0))
		c := cluster("alpha", true, time.Minute)
		rev2 := update(t, s, c, rev)
		testkit.WantCode(t, s.DeleteCluster(ctx, "alpha", rev), provisioner.ECONFLICT) // stale
		testkit.WantCode(t, s.DeleteCluster(ctx, "alpha", 0), provisioner.ECONFLICT)   // "must not exist"
		wantStored(t, s, c, rev2)

		ok(t, s.DeleteCluster(ctx, "alpha", rev2))
		wantMissing(t, s, "alpha")
		if _, err := s.GetCluster(ctx, "beta"); err != nil {
			t.Fatalf("deleting alpha lost beta: %v", err)
		}
		ok(t, s.DeleteCluster(ctx, "alpha", rev2)) // again: idempotent
	})
	t.Run("DeleteMissing", func(t *testing.T) {
		s := fresh(t, open)
		ok(t, s.DeleteCluster(t.Context(), "never-was", 0))
		ok(t, s.DeleteCluster(t.Context(), "never-was", 7))
	})
	// A revision read before a delete must not match the record of the
	// same name created after it, or a slow writer would overwrite a newer
	// cluster with the state of an old one.
	t.Run("RecreateAfterDelete", func(t *testing.T) {
		s, ctx := fresh(t, open), t.Context()
		rev1 := create(t, s, cluster("alpha", false, 0))
		rev2 := update(t, s, cluster("alpha", false, time.Second), rev1)
		ok(t, s.DeleteCluster(ctx, "alpha", rev2))
		want := fullCluster("alpha")
		rev3 := create(t, s, want)
		if rev3 == rev1 || rev3 == rev2 {
			t.Fatalf("recreated cluster has revision %d, which its deleted predecessor had (%d, %d)", rev3, rev1, rev2)
		}
		for _, old := range []int64{rev1, rev2} {
			stale := cluster("alpha", true, time.Hour)
			stale.Revision = old
			_, err := s.PutCluster(ctx, stale)
			testkit.WantCode(t, err, provisioner.ECONFLICT)
			testkit.WantCode(t, s.DeleteCluster(ctx, "alpha", old), provisioner.ECONFLICT)
		}
		wantStored(t, s, want, rev3)
	})
	t.Run("ListOrder", func(t *testing.T) {
		s, ctx := fresh(t, open), t.Context()
		all, err := s.ListClusters(ctx)
		ok(t, err)
		if len(all) != 0 {
			t.Fatalf("new store lists %d clusters", len(all))
		}
		names := []string{"b2", "a10", "a2", "zz", "a1", "m-x", "m0", "0a"}
		revs := map[string]int64{}
		for _, i := range rand.Perm(len(names)) {
			revs[names[i]] = create(t, s, cluster(names[i], i%2 == 0, 0))
		}
		all, err = s.ListClusters(ctx)
		ok(t, err)
		var got []string
		for _, c := range all {
			got = append(got, c.Name)
			wantRevision(t, c, revs[c.Name])
		}
		slices.Sort(names)
		if !slices.Equal(got, names) {
			t.Fatalf("ListClusters order = %v, want %v", got, names)
		}
	})
	t.Run("ListFields", func(t *testing.T) {
		s, ctx := fresh(t, open), t.Context()
		want := fullCluster("alpha")
		create(t, s, want)
		all, err := s.ListClusters(ctx)
		ok(t, err)
		if len(all) != 1 {
			t.Fatalf("ListClusters returned %d clusters, want 1", len(all))
		}
		wantCluster(t, all[0], want)
	})
	t.Run("Times", func(t *testing.T) { testClusterTimes(t, open) })
}

// testClusterTimes checks that times come back equal, in UTC, whatever zone
// they went in with, with at least millisecond precision; zero stays zero.
func testClusterTimes(t *testing.T, open func(t *testing.T) provisioner.Store) {
	s, ctx := fresh(t, open), t.Context()
	zone := time.FixedZone("UTC-7", -7*3600)
	exact := provisioner.Cluster{
		Name: "ms",
		Deployment: provisioner.Deployment{
			CreatedAt: base.Add(1234 * time.Millisecond).In(zone),
			UpdatedAt: base.AddDate(1, 0, 0),
			ExpiresAt: base.Add(2 * time.Hour).In(zone),
			DestroyAt: base.Add(90 * time.Minute),
		},
	}
	fine := provisioner.Cluster{
		Name: "ns",
		Deployment: provisioner.Deployment{
			CreatedAt: base.Add(123456789),
			UpdatedAt: base.Add(time.Nanosecond),
			ExpiresAt: base.Add(987654321),
			DestroyAt: base.Add(1),
		},
	}
	zero := provisioner.Cluster{Name: "zero"}
	onlyTTL := provisioner.Cluster{Name: "ttl", Deployment: provisioner.Deployment{CreatedAt: base, UpdatedAt: base, ExpiresAt: base.Add(time.Hour)}}
	for _, c := range []provisioner.Cluster{exact, fine, zero, onlyTTL} {
		create(t, s, c)
	}
	for _, want := range []provisioner.Cluster{exact, zero, onlyTTL} {
		got, err := s.GetCluster(ctx, want.Name)
		ok(t, err)
		wantCluster(t, got, want)
	}
	got, err := s.GetCluster(ctx, "zero")
	ok(t, err)
	for _, tm := range []time.Time{got.CreatedAt, got.UpdatedAt, got.ExpiresAt, got.DestroyAt} {
		if !tm.IsZero() {
			t.Errorf("zero time came back as %v", tm)
		}
	}
	got, err = s.GetCluster(ctx, "ns")
	ok(t, err)
	for _, p := range [][2]time.Time{{got.CreatedAt, fine.CreatedAt}, {got.UpdatedAt, fine.UpdatedAt},
		{got.ExpiresAt, fine.ExpiresAt}, {got.DestroyAt, fine.DestroyAt}} {
		if d := p[0].Sub(p[1]).Abs(); d >= time.Millisecond {
			t.Errorf("time %v came back as %v: off by %v", p[1], p[0], d)
		}
	}
}

func cluster(name string, public bool, age time.Duration) provisioner.Cluster {
	return provisioner.Cluster{
		Name:     name,
		IsPublic: public,
		Deployment: provisioner.Deployment{
			State:     provisioner.StateRunning,
			CreatedBy: "alice",
			CreatedAt: base,
			UpdatedAt: base.Add(age),
		},
	}
}

// fullCluster sets every field but Revision to a value other than its zero.
func fullCluster(name string) provisioner.Cluster {
	return provisioner.Cluster{
		Name:     name,
		IsPublic: true,
		Version:  "v4.5.1",
		Endpoint: "http://127.0.0.1:40123",
		Team:     "developers",
		Deployment: provisioner.Deployment{
			State:        provisioner.StateDeploying,
			NodeCapacity: 7,
			CreatedBy:    "bob",
			CreatedAt:    base,
			UpdatedAt:    base.Add(time.Minute),
			ExpiresAt:    base.Add(2 * time.Hour),
			DestroyAt:    base.Add(90 * time.Minute),
			Operation:    "op-1234",
			Reason:       "no nodes after 10m0s",
		},
	}
}

// create stores c, which must not exist yet, and returns its revision.
func create(t testing.TB, s provisioner.Store, c provisioner.Cluster) int64 {
	t.Helper()
	c.Revision = 0
	rev, err := s.PutCluster(t.Context(), c)
	if err != nil {
		t.Fatalf("create %s: %v", c.Name, err)
	}
	return rev
}

// update stores c over revision rev and returns the new revision.
func update(t testing.TB, s provisioner.Store, c provisioner.Cluster, rev int64) int64 {
	t.Helper()
	c.Revision = rev
	next, err := s.PutCluster(t.Context(), c)
	if err != nil {
		t.Fatalf("update %s: %v", c.Name, err)
	}
	return next
}

// wantCluster compares every field but Revision, times with time.Equal,
// and requires times in UTC, so callers can format them without converting.
func wantCluster(t testing.TB, got, want provisioner.Cluster) {
	t.Helper()
	got.Revision, want.Revision = 0, 0
	wantSame(t, "cluster", got, want, func(c *provisioner.Cluster) []*time.Time { return deploymentTimes(&c.Deployment) })
}

// deploymentTimes points at the times of a cluster or node group.
func deploymentTimes(d *provisioner.Deployment) []*time.Time {
	return []*time.Time{&d.CreatedAt, &d.UpdatedAt, &d.ExpiresAt, &d.DestroyAt}
}

// wantStored reads want's cluster back: it must equal want (wantCluster)
// and have revision rev.
func wantStored(t testing.TB, s provisioner.Store, want provisioner.Cluster, rev int64) {
	t.Helper()
	got, err := s.GetCluster(t.Context(), want.Name)
	ok(t, err)
	wantCluster(t, got, want)
	wantRevision(t, got, rev)
}

// wantMissing requires that no cluster has the name.
func wantMissing(t testing.TB, s provisioner.Store, name string) {
	t.Helper()
	_, err := s.GetCluster(t.Context(), name)
	testkit.WantCode(t, err, provisioner.ENOTFOUND)
}

func wantRevision(t testing.TB, c provisioner.Cluster, rev int64) {
	t.Helper()
	if c.Revision != rev {
		t.Fatalf("cluster %s has revision %d, want %d", c.Name, c.Revision, rev)
	}
}
