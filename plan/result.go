package plan

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"provisioner"
	"provisioner/junit"
)

// What the script says of the job as a whole (Result.State).
const (
	ScriptRunning  = "running"
	ScriptFinished = "finished" // every step that was to run ran; whether it passed is Evaluate's answer
	ScriptError    = "error"    // the checkout failed, or the script was stopped
	ScriptTimedOut = "timed_out"
)

// Step statuses in a result (and in provisioner.StepResult).
const (
	StepRunning  = "running"
	StepPassed   = "passed"
	StepFailed   = "failed"
	StepTimedOut = "timed_out"
	StepSkipped  = "skipped"
	// StepCancelled is for runners: the step a cancelled job was running.
	StepCancelled = "cancelled"
)

// MaxResultSize bounds a result file.
const MaxResultSize = 1 << 20

// Result is the job script's RESULT_FILE.
type Result struct {
	Format    int          `json:"format"`
	JobID     string       `json:"job_id"`
	Kind      string       `json:"kind"`
	Version   string       `json:"version"`
	State     string       `json:"state"`
	Reason    string       `json:"reason"`
	Commit    string       `json:"commit"`
	StartedAt int64        `json:"started_at"`
	UpdatedAt int64        `json:"updated_at"`
	Steps     []ResultStep `json:"steps"`
}

// ResultStep is one step in a result. JUnit paths are relative to the
// job's WORK_DIR: junit/STEP/N.xml.
type ResultStep struct {
	Name       string   `json:"name"`
	Status     string   `json:"status"`
	ExitCode   int      `json:"exit_code"`
	DurationMS int64    `json:"duration_ms"`
	JUnit      []string `json:"junit"`
}

var junitPathRE = regexp.MustCompile(`^junit/[a-z0-9][a-z0-9_-]{0,62}/[0-9]{1,3}\.xml$`)

// ParseResult reads and checks a result file.
func ParseResult(b []byte) (*Result, error) {
	if len(b) > MaxResultSize {
		return nil, fmt.Errorf("result file larger than %d bytes", MaxResultSize)
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("unreadable result file: %w", err)
	}
	if r.Format != 1 {
		return nil, fmt.Errorf("result file format %d, want 1", r.Format)
	}
	switch r.State {
	case ScriptRunning, ScriptFinished, ScriptError, ScriptTimedOut:
	default:
		return nil, fmt.Errorf("result file: unknown state %q", trunc(r.State))
	}
	if len(r.Steps) > MaxSteps+1 {
		return nil, fmt.Errorf("result file: %d steps", len(r.Steps))
	}
	for _, s := range r.Steps {
		switch s.Status {
		case StepRunning, StepPassed, StepFailed, StepTimedOut, StepSkipped:
		default:
			return nil, fmt.Errorf("result file: step %q: unknown status %q", trunc(s.Name), trunc(s.Status))
		}
		if len(s.JUnit) > 100 {
			return nil, fmt.Errorf("result file: step %q lists %d JUnit files", trunc(s.Name), len(s.JUnit))
		}
		for _, p := range s.JUnit {
			if !junitPathRE.MatchString(p) || !strings.HasPrefix(p, "junit/"+s.Name+"/") {
				return nil, fmt.Errorf("result file: step %q: bad JUnit path %q", trunc(s.Name), trunc(p))
			}
		}
	}
	return &r, nil
}

// JUnitOpener opens a JUnit report the script collected, by its path
// relative to the job's WORK_DIR (a local file, an S3 object).
type JUnitOpener func(rel string) (io.ReadCloser, error)

