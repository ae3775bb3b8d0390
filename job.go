package provisioner

import (
	"context"
	"io"
	"time"
)

// JobKind is what a job does: the seed's TEST or RELEASE.
type JobKind string

// The two job kinds.
const (
	JobTest    JobKind = "test"
	JobRelease JobKind = "release"
)

// JobState is where a job is. passed, failed, error, timed_out and
// cancelled are final.
type JobState string

// Job states: failed means a step failed (the code is bad); error means the
// job could not run its steps (no machine, no such version, lost instance).
const (
	JobQueued       JobState = "queued"
	JobProvisioning JobState = "provisioning"
	JobRunning      JobState = "running"
	JobPassed       JobState = "passed"
	JobFailed       JobState = "failed"
	JobError        JobState = "error"
	JobTimedOut     JobState = "timed_out"
	JobCancelled    JobState = "cancelled"
)

// Final reports whether the state is an end.
func (s JobState) Final() bool {
	switch s {
	case JobPassed, JobFailed, JobError, JobTimedOut, JobCancelled:
		return true
	}
	return false
}

// Job is one TEST or RELEASE run.
type Job struct {
	ID      string  `json:"id"`
	Kind    JobKind `json:"kind"`
	Cluster string  `json:"cluster"`
	Version string  `json:"version"`
	// Commit is the commit the job's checkout resolved Version to, when
	// the runner reported it; empty before the checkout or if unknown.
	Commit      string       `json:"commit,omitempty"`
	RequestedBy string       `json:"requested_by"`
	State       JobState     `json:"state"`
	Reason      string       `json:"reason,omitempty"` // why it failed, errored or timed out
	Steps       []StepResult `json:"steps"`
	LogKey      string       `json:"log_key,omitempty"`  // where the log lives in the LogStore
	Instance    string       `json:"instance,omitempty"` // EC2 instance id, or local process id
	CreatedAt   time.Time    `json:"created_at"`
	StartedAt   time.Time    `json:"started_at,omitzero"`
	FinishedAt  time.Time    `json:"finished_at,omitzero"`
	Deadline    time.Time    `json:"deadline"`
	// Revision is the store's compare-and-swap token, as for clusters.
	Revision int64 `json:"-"`
}

// StepResult is what one plan step did. Test counts come from the JUnit
// reports the step wrote, when it wrote any.
type StepResult struct {
	Name     string        `json:"name"`
	Status   string        `json:"status"` // "passed", "failed", "skipped" (not reached)
	ExitCode int           `json:"exit_code"`
	Duration time.Duration `json:"duration_ns"`
	Tests    int           `json:"tests,omitempty"`
	Failures int           `json:"failures,omitempty"`
	Errors   int           `json:"errors,omitempty"`
	Skipped  int           `json:"skipped,omitempty"`
	// FailedTests names the step's failed or erroneous tests from its
	// JUnit reports, at most junit.MaxFailedNames of them, each cut to
	// junit.MaxNameLength bytes; FailedTruncated says more failed.
	FailedTests     []string `json:"failed_tests,omitempty"`
	FailedTruncated bool     `json:"failed_truncated,omitempty"`
}

// JobFilter narrows ListJobs; zero fields do not filter.
type JobFilter struct {
	Cluster string
	State   JobState
	Kind    JobKind
	Version string
	Limit   int // 0 means 100
}

// JobStore keeps jobs; Store includes it. PutJob has the compare-and-swap
// semantics of PutCluster.
type JobStore interface {
	PutJob(ctx context.Context, j Job) (int64, error)
	GetJob(ctx context.Context, id string) (Job, error)
	// ListJobs returns jobs newest first.
	ListJobs(ctx context.Context, f JobFilter) ([]Job, error)
}

// JobRunner runs jobs on machines: EC2 spot instances, or this machine.
// Start MUST be idempotent per job ID (a retry never launches a second
// machine); Poll observes and MUST report a lost machine as JobError.
type JobRunner interface {
	Start(ctx context.Context, j Job) (instance string, err error)
	Poll(ctx context.Context, j Job) (JobStatus, error)
	Cancel(ctx context.Context, j Job) error
}

// JobStatus is what a runner observes of a job now.
type JobStatus struct {
	State  JobState
	Reason string
	Steps  []StepResult
	Commit string // the commit checked out, once known
}

// LogStore keeps job logs and audit exports: files on disk, or S3.
type LogStore interface {
	// Put stores the whole content under key, replacing it.
	Put(ctx context.Context, key string, r io.Reader) error
	// Open reads what is under key, or ENOTFOUND.
	Open(ctx context.Context, key string) (io.ReadCloser, error)
}

// LogStoreAt is a LogStore that can start reading part way in, so following
// a growing log costs only what was added since the last read.
type LogStoreAt interface {
	OpenAt(ctx context.Context, key string, offset int64) (io.ReadCloser, error)
}
