package app

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"provisioner"
)

// jobGrace is how long past its deadline a job's machine may take to end
// the job itself (kill its steps, report, upload) before the provisioner
// stops it.
const jobGrace = 10 * time.Minute

type jobsConfig struct {
	runner  provisioner.JobRunner
	logs    provisioner.LogStore
	timeout time.Duration
	reap    func(ctx context.Context) error
	// testCluster is the cluster a TEST runs against when the request
	// names none (production's POST /test {branch}).
	testCluster string
}

// DefaultTestBranch is the branch a TEST or a test report names when the
// request names none, as production's.
const DefaultTestBranch = "main"

// TestRequest is TEST as production's workflows and CLI ask for it: a
// branch (or version) and, for ours, a cluster; empty fields take the
// configured defaults (branch main, the configured test cluster).
type TestRequest struct {
	Cluster string
	Version string // a branch, tag or commit; empty means Branch
	Branch  string // production's name for Version
}

// StartTest starts a TEST with the defaults filled in.
func (a *App) StartTest(ctx context.Context, c Caller, r TestRequest) (provisioner.Job, error) {
	if r.Version != "" && r.Branch != "" && r.Version != r.Branch {
		return provisioner.Job{}, provisioner.Errorf(provisioner.EINVALID, "version %q and branch %q disagree: name one", r.Version, r.Branch)
	}
	version := r.Version
	if version == "" {
		version = r.Branch
	}
	if version == "" {
		version = DefaultTestBranch
	}
	cluster := r.Cluster
	if cluster == "" {
		cluster = a.jobs.testCluster
	}
	if cluster == "" && a.jobs.runner != nil {
		return provisioner.Job{}, provisioner.Errorf(provisioner.EINVALID, "name the cluster to test: this provisioner has no default test cluster")
	}
	return a.StartJob(ctx, c, provisioner.JobTest, cluster, version)
}

// TestReport is the latest finished TEST of a branch, production's
// /report/tests.
type TestReport struct {
	Branch string
	Job    provisioner.Job
}

// testBranch checks a read of TEST results, which organization members
// may make, and its branch (default main).
func testBranch(c Caller, branch, what string) (string, error) {
	if err := requireLevel(c.User, provisioner.LevelOrgMember, what); err != nil {
		return "", err
	}
	if branch == "" {
		branch = DefaultTestBranch
	}
	return branch, provisioner.ValidateVersion(branch)
}

// LatestTest returns the latest finished TEST whose version is branch
// (default main); a cancelled TEST is no result and is passed over.
// Organization members may read it, as production's members.
func (a *App) LatestTest(ctx context.Context, c Caller, branch string) (TestReport, error) {
	branch, err := testBranch(c, branch, "the test report")
	if err != nil {
		return TestReport{}, err
	}
	jobs, err := a.store.ListJobs(ctx, provisioner.JobFilter{Kind: provisioner.JobTest, Version: branch, Limit: 1000})
	if err != nil {
		return TestReport{}, err
	}
	for _, j := range jobs { // newest first
		if j.Kind == provisioner.JobTest && j.Version == branch && j.State.Final() && j.State != provisioner.JobCancelled {
			return TestReport{Branch: branch, Job: j}, nil
		}
	}
	return TestReport{}, provisioner.Errorf(provisioner.ENOTFOUND, "no finished TEST of %q yet", branch)
}

// StartJob is the seed's TEST or RELEASE: administrators only; the job runs
// on a machine of its own and ends passed only if every step passed.
func (a *App) StartJob(ctx context.Context, c Caller, kind provisioner.JobKind, cluster, version string) (provisioner.Job, error) {
	j, err := a.startJob(ctx, c, kind, cluster, version)
	err = a.audit(ctx, c, string(kind), cluster, err, "version="+version+" job="+j.ID)
	return j, err
}

