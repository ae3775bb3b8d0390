package job

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"provisioner"
	"provisioner/api"
	"provisioner/app"
)

// tenRuns: ten TESTs of main, oldest first: tests.test_api.test_time fails
// in run 4 and passes in run 5 on the same commit (flaky); docs is broken
// from run 7 on; the build broke once in run 3, skipping the rest.
func tenRuns() api.TestHistory {
	base := time.Date(2026, 8, 1, 10, 0, 0, 0, time.UTC)
	var jobs []provisioner.Job
	for i := 1; i <= 10; i++ {
		j := provisioner.Job{ID: strings.Repeat(fmt.Sprintf("%x", i), 32), Kind: provisioner.JobTest, Version: "main",
			Commit:     strings.Repeat(fmt.Sprintf("c%d", []int{1, 1, 2, 3, 3, 3, 4, 4, 5, 5}[i-1]), 20),
			State:      provisioner.JobPassed,
			FinishedAt: base.Add(time.Duration(i) * time.Hour)}
		pytest := provisioner.StepResult{Name: "pytest", Status: "passed", Tests: 40}
		if i == 4 {
			pytest.Status, pytest.Failures, pytest.FailedTests = "failed", 1, []string{"tests.test_api.test_time"}
		}
		docs := provisioner.StepResult{Name: "docs", Status: "passed"}
		if i >= 7 {
			docs.Status, docs.ExitCode = "failed", 1
		}
		build := provisioner.StepResult{Name: "build", Status: "passed"}
		if i == 3 {
			build.Status, pytest.Status, docs.Status = "failed", "skipped", "skipped"
		}
		j.Steps = []provisioner.StepResult{{Name: "checkout", Status: "passed"}, build, pytest, docs}
		for _, s := range j.Steps {
			if s.Status == "failed" {
				j.State = provisioner.JobFailed
			}
		}
		jobs = append([]provisioner.Job{j}, jobs...) // newest first
	}
	flaky, failing := app.FlagTests(jobs)
	h := api.TestHistory{Status: "success", Branch: "main"}
	for _, j := range jobs {
		h.Runs = append(h.Runs, api.TestRun{Job: j.ID, Date: j.FinishedAt, Version: j.Version, Commit: j.Commit, Result: j.State, Steps: j.Steps})
	}
	for _, f := range flaky {
		h.Flaky = append(h.Flaky, api.TestFlag(f))
	}
	for _, f := range failing {
		h.Failing = append(h.Failing, api.TestFlag(f))
	}
	return h
}

// History: ten runs with a flaky test and a broken step produce the
// expected grid and flags, on a terminal and not.
func TestPrintHistoryTenRuns(t *testing.T) {
	const plain = `TEST history of main: 10 runs, oldest first
step       1   2   3   4   5   6   7   8   9  10
checkout   P   P   P   P   P   P   P   P   P   P
build      P   P   F   P   P   P   P   P   P   P
pytest     P   P   -   F   P   P   P   P   P   P
docs       P   P   -   P   P   P   F   F   F   F

  1  2026-08-01T11:00:00Z  11111111111111111111111111111111  c1c1c1c1c1c1  passed
  2  2026-08-01T12:00:00Z  22222222222222222222222222222222  c1c1c1c1c1c1  passed
  3  2026-08-01T13:00:00Z  33333333333333333333333333333333  c2c2c2c2c2c2  failed
  4  2026-08-01T14:00:00Z  44444444444444444444444444444444  c3c3c3c3c3c3  failed
  5  2026-08-01T15:00:00Z  55555555555555555555555555555555  c3c3c3c3c3c3  passed
  6  2026-08-01T16:00:00Z  66666666666666666666666666666666  c3c3c3c3c3c3  passed
  7  2026-08-01T17:00:00Z  77777777777777777777777777777777  c4c4c4c4c4c4  failed
  8  2026-08-01T18:00:00Z  88888888888888888888888888888888  c4c4c4c4c4c4  failed
  9  2026-08-01T19:00:00Z  99999999999999999999999999999999  c5c5c5c5c5c5  failed
 10  2026-08-01T20:00:00Z  aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa  c5c5c5c5c5c5  failed

flaky tests: 1
  pytest tests.test_api.test_time: failed then passed on commit c3c3c3c3c3c3 (runs 44444444, 55555555)

failing: 1
  docs (the step): failed in the last 4 of 9 runs, since run 77777777
`
	h := tenRuns()
	var b strings.Builder
	printHistory(&b, h, false)
	if b.String() != plain {
		t.Errorf("not a terminal:\n%s\nwant:\n%s", b.String(), plain)
	}
	b.Reset()
	printHistory(&b, h, true)
	tty := strings.NewReplacer(" P", " ✓", " F", " ✗", " -", " –").Replace(strings.SplitAfterN(plain, "\n\n", 2)[0]) + strings.SplitAfterN(plain, "\n\n", 2)[1]
	if b.String() != tty {
		t.Errorf("terminal:\n%s\nwant:\n%s", b.String(), tty)
	}
	b.Reset()
	printHistory(&b, api.TestHistory{Branch: "v2"}, false)
	if b.String() != "TEST history of v2: 0 runs, oldest first\n" {
		t.Errorf("empty: %q", b.String())
	}
}