// Evaluate applies the result rule to what the script reported for plan p
// (the plan the script was made from, resolved for the job's version):
//
//   - a job passed only if the checkout and every step of p passed (exited
//     0) and no JUnit report of a step counts a failure or an error; a
//     step that exits 0 with failing tests, with an unreadable report, or
//     with no report where its plan step names one, failed;
//   - a failed step makes the job failed (the script ran later steps only
//     if the step continues on failure);
//   - a step past its timeout, or the job past its deadline: timed_out;
//   - a failed clone or checkout (the version does not exist): error, with
//     git's message;
//   - a result that does not match the plan: error.
//
// A running job's status carries the steps so far. open may be nil when no
// step writes JUnit.
func Evaluate(p Plan, r *Result, open JUnitOpener) provisioner.JobStatus {
	st := provisioner.JobStatus{Steps: make([]provisioner.StepResult, 0, len(r.Steps)), Commit: r.Commit}
	want := map[string]Step{}
	for _, s := range p.Steps {
		want[s.Name] = s
	}
	var failed, timedOut []string
	for _, rs := range r.Steps {
		sr := provisioner.StepResult{Name: rs.Name, Status: rs.Status, ExitCode: rs.ExitCode,
			Duration: time.Duration(rs.DurationMS) * time.Millisecond}
		var counts junit.Counts
		var problem string
		for _, path := range rs.JUnit {
			rep, err := readJUnit(open, path)
			if err != nil {
				if problem == "" {
					problem = fmt.Sprintf("JUnit report %s: %v", path, err)
				}
				continue
			}
			counts = counts.Add(rep.Counts)
			for _, n := range rep.FailedNames {
				if len(sr.FailedTests) < junit.MaxFailedNames {
					sr.FailedTests = append(sr.FailedTests, n)
				} else {
					sr.FailedTruncated = true
				}
			}
			sr.FailedTruncated = sr.FailedTruncated || rep.FailedTruncated
		}
		sr.Tests, sr.Failures, sr.Errors, sr.Skipped = counts.Tests, counts.Failures, counts.Errors, counts.Skipped
		if problem == "" && want[rs.Name].JUnit != "" && len(rs.JUnit) == 0 && rs.Status == StepPassed {
			problem = "wrote no JUnit report matching " + want[rs.Name].JUnit
		}
		switch {
		case rs.Status == StepTimedOut:
			what := "exceeded its timeout"
			if s, ok := want[rs.Name]; ok {
				what = fmt.Sprintf("exceeded its %s timeout", s.Timeout)
			}
			if r.State == ScriptTimedOut {
				what = "was stopped at the job's deadline"
			}
			timedOut = append(timedOut, rs.Name+" "+what)
		case rs.Status == StepFailed:
			failed = append(failed, fmt.Sprintf("%s (exit status %d%s%s)", rs.Name, rs.ExitCode, prefixed(", ", testsText(counts)), prefixed("; ", problem)))
		case rs.Status == StepPassed && counts.Failed():
			sr.Status = StepFailed
			failed = append(failed, fmt.Sprintf("%s (exit status 0, but %s%s)", rs.Name, testsText(counts), prefixed("; ", problem)))
		case rs.Status == StepPassed && problem != "":
			sr.Status = StepFailed
			failed = append(failed, fmt.Sprintf("%s (exit status 0, but %s)", rs.Name, problem))
		}
		st.Steps = append(st.Steps, sr)
	}
	switch r.State {
	case ScriptRunning:
		st.State = provisioner.JobRunning
		return st
	case ScriptError:
		st.State, st.Reason = provisioner.JobError, r.Reason
		if st.Reason == "" {
			st.Reason = "the job could not run its steps"
		}
		return st
	case ScriptTimedOut:
		st.State, st.Reason = provisioner.JobTimedOut, r.Reason
		if len(timedOut) > 0 {
			st.Reason += ": " + strings.Join(timedOut, ", ")
		}
		return st
	case ScriptFinished:
	default:
		st.State, st.Reason = provisioner.JobError, fmt.Sprintf("unknown result state %q", trunc(r.State))
		return st
	}
	// Finished: the result must account for the checkout and every step.
	names := append([]string{CheckoutStep}, p.StepNames()...)
	if len(r.Steps) != len(names) {
		st.State, st.Reason = provisioner.JobError, fmt.Sprintf("the result lists %d steps; the plan has %d", len(r.Steps), len(names))
		return st
	}
	for i, n := range names {
		if r.Steps[i].Name != n {
			st.State, st.Reason = provisioner.JobError, fmt.Sprintf("the result's step %d is %q; the plan's is %q", i+1, trunc(r.Steps[i].Name), n)
			return st
		}
	}
	skipped := 0
	for _, s := range st.Steps {
		if s.Status == StepSkipped || s.Status == StepRunning {
			skipped++
		}
	}
	var why []string
	if len(timedOut) > 0 {
		why = append(why, "timed out: "+strings.Join(timedOut, ", "))
	}
	if len(failed) > 0 {
		why = append(why, "failed: "+strings.Join(failed, ", "))
	}
	if skipped > 0 {
		why = append(why, fmt.Sprintf("%d steps did not run", skipped))
	}
	switch {
	case len(timedOut) > 0:
		st.State = provisioner.JobTimedOut
	case len(failed) > 0 || skipped > 0:
		st.State = provisioner.JobFailed
	default:
		st.State = provisioner.JobPassed
	}
	st.Reason = strings.Join(why, "; ")
	return st
}

// EndSteps marks the step a stopped job was running (or that the stopped
// script reported as failed without an exit status) as the job ended:
// timed_out or cancelled with the job, failed otherwise. Runners call it
// on a job that ended without the script's say.
func EndSteps(steps []provisioner.StepResult, state provisioner.JobState) {
	for i := range steps {
		if steps[i].Status == StepRunning || steps[i].Status == StepFailed && steps[i].ExitCode == -1 {
			switch state {
			case provisioner.JobTimedOut:
				steps[i].Status = StepTimedOut
			case provisioner.JobCancelled:
				steps[i].Status = StepCancelled
			default:
				steps[i].Status = StepFailed
			}
		}
	}
}

func readJUnit(open JUnitOpener, path string) (junit.Report, error) {
	if open == nil {
		return junit.Report{}, errors.New("no way to read JUnit reports")
	}
	f, err := open(path)
	if err != nil {
		return junit.Report{}, err
	}
	defer f.Close()
	return junit.ParseReport(f)
}

func testsText(c junit.Counts) string {
	if c.Failures == 0 && c.Errors == 0 {
		return ""
	}
	return fmt.Sprintf("%d failed and %d erroneous of %d tests", c.Failures, c.Errors, c.Tests)
}

func prefixed(prefix, s string) string {
	if s == "" {
		return ""
	}
	return prefix + s
}
