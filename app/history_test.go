package app

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"provisioner"
)

// run is a finished TEST for FlagTests: steps are "name:P", "name:F",
// "name:S" (skipped) or "name:F:test1,test2" (failed, naming tests); a
// trailing "+" on the names says the list was cut short.
func run(id, commit string, steps ...string) provisioner.Job {
	j := provisioner.Job{ID: id, Kind: provisioner.JobTest, Version: "main", Commit: commit, State: provisioner.JobPassed}
	for _, s := range steps {
		f := strings.SplitN(s, ":", 3)
		sr := provisioner.StepResult{Name: f[0], Status: map[string]string{"P": "passed", "F": "failed", "S": "skipped"}[f[1]]}
		if sr.Status == "failed" {
			j.State = provisioner.JobFailed
		}
		if len(f) == 3 {
			names := f[2]
			if strings.HasSuffix(names, "+") {
				names, sr.FailedTruncated = strings.TrimSuffix(names, "+"), true
			}
			sr.FailedTests = strings.Split(names, ",")
		}
		j.Steps = append(j.Steps, sr)
	}
	return j
}

func flagText(fs []TestFlag) string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Step+"/"+f.Test+": "+f.Evidence)
	}
	return strings.Join(out, "\n")
}

func TestFlagTests(t *testing.T) {
	for _, tc := range []struct {
		name           string
		runs           []provisioner.Job // oldest first here; reversed for FlagTests
		flaky, failing string
	}{
		{name: "all passing", runs: []provisioner.Job{run("r1", "a", "pytest:P"), run("r2", "b", "pytest:P")}},
		{
			name:  "failed then passed on one commit",
			runs:  []provisioner.Job{run("r1", "a", "pytest:P"), run("r2", "b", "pytest:F:t.x"), run("r3", "b", "pytest:P")},
			flaky: "pytest/t.x: failed then passed on commit b (runs r2, r3)",
		},
		{
			name:  "passed then failed on one commit",
			runs:  []provisioner.Job{run("r1", "b", "pytest:P"), run("r2", "b", "pytest:F:t.x")},
			flaky: "pytest/t.x: passed then failed on commit b (runs r1, r2)",
		},
		{
			name:  "alternating over consecutive runs",
			runs:  []provisioner.Job{run("r1", "a", "pytest:F:t.x"), run("r2", "b", "pytest:P"), run("r3", "c", "pytest:F:t.x"), run("r4", "d", "pytest:P")},
			flaky: "pytest/t.x: failed, passed, failed in consecutive runs r1, r2, r3",
		},
		{
			name:    "consistently failing is failing, not flaky",
			runs:    []provisioner.Job{run("r1", "a", "pytest:F:t.x"), run("r2", "b", "pytest:F:t.x"), run("r3", "c", "pytest:F:t.x")},
			failing: "pytest/t.x: failed in all 3 runs",
		},
		{
			name:    "broken since a commit",
			runs:    []provisioner.Job{run("r1", "a", "pytest:P"), run("r2", "b", "pytest:F:t.x"), run("r3", "c", "pytest:F:t.x")},
			failing: "pytest/t.x: failed in the last 2 of 3 runs, since run r2",
		},
		{
			name: "broken then fixed is neither",
			runs: []provisioner.Job{run("r1", "a", "pytest:F:t.x"), run("r2", "b", "pytest:F:t.x"), run("r3", "c", "pytest:P")},
		},
		{
			name: "unknown commits are never the same",
			runs: []provisioner.Job{run("r1", "", "pytest:F:t.x"), run("r2", "", "pytest:P")},
		},
		{
			name: "skipped steps are not observed",
			runs: []provisioner.Job{run("r1", "a", "build:F", "pytest:S"), run("r2", "b", "build:P", "pytest:F:t.x"),
				run("r3", "c", "build:F", "pytest:S"), run("r4", "d", "build:P", "pytest:F:t.x")},
			flaky:   "build/: failed, passed, failed in consecutive runs r1, r2, r3",
			failing: "pytest/t.x: failed in all 2 runs",
		},
		{
			name:    "a cut list without the test is no observation",
			runs:    []provisioner.Job{run("r1", "z", "pytest:F:t.x"), run("r2", "a", "pytest:F:t.y+"), run("r3", "b", "pytest:F:t.x")},
			failing: "pytest/t.x: failed in all 2 runs",
		},
		{
			name:    "a step failing with no test named is the step's failure",
			runs:    []provisioner.Job{run("r1", "a", "docs:P"), run("r2", "b", "docs:F"), run("r3", "c", "docs:F")},
			failing: "docs/: failed in the last 2 of 3 runs, since run r2",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runs := slices.Clone(tc.runs)
			slices.Reverse(runs)
			flaky, failing := FlagTests(runs)
			if got := flagText(flaky); got != tc.flaky {
				t.Errorf("flaky:\n%s\nwant:\n%s", got, tc.flaky)
			}
			if got := flagText(failing); got != tc.failing {
				t.Errorf("failing:\n%s\nwant:\n%s", got, tc.failing)
			}
		})
	}
}

