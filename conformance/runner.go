package conformance

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"provisioner"
)

// Runner is a JobRunner with what the suite needs to use it.
type Runner struct {
	Runner provisioner.JobRunner
	// Job returns a new job (a fresh ID) that runs until cancelled or lost.
	Job func() provisioner.Job
	// Lose makes the machine of a started job vanish without a word (a
	// spot interruption, a killed process); nil when the backend cannot.
	Lose func(t *testing.T, j provisioner.Job)
	// Timeout bounds how long a job takes to show a change.
	Timeout time.Duration
}

// JobRunner runs the JobRunner contract: Start is idempotent per job ID,
// Cancel ends a job and is idempotent, a lost machine is reported as an
// error, and bad input never reaches a machine.
func JobRunner(t *testing.T, newRunner func(t *testing.T) Runner) {
	ctx := context.Background()
	until := func(t *testing.T, r Runner, j provisioner.Job, want provisioner.JobState) provisioner.JobStatus {
		t.Helper()
		deadline := time.Now().Add(r.Timeout)
		for {
			st, err := r.Runner.Poll(ctx, j)
			if err != nil {
				t.Fatalf("Poll(%s): %v", j.ID, err)
			}
			if st.State == want {
				return st
			}
			if st.State.Final() || time.Now().After(deadline) {
				t.Fatalf("job %s is %s (%s), want %s", j.ID, st.State, st.Reason, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	start := func(t *testing.T, r Runner, j provisioner.Job) provisioner.Job {
		t.Helper()
		inst, err := r.Runner.Start(ctx, j)
		if err != nil {
			t.Fatalf("Start(%s): %v", j.ID, err)
		}
		t.Cleanup(func() { _ = r.Runner.Cancel(context.Background(), j) })
		j.Instance = inst
		return j
	}

	t.Run("StartIdempotent", func(t *testing.T) {
		r := newRunner(t)
		j := r.Job()
		var wg sync.WaitGroup
		insts := make([]string, 4)
		errs := make([]error, 4)
		for i := range insts {
			wg.Go(func() { insts[i], errs[i] = r.Runner.Start(ctx, j) })
		}
		wg.Wait()
		t.Cleanup(func() { _ = r.Runner.Cancel(context.Background(), j) })
		for i := range insts {
			if errs[i] != nil || insts[i] == "" || insts[i] != insts[0] {
				t.Fatalf("Start %d: %q, %v (first %q)", i, insts[i], errs[i], insts[0])
			}
		}
		j.Instance = insts[0]
		until(t, r, j, provisioner.JobRunning)
	})
	t.Run("Cancel", func(t *testing.T) {
		r := newRunner(t)
		j := start(t, r, r.Job())
		until(t, r, j, provisioner.JobRunning)
		for range 2 {
			if err := r.Runner.Cancel(ctx, j); err != nil {
				t.Fatalf("Cancel: %v", err)
			}
		}
		until(t, r, j, provisioner.JobCancelled)
		if err := r.Runner.Cancel(ctx, j); err != nil {
			t.Errorf("Cancel of a cancelled job: %v", err)
		}
		// A cancelled job never runs again, whoever retries its Start.
		if _, err := r.Runner.Start(ctx, j); err != nil {
			t.Fatalf("Start of a cancelled job: %v", err)
		}
		if st, err := r.Runner.Poll(ctx, j); err != nil || st.State != provisioner.JobCancelled {
			t.Errorf("after a late Start: %+v, %v; want cancelled", st, err)
		}
	})
	t.Run("CancelNeverStarted", func(t *testing.T) {
		r := newRunner(t)
		if err := r.Runner.Cancel(ctx, r.Job()); err != nil {
			t.Errorf("Cancel of a job never started: %v", err)
		}
	})
	t.Run("PollNeverStarted", func(t *testing.T) {
		// Nothing is known of it: not found, an error, or still
		// provisioning (a Start may be in flight elsewhere); never running
		// or ended by steps.
		r := newRunner(t)
		st, err := r.Runner.Poll(ctx, r.Job())
		if err == nil && st.State != provisioner.JobError && st.State != provisioner.JobProvisioning {
			t.Errorf("Poll of a job never started: %+v", st)
		}
		if err != nil && provisioner.ErrorCode(err) != provisioner.ENOTFOUND {
			t.Errorf("Poll of a job never started: %v", err)
		}
	})
	t.Run("Lost", func(t *testing.T) {
		r := newRunner(t)
		if r.Lose == nil {
			t.Skip("the backend cannot lose a machine on purpose")
		}
		j := start(t, r, r.Job())
		until(t, r, j, provisioner.JobRunning)
		r.Lose(t, j)
		if st := until(t, r, j, provisioner.JobError); st.Reason == "" {
			t.Error("a lost job has no reason")
		}
	})
	t.Run("BadInputRefused", func(t *testing.T) {
		r := newRunner(t)
		for what, edit := range map[string]func(*provisioner.Job){
			"option version": func(j *provisioner.Job) { j.Version = "--upload-pack=touch /tmp/pwned" },
			"shell version":  func(j *provisioner.Job) { j.Version = "$(id)" },
			"path version":   func(j *provisioner.Job) { j.Version = "../" },
			"long version":   func(j *provisioner.Job) { j.Version = strings.Repeat("v", 300) },
			"shell cluster":  func(j *provisioner.Job) { j.Cluster = "x;y" },
			"path id":        func(j *provisioner.Job) { j.ID = "../../etc" },
			"empty id":       func(j *provisioner.Job) { j.ID = "" },
		} {
			j := r.Job()
			edit(&j)
			if _, err := r.Runner.Start(ctx, j); provisioner.ErrorCode(err) != provisioner.EINVALID {
				t.Errorf("%s: Start = %v, want %s", what, err, provisioner.EINVALID)
			}
		}
		j := r.Job()
		j.ID = "../../etc"
		if _, err := r.Runner.Poll(ctx, j); provisioner.ErrorCode(err) != provisioner.EINVALID {
			t.Errorf("Poll with a bad id: %v, want %s", err, provisioner.EINVALID)
		}
	})
}
