package sqlite

import (
	"testing"
	"time"

	"provisioner"
)

func TestUsage(t *testing.T) {
	db := openTemp(t)
	defer db.Close()
	ctx := t.Context()
	at := func(h int) time.Time { return time.Date(2026, 3, 1, h, 0, 0, 0, time.UTC) }
	a := provisioner.Usage{Key: "demo", Cluster: "demo", Owner: "ann", Team: "dev", Nodes: 2, Hourly: 0.772723, Start: at(1)}
	if err := db.StartUsage(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := db.StartUsage(ctx, a); err != nil { // the same stretch again: no-op
		t.Fatal(err)
	}
	g := provisioner.Usage{Key: "demo/bob", Cluster: "demo", Owner: "bob", Team: "dev", Group: true, Nodes: 1, Start: at(2)}
	if err := db.StartUsage(ctx, g); err != nil {
		t.Fatal(err)
	}
	// A redeploy opens a new stretch and ends the open one there.
	a2 := a
	a2.Start, a2.Nodes = at(5), 3
	if err := db.StartUsage(ctx, a2); err != nil {
		t.Fatal(err)
	}
	if err := db.EndUsage(ctx, "demo/bob", at(4)); err != nil {
		t.Fatal(err)
	}
	if err := db.EndUsage(ctx, "demo/bob", at(9)); err != nil { // nothing open: no change
		t.Fatal(err)
	}
	if err := db.EndUsage(ctx, "absent", at(9)); err != nil {
		t.Fatal(err)
	}
	all, err := db.ListUsage(ctx, at(0), at(12))
	if err != nil {
		t.Fatal(err)
	}
	want := []provisioner.Usage{
		{Key: "demo", Cluster: "demo", Owner: "ann", Team: "dev", Nodes: 2, Hourly: 0.772723, Start: at(1), End: at(5)},
		{Key: "demo/bob", Cluster: "demo", Owner: "bob", Team: "dev", Group: true, Nodes: 1, Start: at(2), End: at(4)},
		{Key: "demo", Cluster: "demo", Owner: "ann", Team: "dev", Nodes: 3, Hourly: 0.772723, Start: at(5)},
	}
	if len(all) != len(want) {
		t.Fatalf("usage = %+v", all)
	}
	for i := range want {
		if all[i] != want[i] {
			t.Errorf("%d = %+v, want %+v", i, all[i], want[i])
		}
	}
	// Overlap: [4, 5) holds only the first stretch (the group ended at 4).
	some, err := db.ListUsage(ctx, at(4), at(5))
	if err != nil || len(some) != 1 || some[0].Start != at(1) {
		t.Errorf("window 4-5: %+v %v", some, err)
	}
	// After 5: the open stretch only.
	some, err = db.ListUsage(ctx, at(6), at(7))
	if err != nil || len(some) != 1 || !some[0].End.IsZero() {
		t.Errorf("window 6-7: %+v %v", some, err)
	}
	for _, bad := range []provisioner.Usage{{Start: at(1)}, {Key: "x"}, {Key: "x", Start: at(1), Nodes: -1}, {Key: "x", Start: at(1), Hourly: -0.1}} {
		if err := db.StartUsage(ctx, bad); provisioner.ErrorCode(err) != provisioner.EINVALID {
			t.Errorf("%+v: %v", bad, err)
		}
	}
}
