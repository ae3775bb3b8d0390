package app

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"provisioner"
)

// Test history bounds: runs a history shows by default and at most.
const (
	DefaultHistoryLimit = 20
	MaxHistoryLimit     = 100
)

// TestHistory is a branch's recent finished TESTs, newest first, and what
// they say of its tests.
type TestHistory struct {
	Branch string
	Runs   []provisioner.Job
	// Flaky tests both failed and passed on one commit, or went fail,
	// pass, fail over consecutive runs; Failing tests (and steps that
	// fail with no failed test named) failed in the newest run that ran
	// them without being flaky.
	Flaky   []TestFlag
	Failing []TestFlag
}

// TestFlag is one test (or, with Test empty, a step) that History flags,
// and why.
type TestFlag struct {
	Test     string `json:"test"`
	Step     string `json:"step"`
	Evidence string `json:"evidence"`
}

// TestHistory returns the last limit (default 20, at most 100) finished
// TESTs of branch (default main), newest first, with flaky and failing
// tests flagged. A cancelled TEST is no result and is passed over.
// Organization members may read it, as the latest report.
func (a *App) TestHistory(ctx context.Context, c Caller, branch string, limit int) (TestHistory, error) {
	branch, err := testBranch(c, branch, "the test history")
	if err != nil {
		return TestHistory{}, err
	}
	switch {
	case limit == 0:
		limit = DefaultHistoryLimit
	case limit < 0 || limit > MaxHistoryLimit:
		return TestHistory{}, provisioner.Errorf(provisioner.EINVALID, "limit must be between 1 and %d", MaxHistoryLimit)
	}
	// Unfinished and cancelled TESTs are skipped; a few more than limit
	// are read so that they do not shorten the history.
	jobs, err := a.store.ListJobs(ctx, provisioner.JobFilter{Kind: provisioner.JobTest, Version: branch, Limit: limit + 50})
	if err != nil {
		return TestHistory{}, err
	}
	h := TestHistory{Branch: branch, Runs: []provisioner.Job{}, Flaky: []TestFlag{}, Failing: []TestFlag{}}
	for _, j := range jobs {
		if len(h.Runs) < limit && j.Kind == provisioner.JobTest && j.Version == branch && j.State.Final() && j.State != provisioner.JobCancelled {
			h.Runs = append(h.Runs, j)
		}
	}
	h.Flaky, h.Failing = FlagTests(h.Runs)
	return h, nil
}

// observation is what one run says of one test or step.
type observation struct {
	run    string // the job's short id
	commit string // "" when the runner did not report it
	failed bool
}

// FlagTests finds flaky and failing tests in runs (newest first, as
// TestHistory returns them). A test is observed in each run whose step ran
// (passed or failed): failed when the step names it among its failed
// tests, passed otherwise, and not observed when the step's list of names
// was cut short without it. A step that failed naming no failed test (a
// build that broke, a suite that crashed) is observed as itself, Test "".
//
//   - flaky: it failed and passed on the same commit (runs without a known
//     commit never count as the same), or it failed, passed and failed
//     again over consecutive observations;
//   - failing: not flaky, and it failed in its newest observation.
//
// Both lists are sorted by step, then test.
func FlagTests(runs []provisioner.Job) (flaky, failing []TestFlag) {
	type key struct{ step, test string }
	obs := map[key][]observation{} // oldest first
	var keys []key
	see := func(k key, o observation) {
		if _, ok := obs[k]; !ok {
			keys = append(keys, k)
		}
		obs[k] = append(obs[k], o)
	}
	// Every test that ever failed, per step.
	failedEver := map[string][]string{}
	for _, j := range runs {
		for _, s := range j.Steps {
			for _, t := range s.FailedTests {
				if !slices.Contains(failedEver[s.Name], t) {
					failedEver[s.Name] = append(failedEver[s.Name], t)
				}
			}
		}
	}
	for i := len(runs) - 1; i >= 0; i-- {
		j := runs[i]
		for _, s := range j.Steps {
			failed := s.Status == "failed" || s.Status == "timed_out"
			if !failed && s.Status != "passed" {
				continue // skipped, running, cancelled: not observed
			}
			o := observation{run: shortID(j.ID), commit: j.Commit}
			if failed && len(s.FailedTests) == 0 {
				see(key{s.Name, ""}, observation{run: o.run, commit: o.commit, failed: true})
			} else if !failed {
				see(key{s.Name, ""}, o)
			}
			for _, t := range failedEver[s.Name] {
				in := slices.Contains(s.FailedTests, t)
				if !in && s.FailedTruncated {
					continue
				}
				see(key{s.Name, t}, observation{run: o.run, commit: o.commit, failed: in})
			}
		}
	}
	flaky, failing = []TestFlag{}, []TestFlag{}
	for _, k := range keys {
		seq := obs[k]
		if ev := flakyEvidence(seq); ev != "" {
			flaky = append(flaky, TestFlag{Test: k.test, Step: k.step, Evidence: ev})
			continue
		}
		if last := seq[len(seq)-1]; last.failed {
			n := 0
			for i := len(seq) - 1; i >= 0 && seq[i].failed; i-- {
				n++
			}
			ev := fmt.Sprintf("failed in the last %d of %d runs", n, len(seq))
			if n == len(seq) {
				ev = fmt.Sprintf("failed in all %d runs", n)
				if n == 1 {
					ev = "failed in the only run"
				}
			} else {
				ev += fmt.Sprintf(", since run %s", seq[len(seq)-n].run)
			}
			failing = append(failing, TestFlag{Test: k.test, Step: k.step, Evidence: ev})
		}
	}
	less := func(x, y TestFlag) int {
		return strings.Compare(x.Step+"\x00"+x.Test, y.Step+"\x00"+y.Test)
	}
	slices.SortFunc(flaky, less)
	slices.SortFunc(failing, less)
	return flaky, failing
}

// flakyEvidence says why a sequence of observations (oldest first) is
// flaky, or "" when it is not.
func flakyEvidence(seq []observation) string {
	for i, o := range seq {
		if !o.failed || o.commit == "" {
			continue
		}
		for _, p := range seq[i+1:] {
			if !p.failed && p.commit == o.commit {
				return fmt.Sprintf("failed then passed on commit %s (runs %s, %s)", shortCommit(o.commit), o.run, p.run)
			}
		}
		for _, p := range seq[:i] {
			if !p.failed && p.commit == o.commit {
				return fmt.Sprintf("passed then failed on commit %s (runs %s, %s)", shortCommit(o.commit), p.run, o.run)
			}
		}
	}
	for i := 0; i+2 < len(seq); i++ {
		if seq[i].failed && !seq[i+1].failed && seq[i+2].failed {
			return fmt.Sprintf("failed, passed, failed in consecutive runs %s, %s, %s", seq[i].run, seq[i+1].run, seq[i+2].run)
		}
	}
	return ""
}

func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

func shortCommit(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}

// RunDate is when a run finished, or was created when it never started.
func RunDate(j provisioner.Job) time.Time {
	if !j.FinishedAt.IsZero() {
		return j.FinishedAt
	}
	return j.CreatedAt
}
