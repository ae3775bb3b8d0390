package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"provisioner"
)

// testRunner is a scriptable JobRunner: each job ends in the state set for
// it once polled, or runs forever.
type testRunner struct {
	mu        sync.Mutex
	starts    map[string]int
	cancelled map[string]bool
	outcome   map[string]provisioner.JobStatus // by version
	startErr  error
	logs      map[string]string
}

func newTestRunner() *testRunner {
	return &testRunner{starts: map[string]int{}, cancelled: map[string]bool{}, outcome: map[string]provisioner.JobStatus{}, logs: map[string]string{}}
}

func (r *testRunner) Start(_ context.Context, j provisioner.Job) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.startErr != nil {
		return "", r.startErr
	}
	r.starts[j.ID]++
	r.logs[j.LogKey] = "cloning " + j.Version + "\n"
	return "i-" + j.ID[:8], nil
}

func (r *testRunner) Poll(_ context.Context, j provisioner.Job) (provisioner.JobStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cancelled[j.ID] {
		return provisioner.JobStatus{State: provisioner.JobCancelled}, nil
	}
	if st, ok := r.outcome[j.Version]; ok {
		return st, nil
	}
	return provisioner.JobStatus{State: provisioner.JobRunning, Steps: []provisioner.StepResult{{Name: "clone", Status: "passed"}}}, nil
}

func (r *testRunner) Cancel(_ context.Context, j provisioner.Job) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cancelled[j.ID] = true
	return nil
}

func (r *testRunner) Put(_ context.Context, key string, rd io.Reader) error {
	b, _ := io.ReadAll(rd)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.logs[key] = string(b)
	return nil
}

func (r *testRunner) Open(_ context.Context, key string) (io.ReadCloser, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.logs[key]
	if !ok {
		return nil, provisioner.Errorf(provisioner.ENOTFOUND, "no log")
	}
	return io.NopCloser(strings.NewReader(s)), nil
}

func jobFixture(t *testing.T) (*fixture, *testRunner) {
	f := newFixture(t)
	r := newTestRunner()
	f.app.jobs = jobsConfig{runner: r, logs: r, timeout: time.Hour}
	f.deployed(t, admin, "c1", false)
	return f, r
}

