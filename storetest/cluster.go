package storetest

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"provisioner"
)

func testClusters(t *testing.T, open func(t *testing.T) provisioner.Store) {
	t.Run("PutGet", func(t *testing.T) {
		s, ctx := fresh(t, open), t.Context()
		want := cluster("alpha", true, 0)
		ok(t, s.PutCluster(ctx, want))
		got, err := s.GetCluster(ctx, "alpha")
		ok(t, err)
		wantCluster(t, got, want)
	})
	t.Run("GetMissing", func(t *testing.T) {
		s := fresh(t, open)
		_, err := s.GetCluster(t.Context(), "nope")
		wantCode(t, err, provisioner.ENOTFOUND)
	})
	t.Run("EmptyName", func(t *testing.T) {
		s := fresh(t, open)
		wantCode(t, s.PutCluster(t.Context(), cluster("", false, 0)), provisioner.EINVALID)
	})
	t.Run("Replace", func(t *testing.T) {
		s, ctx := fresh(t, open), t.Context()
		ok(t, s.PutCluster(ctx, cluster("alpha", false, 0)))
		want := cluster("alpha", true, time.Hour)
		want.CreatedBy = "bob"
		ok(t, s.PutCluster(ctx, want))
		got, err := s.GetCluster(ctx, "alpha")
		ok(t, err)
		wantCluster(t, got, want)
		all, err := s.ListClusters(ctx)
		ok(t, err)
		if len(all) != 1 {
			t.Fatalf("ListClusters after a replace returned %d clusters, want 1", len(all))
		}
	})
	t.Run("Delete", func(t *testing.T) {
		s, ctx := fresh(t, open), t.Context()
		ok(t, s.PutCluster(ctx, cluster("alpha", false, 0)))
		ok(t, s.PutCluster(ctx, cluster("beta", false, 0)))
		ok(t, s.DeleteCluster(ctx, "alpha"))
		_, err := s.GetCluster(ctx, "alpha")
		wantCode(t, err, provisioner.ENOTFOUND)
		if _, err := s.GetCluster(ctx, "beta"); err != nil {
			t.Fatalf("deleting alpha lost beta: %v", err)
		}
		ok(t, s.DeleteCluster(ctx, "alpha")) // again: idempotent
	})
	t.Run("DeleteMissing", func(t *testing.T) {
		s := fresh(t, open)
		ok(t, s.DeleteCluster(t.Context(), "never-was"))
	})
	t.Run("ListOrder", func(t *testing.T) {
		s, ctx := fresh(t, open), t.Context()
		all, err := s.ListClusters(ctx)
		ok(t, err)
		if len(all) != 0 {
			t.Fatalf("new store lists %d clusters", len(all))
		}
		names := []string{"b2", "a10", "a2", "zz", "a1", "m-x", "m0", "0a"}
		for _, i := range rand.Perm(len(names)) {
			ok(t, s.PutCluster(ctx, cluster(names[i], i%2 == 0, 0)))
		}
		all, err = s.ListClusters(ctx)
		ok(t, err)
		var got []string
		for _, c := range all {
			got = append(got, c.Name)
		}
		slices.Sort(names)
		if !slices.Equal(got, names) {
			t.Fatalf("ListClusters order = %v, want %v", got, names)
		}
	})
	t.Run("Times", func(t *testing.T) { testClusterTimes(t, open) })
}

// testClusterTimes checks that times come back equal, in UTC, whatever zone
// they went in with, with at least millisecond precision; zero stays zero.
func testClusterTimes(t *testing.T, open func(t *testing.T) provisioner.Store) {
	s, ctx := fresh(t, open), t.Context()
	zone := time.FixedZone("UTC-7", -7*3600)
	exact := provisioner.Cluster{Name: "ms", CreatedAt: base.Add(1234 * time.Millisecond).In(zone), UpdatedAt: base.AddDate(1, 0, 0)}
	fine := provisioner.Cluster{Name: "ns", CreatedAt: base.Add(123456789), UpdatedAt: base.Add(time.Nanosecond)}
	zero := provisioner.Cluster{Name: "zero"}
	for _, c := range []provisioner.Cluster{exact, fine, zero} {
		ok(t, s.PutCluster(ctx, c))
	}
	for _, want := range []provisioner.Cluster{exact, zero} {
		got, err := s.GetCluster(ctx, want.Name)
		ok(t, err)
		wantCluster(t, got, want)
	}
	got, err := s.GetCluster(ctx, "ns")
	ok(t, err)
	for _, p := range [][2]time.Time{{got.CreatedAt, fine.CreatedAt}, {got.UpdatedAt, fine.UpdatedAt}} {
		if d := p[0].Sub(p[1]).Abs(); d >= time.Millisecond {
			t.Errorf("time %v came back as %v: off by %v", p[1], p[0], d)
		}
	}
}

func cluster(name string, public bool, age time.Duration) provisioner.Cluster {
	return provisioner.Cluster{
		Name:      name,
		IsPublic:  public,
		CreatedBy: "alice",
		CreatedAt: base,
		UpdatedAt: base.Add(age),
	}
}

// wantCluster compares with time.Equal and requires times in UTC, so
// callers can format them without converting.
func wantCluster(t testing.TB, got, want provisioner.Cluster) {
	t.Helper()
	if got.Name != want.Name || got.IsPublic != want.IsPublic || got.CreatedBy != want.CreatedBy ||
		!got.CreatedAt.Equal(want.CreatedAt) || !got.UpdatedAt.Equal(want.UpdatedAt) {
		t.Fatalf("cluster = %+v, want %+v", got, want)
	}
	wantUTC(t, got.CreatedAt)
	wantUTC(t, got.UpdatedAt)
}

func wantUTC(t testing.TB, tm time.Time) {
	t.Helper()
	if tm.Location() != time.UTC {
		t.Fatalf("time %v is in %v, want UTC", tm, tm.Location())
	}
}