func (a *App) startJob(ctx context.Context, c Caller, kind provisioner.JobKind, cluster, version string) (provisioner.Job, error) {
	if a.jobs.runner == nil {
		return provisioner.Job{}, provisioner.Errorf(provisioner.ENOTFOUND, "TEST and RELEASE are not enabled on this provisioner")
	}
	if kind != provisioner.JobTest && kind != provisioner.JobRelease {
		return provisioner.Job{}, provisioner.Errorf(provisioner.EINVALID, "unknown job kind %q", kind)
	}
	if err := requireLevel(c.User, provisioner.LevelAdmin, string(kind)); err != nil {
		return provisioner.Job{}, err
	}
	if err := provisioner.ValidateClusterName(cluster); err != nil {
		return provisioner.Job{}, err
	}
	if err := provisioner.ValidateVersion(version); err != nil {
		return provisioner.Job{}, err
	}
	if kind == provisioner.JobRelease {
		// RELEASE builds and pushes images tagged with the version, and
		// passes the cluster to the build target as its cluster value only
		// (the seed's RELEASE(cluster, version)): the cluster need not be
		// deployed, but the version must be a valid image tag.
		if err := provisioner.ValidateClusterVersion(version); err != nil {
			return provisioner.Job{}, err
		}
	} else if _, err := a.store.GetCluster(ctx, cluster); provisioner.ErrorCode(err) == provisioner.ENOTFOUND {
		return provisioner.Job{}, provisioner.Errorf(provisioner.ENOTFOUND, "cluster %q does not exist: deploy or register it first", cluster)
	} else if err != nil {
		return provisioner.Job{}, err
	}
	now := a.now().UTC()
	id := newID()
	j := provisioner.Job{ID: id, Kind: kind, Cluster: cluster, Version: version, RequestedBy: c.User.Login,
		State: provisioner.JobQueued, LogKey: "jobs/" + id + "/log", CreatedAt: now, Deadline: now.Add(a.jobs.timeout),
		Steps: []provisioner.StepResult{}}
	rev, err := a.store.PutJob(ctx, j)
	if err != nil {
		return j, err
	}
	j.Revision = rev
	instance, err := a.jobs.runner.Start(ctx, j)
	j, uerr := a.updateJob(ctx, j.ID, func(j *provisioner.Job) {
		if err != nil {
			j.State, j.Reason, j.FinishedAt = provisioner.JobError, "could not start: "+provisioner.ErrorMessage(err), a.now().UTC()
			return
		}
		j.State, j.Instance, j.StartedAt = provisioner.JobProvisioning, instance, a.now().UTC()
	})
	if err != nil {
		a.log.Error("job runner could not start", "job", id, "err", err)
	}
	if uerr != nil {
		return j, uerr
	}
	a.followJob(j.ID)
	return j, nil
}

// updateJob changes a job with compare-and-swap, retrying lost races.
func (a *App) updateJob(ctx context.Context, id string, change func(*provisioner.Job)) (provisioner.Job, error) {
	for i := 0; ; i++ {
		j, err := a.store.GetJob(ctx, id)
		if err != nil {
			return j, err
		}
		change(&j)
		rev, err := a.store.PutJob(ctx, j)
		if err == nil {
			j.Revision = rev
			return j, nil
		}
		if provisioner.ErrorCode(err) != provisioner.ECONFLICT || i >= maxCASRetries {
			return j, err
		}
	}
}

// advanceJob records what the runner sees of a job now, and ends a job
// well past its deadline: its machine is stopped and it is timed_out.
func (a *App) advanceJob(ctx context.Context, id string) (provisioner.Job, error) {
	unlock := a.locks.lock("job:" + id)
	defer unlock()
	j, err := a.store.GetJob(ctx, id)
	if err != nil || j.State.Final() || a.jobs.runner == nil {
		return j, err
	}
	// The runner's own result comes first: a job script ends itself at its
	// deadline with per-step detail. Only a machine that overran the
	// deadline by jobGrace is stopped from here.
	st, err := a.jobs.runner.Poll(ctx, j)
	if provisioner.ErrorCode(err) == provisioner.ENOTFOUND {
		st, err = provisioner.JobStatus{State: provisioner.JobError, Reason: "the runner lost the job: " + provisioner.ErrorMessage(err)}, nil
	}
	if err != nil {
		return j, err
	}
	if !st.State.Final() && a.now().After(j.Deadline.Add(jobGrace)) {
		if err := a.jobs.runner.Cancel(ctx, j); err != nil {
			a.log.Warn("stopping an overdue job", "job", id, "err", err)
		}
		return a.finishJob(ctx, id, provisioner.JobStatus{State: provisioner.JobTimedOut, Steps: st.Steps,
			Reason: fmt.Sprintf("not finished after %s", j.Deadline.Sub(j.CreatedAt).Round(time.Second))})
	}
	if st.State.Final() {
		return a.finishJob(ctx, id, st)
	}
	if st.State == j.State && (st.Commit == "" || st.Commit == j.Commit) && slices.EqualFunc(st.Steps, j.Steps, sameStep) {
		return j, nil
	}
	return a.updateJob(ctx, id, func(j *provisioner.Job) {
		if !j.State.Final() {
			j.State = st.State
			if st.Steps != nil {
				j.Steps = st.Steps
			}
			if st.Commit != "" {
				j.Commit = st.Commit
			}
		}
	})
}