// TenRuns records ten finished TESTs of main (and, to be passed over, a
// TEST of another branch, a RELEASE, a running and a cancelled TEST)
// straight into the store, one a minute from base: pytest's
// tests.test_api.test_time failed in run 4 and passed in run 5 on the same
// commit (flaky); tests.test_api.test_old failed on runs 1-2 and was fixed
// (neither); the docs step is broken from run 7 on (failing). Runs are
// numbered from 1, oldest first; run i has the id RunID(i) and the commit
// "cN" repeated to 40 characters, N = 1 1 2 3 3 3 4 4 5 5; the build broke
// on its own in run 3 and was fixed in run 4 (neither).
func TenRuns(t *testing.T, put func(provisioner.Job) error, base time.Time) {
	t.Helper()
	commit := func(i int) string {
		return strings.Repeat(fmt.Sprintf("c%d", []int{1, 1, 2, 3, 3, 3, 4, 4, 5, 5}[i-1]), 20)
	}
	step := func(name, status string, d time.Duration, tests int, failed ...string) provisioner.StepResult {
		s := provisioner.StepResult{Name: name, Status: status, Duration: d, Tests: tests, Failures: len(failed), FailedTests: failed}
		if status == "failed" {
			s.ExitCode = 1
		}
		return s
	}
	for i := 1; i <= 10; i++ {
		j := provisioner.Job{ID: RunID(i), Kind: provisioner.JobTest, Cluster: "c1", Version: "main",
			Commit: commit(i), RequestedBy: "ada", State: provisioner.JobPassed,
			CreatedAt: base.Add(time.Duration(i) * time.Minute), StartedAt: base.Add(time.Duration(i) * time.Minute),
			FinishedAt: base.Add(time.Duration(i)*time.Minute + 50*time.Second), Deadline: base.Add(time.Hour)}
		var pytest provisioner.StepResult
		switch i {
		case 1, 2:
			pytest = step("pytest", "failed", 30*time.Second, 40, "tests.test_api.test_old")
		case 4:
			pytest = step("pytest", "failed", 30*time.Second, 40, "tests.test_api.test_time")
		default:
			pytest = step("pytest", "passed", 30*time.Second, 40)
		}
		docs := step("docs", "passed", 5*time.Second, 0)
		if i >= 7 {
			docs = step("docs", "failed", 2*time.Second, 0)
		}
		j.Steps = []provisioner.StepResult{step("checkout", "passed", time.Second, 0), step("build", "passed", 10*time.Second, 0), pytest, docs}
		if i == 3 { // the build broke once: pytest and docs did not run
			j.Steps[1] = step("build", "failed", 3*time.Second, 0)
			j.Steps[2] = step("pytest", "skipped", 0, 0)
			j.Steps[3] = step("docs", "skipped", 0, 0)
		}
		for _, s := range j.Steps {
			if s.Status == "failed" {
				j.State = provisioner.JobFailed
			}
		}
		if err := put(j); err != nil {
			t.Fatal(err)
		}
	}
	others := []provisioner.Job{
		{ID: RunID(11), Kind: provisioner.JobTest, Version: "v2", State: provisioner.JobFailed},
		{ID: RunID(12), Kind: provisioner.JobRelease, Version: "main", State: provisioner.JobFailed},
		{ID: RunID(13), Kind: provisioner.JobTest, Version: "main", State: provisioner.JobRunning},
		{ID: RunID(14), Kind: provisioner.JobTest, Version: "main", State: provisioner.JobCancelled},
	}
	for i, j := range others {
		j.Cluster, j.CreatedAt, j.Deadline = "c1", base.Add(time.Duration(11+i)*time.Minute), base.Add(time.Hour)
		j.Steps = []provisioner.StepResult{{Name: "pytest", Status: "failed", FailedTests: []string{"tests.test_api.test_time"}}}
		if err := put(j); err != nil {
			t.Fatal(err)
		}
	}
}

// RunID is TenRuns' id of run i: its hex digit, 32 times ("aaaa..." for 10).
func RunID(i int) string { return strings.Repeat(fmt.Sprintf("%x", i), 32) }

// History: ten runs with a flaky test and a broken step produce the
// expected flags (the grid is the CLI's, tested there).
func TestTestHistoryTenRuns(t *testing.T) {
	f := newFixture(t)
	base := time.Date(2026, 8, 1, 10, 0, 0, 0, time.UTC)
	TenRuns(t, func(j provisioner.Job) error { _, err := f.app.store.PutJob(bg, j); return err }, base)

	h, err := f.app.TestHistory(bg, orgMem, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, j := range h.Runs {
		ids = append(ids, j.ID[:1])
	}
	if h.Branch != "main" || strings.Join(ids, " ") != "a 9 8 7 6 5 4 3 2 1" {
		t.Fatalf("runs of main, newest first: %s (%s)", ids, h.Branch)
	}
	if got, want := flagText(h.Flaky), "pytest/tests.test_api.test_time: failed then passed on commit c3c3c3c3c3c3 (runs 44444444, 55555555)"; got != want {
		t.Errorf("flaky:\n%s\nwant:\n%s", got, want)
	}
	if got, want := flagText(h.Failing), "docs/: failed in the last 4 of 9 runs, since run 77777777"; got != want {
		t.Errorf("failing:\n%s\nwant:\n%s", got, want)
	}
	three, err := f.app.TestHistory(bg, orgMem, "main", 3)
	if err != nil || len(three.Runs) != 3 || three.Runs[0].ID != h.Runs[0].ID {
		t.Fatalf("limit 3: %d runs, %v", len(three.Runs), err)
	}
	if _, err := f.app.TestHistory(bg, anon, "main", 0); provisioner.ErrorCode(err) != provisioner.EUNAUTHORIZED {
		t.Fatalf("anonymous: %v", err)
	}
	for _, l := range []int{-1, MaxHistoryLimit + 1} {
		if _, err := f.app.TestHistory(bg, orgMem, "main", l); provisioner.ErrorCode(err) != provisioner.EINVALID {
			t.Fatalf("limit %d: %v", l, err)
		}
	}
	if _, err := f.app.TestHistory(bg, orgMem, "../x", 0); provisioner.ErrorCode(err) != provisioner.EINVALID {
		t.Fatalf("bad branch: %v", err)
	}
}
