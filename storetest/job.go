package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"provisioner"
	"provisioner/testkit"
)

func testJobs(t *testing.T, open func(t *testing.T) provisioner.Store) {
	ctx := context.Background()
	t.Run("RoundTripAndCAS", func(t *testing.T) {
		s := fresh(t, open)
		j := provisioner.Job{ID: "j1", Kind: provisioner.JobTest, Cluster: "c1", Version: "v1.2.3", RequestedBy: "ada",
			State: provisioner.JobQueued, LogKey: "jobs/j1/log", CreatedAt: base, Deadline: base.Add(time.Hour)}
		rev, err := s.PutJob(ctx, j)
		ok(t, err)
		_, err = s.PutJob(ctx, j)
		testkit.WantCode(t, err, provisioner.ECONFLICT)
		got, err := s.GetJob(ctx, "j1")
		ok(t, err)
		if got.Revision != rev || got.Cluster != "c1" || got.State != provisioner.JobQueued || !got.Deadline.Equal(j.Deadline) ||
			!got.StartedAt.IsZero() || len(got.Steps) != 0 {
			t.Fatalf("got %+v", got)
		}
		got.State, got.StartedAt, got.FinishedAt, got.Instance = provisioner.JobFailed, base.Add(time.Minute), base.Add(2*time.Minute), "i-123"
		got.Commit = "0123456789abcdef0123456789abcdef01234567"
		got.Steps = []provisioner.StepResult{{Name: "clone", Status: "passed", Duration: 1500 * time.Millisecond},
			{Name: "pytest", Status: "failed", ExitCode: 1, Tests: 10, Failures: 2, Errors: 1, Skipped: 3,
				FailedTests: []string{"tests.test_a.test_x", "tests.test_b.test_ÿ"}, FailedTruncated: true}}
		rev2, err := s.PutJob(ctx, got)
		ok(t, err)
		if rev2 <= rev {
			t.Fatalf("revision did not grow: %d -> %d", rev, rev2)
		}
		_, err = s.PutJob(ctx, got) // stale revision
		testkit.WantCode(t, err, provisioner.ECONFLICT)
		again, err := s.GetJob(ctx, "j1")
		ok(t, err)
		if again.State != provisioner.JobFailed || len(again.Steps) != 2 || again.Steps[1].Failures != 2 ||
			again.Steps[0].Duration != 1500*time.Millisecond || again.Instance != "i-123" || !again.FinishedAt.Equal(base.Add(2*time.Minute)) ||
			again.Commit != got.Commit || !slices.Equal(again.Steps[1].FailedTests, got.Steps[1].FailedTests) ||
			!again.Steps[1].FailedTruncated || again.Steps[0].FailedTests != nil {
			t.Fatalf("got %+v", again)
		}
		_, err = s.GetJob(ctx, "nope")
		testkit.WantCode(t, err, provisioner.ENOTFOUND)
		_, err = s.PutJob(ctx, provisioner.Job{})
		testkit.WantCode(t, err, provisioner.EINVALID)
	})
	t.Run("List", func(t *testing.T) {
		s := fresh(t, open)
		for i := 0; i < 5; i++ {
			st := provisioner.JobPassed
			if i%2 == 1 {
				st = provisioner.JobRunning
			}
			_, err := s.PutJob(ctx, provisioner.Job{ID: fmt.Sprintf("j%d", i), Kind: provisioner.JobTest, Cluster: fmt.Sprintf("c%d", i%2),
				Version: "v1", State: st, CreatedAt: base.Add(time.Duration(i) * time.Minute)})
			ok(t, err)
		}
		all, err := s.ListJobs(ctx, provisioner.JobFilter{})
		ok(t, err)
		if len(all) != 5 || all[0].ID != "j4" || all[4].ID != "j0" {
			t.Fatalf("newest first: %v", jobIDs(all))
		}
		c1, err := s.ListJobs(ctx, provisioner.JobFilter{Cluster: "c1"})
		ok(t, err)
		running, err := s.ListJobs(ctx, provisioner.JobFilter{State: provisioner.JobRunning, Limit: 1})
		ok(t, err)
		if len(c1) != 2 || len(running) != 1 || running[0].ID != "j3" {
			t.Fatalf("filters: %v %v", jobIDs(c1), jobIDs(running))
		}
		_, err = s.ListJobs(ctx, provisioner.JobFilter{Limit: -1})
		testkit.WantCode(t, err, provisioner.EINVALID)
	})
	t.Run("ListByKindAndVersion", func(t *testing.T) {
		s := fresh(t, open)
		// j0..j9: TESTs of main and of v2, and RELEASEs of main, mixed.
		for i := range 10 {
			kind, version := provisioner.JobTest, "main"
			switch i % 3 {
			case 1:
				version = "v2"
			case 2:
				kind = provisioner.JobRelease
			}
			_, err := s.PutJob(ctx, provisioner.Job{ID: fmt.Sprintf("j%d", i), Kind: kind, Cluster: "c",
				Version: version, State: provisioner.JobPassed, CreatedAt: base.Add(time.Duration(i) * time.Minute)})
			ok(t, err)
		}
		main, err := s.ListJobs(ctx, provisioner.JobFilter{Kind: provisioner.JobTest, Version: "main"})
		ok(t, err)
		if got := jobIDs(main); !slices.Equal(got, []string{"j9", "j6", "j3", "j0"}) {
			t.Fatalf("TESTs of main: %v", got)
		}
		two, err := s.ListJobs(ctx, provisioner.JobFilter{Kind: provisioner.JobTest, Version: "main", Limit: 2})
		ok(t, err)
		releases, err := s.ListJobs(ctx, provisioner.JobFilter{Kind: provisioner.JobRelease})
		ok(t, err)
		if !slices.Equal(jobIDs(two), []string{"j9", "j6"}) || !slices.Equal(jobIDs(releases), []string{"j8", "j5", "j2"}) {
			t.Fatalf("limit: %v; releases: %v", jobIDs(two), jobIDs(releases))
		}
	})
}

func jobIDs(js []provisioner.Job) []string {
	return ids(js, func(j provisioner.Job) string { return j.ID })
}