func (f *fixture) waitJob(t *testing.T, id string) provisioner.Job {
	t.Helper()
	j, err := f.app.Job(bg, admin, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func TestJobAuthorizationAndInput(t *testing.T) {
	f, r := jobFixture(t)
	for name, tc := range map[string]struct {
		c       Caller
		cluster string
		version string
		code    string
	}{
		"org member":  {orgMem, "c1", "v1", provisioner.EFORBIDDEN},
		"anonymous":   {anon, "c1", "v1", provisioner.EUNAUTHORIZED},
		"unknown":     {admin, "nosuch", "v1", provisioner.ENOTFOUND},
		"upload-pack": {admin, "c1", "--upload-pack=touch /tmp/pwned", provisioner.EINVALID},
		"semicolon":   {admin, "c1", ";rm -rf /", provisioner.EINVALID},
		"dotdot":      {admin, "c1", "../", provisioner.EINVALID},
		"spaces":      {admin, "c1", "v1 v2", provisioner.EINVALID},
		"overlong":    {admin, "c1", strings.Repeat("v", 200), provisioner.EINVALID},
		"bad cluster": {admin, "C1", "v1", provisioner.EINVALID},
	} {
		for _, kind := range []provisioner.JobKind{provisioner.JobTest, provisioner.JobRelease} {
			if kind == provisioner.JobRelease && name == "unknown" {
				continue // below: RELEASE needs no deployed cluster
			}
			if _, err := f.app.StartJob(bg, tc.c, kind, tc.cluster, tc.version); provisioner.ErrorCode(err) != tc.code {
				t.Errorf("%s %s: want %s, got %v", kind, name, tc.code, err)
			}
		}
	}
	// A branch with '/' is a fine TEST version but no image tag.
	if _, err := f.app.StartJob(bg, admin, provisioner.JobRelease, "c1", "feature/x"); provisioner.ErrorCode(err) != provisioner.EINVALID {
		t.Errorf("release of feature/x: %v", err)
	}
	if len(r.starts) != 0 {
		t.Fatalf("refused requests started %d machines", len(r.starts))
	}
	// RELEASE takes the seed's cluster as the build's cluster value: it
	// need not be a deployed (or registered) cluster.
	j, err := f.app.StartJob(bg, admin, provisioner.JobRelease, "nosuch", "v5.4.5")
	if err != nil || j.Cluster != "nosuch" || len(r.starts) != 1 {
		t.Fatalf("release for an undeployed cluster: %+v %v", j, err)
	}
	if _, err := f.app.StartJob(bg, admin, provisioner.JobTest, "c1", "feature/x"); err != nil {
		t.Errorf("test of feature/x: %v", err)
	}
}

func TestJobOutcomes(t *testing.T) {
	f, r := jobFixture(t)
	steps := []provisioner.StepResult{{Name: "pytest", Status: "failed", ExitCode: 0, Tests: 3, Failures: 1}}
	r.outcome["v-pass"] = provisioner.JobStatus{State: provisioner.JobPassed, Steps: []provisioner.StepResult{{Name: "pytest", Status: "passed"}}}
	r.outcome["v-fail"] = provisioner.JobStatus{State: provisioner.JobFailed, Reason: "pytest failed", Steps: steps}
	r.outcome["v-gone"] = provisioner.JobStatus{State: provisioner.JobError, Reason: "pathspec 'v-gone' did not match"}
	for v, want := range map[string]provisioner.JobState{"v-pass": provisioner.JobPassed, "v-fail": provisioner.JobFailed, "v-gone": provisioner.JobError} {
		j, err := f.app.StartJob(bg, admin, provisioner.JobTest, "c1", v)
		if err != nil || j.State != provisioner.JobProvisioning || j.Instance == "" {
			t.Fatalf("%s: %+v %v", v, j, err)
		}
		j = f.waitJob(t, j.ID)
		if j.State != want || j.FinishedAt.IsZero() {
			t.Errorf("%s: %+v", v, j)
		}
		if v == "v-fail" && (len(j.Steps) != 1 || j.Steps[0].Failures != 1) {
			t.Errorf("steps not recorded: %+v", j.Steps)
		}
	}
	// Still running: state and steps follow the runner.
	j, _ := f.app.StartJob(bg, admin, provisioner.JobRelease, "c1", "v-slow")
	j = f.waitJob(t, j.ID)
	if j.State != provisioner.JobRunning || len(j.Steps) != 1 {
		t.Fatalf("%+v", j)
	}
	// The log is readable while it runs.
	_, rc, err := f.app.JobLog(bg, admin, j.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	if !strings.Contains(string(b), "cloning v-slow") {
		t.Errorf("log %q", b)
	}
	// Past its deadline: the machine is stopped and the job timed out.
	f.clock.Add(time.Hour + time.Second)
	if err := f.app.Reconcile(bg); err != nil {
		t.Fatal(err)
	}
	if j = f.waitJob(t, j.ID); j.State.Final() {
		t.Fatalf("stopped before the grace for the machine's own deadline: %+v", j)
	}
	f.clock.Add(jobGrace)
	if err := f.app.Reconcile(bg); err != nil {
		t.Fatal(err)
	}
	j = f.waitJob(t, j.ID)
	if j.State != provisioner.JobTimedOut || !r.cancelled[j.ID] {
		t.Fatalf("overdue job: %+v (cancelled %v)", j, r.cancelled[j.ID])
	}
}

func TestJobCancelAndStartFailure(t *testing.T) {
	f, r := jobFixture(t)
	j, _ := f.app.StartJob(bg, admin, provisioner.JobTest, "c1", "v1")
	_, err := f.app.CancelJob(bg, orgMem, j.ID)
	wantCode(t, err, provisioner.EFORBIDDEN)
	j, err = f.app.CancelJob(bg, admin, j.ID)
	if err != nil || j.State != provisioner.JobCancelled || !r.cancelled[j.ID] {
		t.Fatalf("%+v %v", j, err)
	}
	_, err = f.app.CancelJob(bg, admin, "0123")
	wantCode(t, err, provisioner.EINVALID)
	_, err = f.app.Job(bg, admin, strings.Repeat("ab", 16), 0)
	wantCode(t, err, provisioner.ENOTFOUND)

	r.startErr = errors.New("InsufficientInstanceCapacity")
	j, err = f.app.StartJob(bg, admin, provisioner.JobTest, "c1", "v1")
	if err != nil || j.State != provisioner.JobError || j.Reason == "" {
		t.Fatalf("a machine that cannot start: %+v %v", j, err)
	}
}

// Two TEST requests at once get two jobs on two machines.
func TestTwoJobsAtOnce(t *testing.T) {
	f, r := jobFixture(t)
	var wg sync.WaitGroup
	ids := make([]string, 2)
	for i := range ids {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			j, err := f.app.StartJob(bg, admin, provisioner.JobTest, "c1", fmt.Sprintf("v%d", i))
			if err != nil {
				t.Error(err)
			}
			ids[i] = j.ID
		}(i)
	}
	wg.Wait()
	if ids[0] == ids[1] || len(r.starts) != 2 {
		t.Fatalf("ids %v starts %v", ids, r.starts)
	}
	js, err := f.app.ListJobs(bg, admin, provisioner.JobFilter{Cluster: "c1"})
	if err != nil || len(js) != 2 {
		t.Fatalf("%d jobs %v", len(js), err)
	}
}
