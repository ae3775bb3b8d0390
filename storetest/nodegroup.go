package storetest

import (
	"testing"
	"time"

	"provisioner"
	"provisioner/testkit"
)

func group(cluster, user string) provisioner.NodeGroup {
	return provisioner.NodeGroup{
		Cluster: cluster,
		User:    user,
		Deployment: provisioner.Deployment{
			State:        provisioner.StateDeploying,
			NodeCapacity: 2,
			CreatedBy:    user,
			CreatedAt:    base,
			UpdatedAt:    base.Add(time.Millisecond),
			ExpiresAt:    base.Add(time.Hour),
			Operation:    "op-" + user,
			Reason:       "why",
		},
	}
}

func wantGroup(t *testing.T, got, want provisioner.NodeGroup) {
	t.Helper()
	got.Revision, want.Revision = 0, 0
	wantSame(t, "node group", got, want, func(g *provisioner.NodeGroup) []*time.Time { return deploymentTimes(&g.Deployment) })
}

func testNodeGroups(t *testing.T, open func(t *testing.T) provisioner.Store) {
	t.Run("PutGetList", func(t *testing.T) {
		s, ctx := fresh(t, open), t.Context()
		a := group("alpha", "alice")
		a.DestroyAt = base.Add(30 * time.Minute)
		rev, err := s.PutNodeGroup(ctx, a)
		ok(t, err)
		if rev <= 0 {
			t.Fatalf("revision %d, want > 0", rev)
		}
		got, err := s.GetNodeGroup(ctx, "alpha", "alice")
		ok(t, err)
		wantGroup(t, got, a)
		if got.Revision != rev {
			t.Fatalf("revision = %d, want %d", got.Revision, rev)
		}
		b := group("alpha", "bob")
		b.ExpiresAt = time.Time{} // zero stays zero
		c := group("beta", "alice")
		for _, g := range []provisioner.NodeGroup{c, b} {
			_, err := s.PutNodeGroup(ctx, g)
			ok(t, err)
		}
		all, err := s.ListNodeGroups(ctx, "")
		ok(t, err)
		if len(all) != 3 || all[0].User != "alice" || all[1].User != "bob" || all[2].Cluster != "beta" {
			t.Fatalf("ListNodeGroups = %+v, want alpha/alice, alpha/bob, beta/alice", all)
		}
		wantGroup(t, all[1], b)
		of, err := s.ListNodeGroups(ctx, "alpha")
		ok(t, err)
		if len(of) != 2 {
			t.Fatalf("ListNodeGroups(alpha) = %+v, want 2", of)
		}
		none, err := s.ListNodeGroups(ctx, "gamma")
		ok(t, err)
		if none == nil || len(none) != 0 {
			t.Fatalf("ListNodeGroups(gamma) = %#v, want an empty list", none)
		}
		// A group is not a cluster.
		clusters, err := s.ListClusters(ctx)
		ok(t, err)
		if len(clusters) != 0 {
			t.Fatalf("ListClusters = %+v, want none", clusters)
		}
	})
	t.Run("Missing", func(t *testing.T) {
		s, ctx := fresh(t, open), t.Context()
		_, err := s.GetNodeGroup(ctx, "alpha", "alice")
		testkit.WantCode(t, err, provisioner.ENOTFOUND)
		ok(t, s.DeleteNodeGroup(ctx, "alpha", "alice", 3))
		_, err = s.PutNodeGroup(ctx, group("", "alice"))
		testkit.WantCode(t, err, provisioner.EINVALID)
		_, err = s.PutNodeGroup(ctx, group("alpha", ""))
		testkit.WantCode(t, err, provisioner.EINVALID)
	})
	t.Run("CompareAndSwap", func(t *testing.T) {
		s, ctx := fresh(t, open), t.Context()
		g := group("alpha", "alice")
		rev, err := s.PutNodeGroup(ctx, g)
		ok(t, err)
		_, err = s.PutNodeGroup(ctx, g) // revision 0: only if absent
		testkit.WantCode(t, err, provisioner.ECONFLICT)
		g.Revision, g.State = rev, provisioner.StateRunning
		rev2, err := s.PutNodeGroup(ctx, g)
		ok(t, err)
		if rev2 <= rev {
			t.Fatalf("new revision %d, want > %d", rev2, rev)
		}
		g.State = provisioner.StateFailed // stale revision
		_, err = s.PutNodeGroup(ctx, g)
		testkit.WantCode(t, err, provisioner.ECONFLICT)
		testkit.WantCode(t, s.DeleteNodeGroup(ctx, "alpha", "alice", rev), provisioner.ECONFLICT)
		ok(t, s.DeleteNodeGroup(ctx, "alpha", "alice", rev2))
		_, err = s.GetNodeGroup(ctx, "alpha", "alice")
		testkit.WantCode(t, err, provisioner.ENOTFOUND)
		// A revision read before the delete never matches the next record.
		g.Revision = 0
		rev3, err := s.PutNodeGroup(ctx, g)
		ok(t, err)
		if rev3 == rev || rev3 == rev2 {
			t.Fatalf("revision %d repeats an earlier one (%d, %d)", rev3, rev, rev2)
		}
		g.Revision = rev2
		_, err = s.PutNodeGroup(ctx, g)
		testkit.WantCode(t, err, provisioner.ECONFLICT)
		list, err := s.ListNodeGroups(ctx, "")
		ok(t, err)
		if len(list) != 1 {
			t.Fatalf("ListNodeGroups = %+v, want 1", list)
		}
	})
}