// sameStep reports whether two step results say the same.
func sameStep(x, y provisioner.StepResult) bool {
	return x.Name == y.Name && x.Status == y.Status && x.ExitCode == y.ExitCode && x.Duration == y.Duration &&
		x.Tests == y.Tests && x.Failures == y.Failures && x.Errors == y.Errors && x.Skipped == y.Skipped &&
		slices.Equal(x.FailedTests, y.FailedTests) && x.FailedTruncated == y.FailedTruncated
}

func (a *App) finishJob(ctx context.Context, id string, st provisioner.JobStatus) (provisioner.Job, error) {
	ended := false
	j, err := a.updateJob(ctx, id, func(j *provisioner.Job) {
		if ended = !j.State.Final(); !ended {
			return
		}
		j.State, j.Reason, j.FinishedAt = st.State, st.Reason, a.now().UTC()
		if st.Steps != nil {
			j.Steps = st.Steps
		}
		if st.Commit != "" {
			j.Commit = st.Commit
		}
	})
	if err == nil {
		_ = a.audit(ctx, system, "job."+string(j.State), j.Cluster, nil, fmt.Sprintf("job=%s kind=%s version=%s %s", j.ID, j.Kind, j.Version, j.Reason))
		if ended {
			a.noticeJob(ctx, j)
		}
	}
	return j, err
}

// Job returns a job, waiting up to wait for it to end (advancing it while
// it waits, as Operation does). Administrators only.
func (a *App) Job(ctx context.Context, c Caller, id string, wait time.Duration) (provisioner.Job, error) {
	if err := requireLevel(c.User, provisioner.LevelAdmin, "job status"); err != nil {
		return provisioner.Job{}, err
	}
	if err := validJobID(id); err != nil {
		return provisioner.Job{}, err
	}
	if err := checkWait(wait); err != nil {
		return provisioner.Job{}, err
	}
	deadline := time.Now().Add(wait)
	for {
		j, err := a.advanceJob(ctx, id)
		if provisioner.ErrorCode(err) == provisioner.ENOTFOUND {
			return j, provisioner.Errorf(provisioner.ENOTFOUND, "job %q does not exist", id)
		}
		if err != nil || j.State.Final() || !time.Now().Before(deadline) || !a.pause(ctx, deadline) {
			return j, err
		}
	}
}

// CancelJob stops a job's machine; the job ends cancelled.
func (a *App) CancelJob(ctx context.Context, c Caller, id string) (provisioner.Job, error) {
	j, err := a.cancelJob(ctx, c, id)
	err = a.audit(ctx, c, "job.cancel", j.Cluster, err, "job="+id)
	return j, err
}

func (a *App) cancelJob(ctx context.Context, c Caller, id string) (provisioner.Job, error) {
	if err := requireLevel(c.User, provisioner.LevelAdmin, "cancelling a job"); err != nil {
		return provisioner.Job{}, err
	}
	if err := validJobID(id); err != nil {
		return provisioner.Job{}, err
	}
	j, err := a.store.GetJob(ctx, id)
	if provisioner.ErrorCode(err) == provisioner.ENOTFOUND {
		return j, provisioner.Errorf(provisioner.ENOTFOUND, "job %q does not exist", id)
	}
	if err != nil || j.State.Final() {
		return j, err
	}
	if err := a.jobs.runner.Cancel(ctx, j); err != nil {
		return j, err
	}
	return a.finishJob(ctx, id, provisioner.JobStatus{State: provisioner.JobCancelled, Reason: "cancelled by " + c.User.Login})
}

