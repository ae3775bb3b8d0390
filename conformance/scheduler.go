package conformance

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"provisioner"
)

// ReadableScheduler is a Scheduler whose schedules can be read back: the
// embedded one (sqlite) and EventBridge's (aws/scheduler) both can.
type ReadableScheduler interface {
	provisioner.Scheduler
	// Get returns key's schedule (At: the destroy time asked for), or
	// ENOTFOUND.
	Get(ctx context.Context, key string) (provisioner.Schedule, error)
}

// Scheduler runs the Scheduler contract on schedulers newScheduler makes,
// each with no schedules. Firing is not part of it: the embedded scheduler
// fires in process, EventBridge's invokes the Lambda (which the emulator
// never does), so each has its own firing tests.
func Scheduler(t *testing.T, newScheduler func(t *testing.T) ReadableScheduler) {
	ctx := context.Background()
	// Whole minutes an hour or more ahead: every backend keeps them exactly.
	base := time.Now().UTC().Truncate(time.Minute).Add(2 * time.Hour)

	pending := func(t *testing.T, s ReadableScheduler, key string, want time.Time) {
		t.Helper()
		sc, err := s.Get(ctx, key)
		if err != nil {
			t.Fatalf("Get(%q): %v", key, err)
		}
		if !sc.At.Equal(want) {
			t.Errorf("%q is due at %v, want %v", key, sc.At, want)
		}
	}
	absent := func(t *testing.T, s ReadableScheduler, key string) {
		t.Helper()
		if sc, err := s.Get(ctx, key); provisioner.ErrorCode(err) != provisioner.ENOTFOUND {
			t.Errorf("Get(%q) = %+v, %v; want %s", key, sc, err, provisioner.ENOTFOUND)
		}
	}

	t.Run("SetCreates", func(t *testing.T) {
		s := newScheduler(t)
		absent(t, s, "alpha")
		if err := s.SetDestroy(ctx, "alpha", base); err != nil {
			t.Fatal(err)
		}
		pending(t, s, "alpha", base)
	})
	t.Run("SetReplaces", func(t *testing.T) {
		s := newScheduler(t)
		for _, at := range []time.Time{base, base.Add(3 * time.Hour), base.Add(time.Hour), base.Add(time.Hour)} {
			if err := s.SetDestroy(ctx, "beta", at); err != nil {
				t.Fatal(err)
			}
			pending(t, s, "beta", at)
		}
	})
	t.Run("Remove", func(t *testing.T) {
		s := newScheduler(t)
		if err := s.SetDestroy(ctx, "gamma", base); err != nil {
			t.Fatal(err)
		}
		for range 2 { // removing an absent schedule is not an error
			if err := s.RemoveDestroy(ctx, "gamma"); err != nil {
				t.Fatal(err)
			}
			absent(t, s, "gamma")
		}
		if err := s.RemoveDestroy(ctx, "never-set"); err != nil {
			t.Errorf("RemoveDestroy of a key never set: %v", err)
		}
	})
	t.Run("GroupKeysApart", func(t *testing.T) {
		// A node group's schedule never touches its cluster's, nor another
		// user's group on the same cluster.
		s := newScheduler(t)
		cluster, ada, bob := "delta", provisioner.GroupKey("delta", "ada"), provisioner.GroupKey("delta", "bob")
		for i, k := range []string{cluster, ada, bob} {
			if err := s.SetDestroy(ctx, k, base.Add(time.Duration(i)*time.Hour)); err != nil {
				t.Fatalf("SetDestroy(%q): %v", k, err)
			}
		}
		if err := s.RemoveDestroy(ctx, ada); err != nil {
			t.Fatal(err)
		}
		absent(t, s, ada)
		pending(t, s, cluster, base)
		pending(t, s, bob, base.Add(2*time.Hour))
		if err := s.RemoveDestroy(ctx, cluster); err != nil {
			t.Fatal(err)
		}
		pending(t, s, bob, base.Add(2*time.Hour))
	})
	t.Run("NoticeKeysApart", func(t *testing.T) {
		// A notice's schedule sits beside its cluster's destroy and its
		// other notices: setting or removing one touches no other.
		s := newScheduler(t)
		cluster := "theta"
		hour, tenMin := provisioner.NoticeKey(cluster, time.Hour), provisioner.NoticeKey(cluster, 10*time.Minute)
		for i, k := range []string{cluster, hour, tenMin, provisioner.NoticeKey("theta-2", time.Hour)} {
			if err := s.SetDestroy(ctx, k, base.Add(time.Duration(i)*time.Hour)); err != nil {
				t.Fatalf("SetDestroy(%q): %v", k, err)
			}
		}
		if err := s.RemoveDestroy(ctx, hour); err != nil {
			t.Fatal(err)
		}
		absent(t, s, hour)
		pending(t, s, cluster, base)
		pending(t, s, tenMin, base.Add(2*time.Hour))
		pending(t, s, provisioner.NoticeKey("theta-2", time.Hour), base.Add(3*time.Hour))
		if err := s.RemoveDestroy(ctx, cluster); err != nil {
			t.Fatal(err)
		}
		pending(t, s, tenMin, base.Add(2*time.Hour))
	})
	t.Run("PrefixNamesApart", func(t *testing.T) {
		// "ab" and "ab-c" are different clusters, whatever the backend's names.
		s := newScheduler(t)
		if err := s.SetDestroy(ctx, "ab", base); err != nil {
			t.Fatal(err)
		}
		if err := s.SetDestroy(ctx, "ab-c", base.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := s.RemoveDestroy(ctx, "ab-c"); err != nil {
			t.Fatal(err)
		}
		pending(t, s, "ab", base)
	})
	t.Run("PastTimeAccepted", func(t *testing.T) {
		// A destroy time already past is due now, not refused: the app sets
		// one when a restart finds a cluster past its time.
		s := newScheduler(t)
		past := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
		if err := s.SetDestroy(ctx, "epsilon", past); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, "epsilon"); err != nil && provisioner.ErrorCode(err) != provisioner.ENOTFOUND {
			// The embedded scheduler may already have fired and removed it.
			t.Fatal(err)
		}
	})
	t.Run("BadKeysRefused", func(t *testing.T) {
		s := newScheduler(t)
		for _, key := range []string{"", "UPPER", "a b", "../x", "x/", "/ada", "x/../../y", "alpha/bad user", "alpha\n",
			"alpha@notice-0m", "alpha@notice-m", "alpha@notice-60", "alpha@notice-060m", "Alpha@notice-60m", "alpha/ada@notice-60m",
			"alpha@notice-60m/ada", "alpha@other-60m"} {
			if err := s.SetDestroy(ctx, key, base); provisioner.ErrorCode(err) != provisioner.EINVALID {
				t.Errorf("SetDestroy(%q) = %v, want %s", key, err, provisioner.EINVALID)
			}
			if err := s.RemoveDestroy(ctx, key); provisioner.ErrorCode(err) != provisioner.EINVALID {
				t.Errorf("RemoveDestroy(%q) = %v, want %s", key, err, provisioner.EINVALID)
			}
		}
		if err := s.SetDestroy(ctx, "zeta", time.Time{}); provisioner.ErrorCode(err) != provisioner.EINVALID {
			t.Errorf("SetDestroy at the zero time = %v, want %s", err, provisioner.EINVALID)
		}
		absent(t, s, "zeta")
	})
	t.Run("Concurrent", func(t *testing.T) {
		// Many clusters set and replaced at once: each ends with its last time.
		s := newScheduler(t)
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for i := range 8 {
			wg.Go(func() {
				key := fmt.Sprintf("c%d", i)
				for j := range 2 {
					if err := s.SetDestroy(ctx, key, base.Add(time.Duration(i*10+j)*time.Minute)); err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		for i := range 8 {
			pending(t, s, fmt.Sprintf("c%d", i), base.Add(time.Duration(i*10+1)*time.Minute))
		}
	})
}
