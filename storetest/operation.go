package storetest

import (
	"testing"
	"time"

	"provisioner"
	"provisioner/testkit"
)

func testOperations(t *testing.T, open func(t *testing.T) provisioner.Store) {
	t.Run("PutGet", func(t *testing.T) {
		s, ctx := fresh(t, open), t.Context()
		zone := time.FixedZone("UTC+2", 2*3600)
		want := operation("op-1")
		want.CreatedAt = want.CreatedAt.In(zone)
		ok(t, s.PutOperation(ctx, want))
		ok(t, s.PutOperation(ctx, operation("op-2")))
		got, err := s.GetOperation(ctx, "op-1")
		ok(t, err)
		wantOperation(t, got, want)
	})
	t.Run("Replace", func(t *testing.T) {
		s, ctx := fresh(t, open), t.Context()
		op := operation("op-1")
		ok(t, s.PutOperation(ctx, op))
		op.State = provisioner.OpFailure
		op.ErrorCode = provisioner.EFAILED
		op.Message = "cluster alpha did not reach running within 10m0s"
		op.UpdatedAt = op.UpdatedAt.Add(10 * time.Minute)
		ok(t, s.PutOperation(ctx, op))
		got, err := s.GetOperation(ctx, "op-1")
		ok(t, err)
		wantOperation(t, got, op)
		if !got.Done() {
			t.Fatalf("failed operation is not done: %+v", got)
		}
	})
	t.Run("ZeroTimes", func(t *testing.T) {
		s, ctx := fresh(t, open), t.Context()
		op := provisioner.Operation{ID: "bare", Kind: "destroy", Cluster: "alpha", State: provisioner.OpPending}
		ok(t, s.PutOperation(ctx, op))
		got, err := s.GetOperation(ctx, "bare")
		ok(t, err)
		wantOperation(t, got, op)
		if !got.Deadline.IsZero() || !got.CreatedAt.IsZero() {
			t.Fatalf("zero times came back as %v, %v", got.CreatedAt, got.Deadline)
		}
	})
	t.Run("GetMissing", func(t *testing.T) {
		s := fresh(t, open)
		_, err := s.GetOperation(t.Context(), "nope")
		testkit.WantCode(t, err, provisioner.ENOTFOUND)
	})
	t.Run("EmptyID", func(t *testing.T) {
		s := fresh(t, open)
		testkit.WantCode(t, s.PutOperation(t.Context(), operation("")), provisioner.EINVALID)
	})
}

func operation(id string) provisioner.Operation {
	return provisioner.Operation{
		ID:        id,
		Kind:      "deploy",
		Cluster:   "alpha",
		State:     provisioner.OpPending,
		ErrorCode: "",
		Message:   "",
		CreatedBy: "alice",
		CreatedAt: base,
		UpdatedAt: base.Add(time.Second),
		Deadline:  base.Add(10 * time.Minute),
	}
}

func wantOperation(t testing.TB, got, want provisioner.Operation) {
	t.Helper()
	wantSame(t, "operation", got, want, func(o *provisioner.Operation) []*time.Time {
		return []*time.Time{&o.CreatedAt, &o.UpdatedAt, &o.Deadline}
	})
}