// ListJobs lists jobs newest first; administrators only.
func (a *App) ListJobs(ctx context.Context, c Caller, f provisioner.JobFilter) ([]provisioner.Job, error) {
	if err := requireLevel(c.User, provisioner.LevelAdmin, "listing jobs"); err != nil {
		return nil, err
	}
	if f.Limit < 0 || f.Limit > 1000 {
		return nil, provisioner.Errorf(provisioner.EINVALID, "limit must be between 1 and 1000")
	}
	return a.store.ListJobs(ctx, f)
}

// JobLog opens a job's log as it is now, from offset on; callers follow a
// running job by reading again from where they stopped.
func (a *App) JobLog(ctx context.Context, c Caller, id string, offset int64) (provisioner.Job, io.ReadCloser, error) {
	if err := requireLevel(c.User, provisioner.LevelAdmin, "job logs"); err != nil {
		return provisioner.Job{}, nil, err
	}
	if err := validJobID(id); err != nil {
		return provisioner.Job{}, nil, err
	}
	j, err := a.advanceJob(ctx, id)
	if provisioner.ErrorCode(err) == provisioner.ENOTFOUND {
		return j, nil, provisioner.Errorf(provisioner.ENOTFOUND, "job %q does not exist", id)
	} else if err != nil {
		return j, nil, err
	}
	if a.jobs.logs == nil {
		return j, nil, provisioner.Errorf(provisioner.ENOTFOUND, "this provisioner keeps no job logs")
	}
	if offset < 0 {
		return j, nil, provisioner.Errorf(provisioner.EINVALID, "offset must not be negative")
	}
	if at, ok := a.jobs.logs.(provisioner.LogStoreAt); ok {
		r, err := at.OpenAt(ctx, j.LogKey, offset)
		return j, r, err
	}
	r, err := a.jobs.logs.Open(ctx, j.LogKey)
	if err != nil {
		return j, nil, err
	}
	if _, err := io.CopyN(io.Discard, r, offset); err != nil && err != io.EOF {
		r.Close()
		return j, nil, err
	}
	return j, r, nil
}

func validJobID(id string) error {
	if len(id) != 32 {
		return provisioner.Errorf(provisioner.EINVALID, "invalid job id %q", truncateID(id))
	}
	for _, r := range id {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return provisioner.Errorf(provisioner.EINVALID, "invalid job id %q", truncateID(id))
		}
	}
	return nil
}

func truncateID(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// followJob watches a job in the background until it ends (embedded mode).
func (a *App) followJob(id string) {
	a.background("job:"+id, func(ctx context.Context) bool {
		j, err := a.advanceJob(ctx, id)
		if err != nil && ctx.Err() == nil {
			a.log.Warn("advancing job", "job", id, "err", err)
		}
		return err == nil && j.State.Final()
	})
}

// reconcileJobs advances every unfinished job: this ends jobs whose
// watcher died with the service, and times out overdue ones.
func (a *App) reconcileJobs(ctx context.Context) error {
	if a.jobs.runner == nil {
		return nil
	}
	if a.jobs.reap != nil {
		if err := a.jobs.reap(ctx); err != nil {
			a.log.Warn("sweep: reaping job machines", "err", err)
		}
	}
	for _, st := range []provisioner.JobState{provisioner.JobQueued, provisioner.JobProvisioning, provisioner.JobRunning} {
		js, err := a.store.ListJobs(ctx, provisioner.JobFilter{State: st, Limit: 1000})
		if err != nil {
			return err
		}
		for _, j := range js {
			if _, err := a.advanceJob(ctx, j.ID); err != nil {
				a.log.Warn("sweep: advancing job", "job", j.ID, "err", err)
			}
			a.followJob(j.ID)
		}
	}
	return nil
}
