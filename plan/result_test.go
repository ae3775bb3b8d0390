package plan

import (
	"errors"
	"io"
	"strings"
	"testing"

	"provisioner"
)

const resultPlan = `
kind: test
steps:
  - {name: build, run: make}
  - {name: pytest, run: pytest, junit: "reports/*.xml", continue_on_failure: true, timeout: 5m}
  - {name: jest, run: jest}
`

const (
	passingXML = `<testsuite tests="2"><testcase/><testcase/></testsuite>`
	failingXML = `<testsuites><testsuite tests="3" failures="1" errors="1"><testcase/><testcase><failure/></testcase><testcase><error/></testcase></testsuite></testsuites>`
)

func reports(files map[string]string) JUnitOpener {
	return func(rel string) (io.ReadCloser, error) {
		s, ok := files[rel]
		if !ok {
			return nil, errors.New("no such file")
		}
		return io.NopCloser(strings.NewReader(s)), nil
	}
}

func result(state string, steps ...string) *Result {
	r := &Result{Format: 1, State: state}
	for _, s := range steps {
		// name:status:exit[:junit,...]
		f := strings.Split(s, ":")
		rs := ResultStep{Name: f[0], Status: f[1]}
		switch f[2] {
		case "0":
		case "-1":
			rs.ExitCode = -1
		default:
			rs.ExitCode = 1
		}
		if len(f) > 3 {
			rs.JUnit = strings.Split(f[3], ",")
		}
		r.Steps = append(r.Steps, rs)
	}
	return r
}

func TestEvaluate(t *testing.T) {
	p := mustParse(t, resultPlan)
	files := reports(map[string]string{"junit/pytest/1.xml": passingXML, "junit/pytest/2.xml": failingXML, "junit/pytest/3.xml": "garbage"})
	for _, tc := range []struct {
		name   string
		r      *Result
		state  provisioner.JobState
		reason string
		step   string // name=status of one step to check
	}{
		{"all passed", result("finished", "checkout:passed:0", "build:passed:0", "pytest:passed:0:junit/pytest/1.xml", "jest:passed:0"),
			provisioner.JobPassed, "", "pytest=passed"},
		{"a step failed", result("finished", "checkout:passed:0", "build:failed:1", "pytest:skipped:-1", "jest:skipped:-1"),
			provisioner.JobFailed, "failed: build (exit status 1); 2 steps did not run", "build=failed"},
		{"exit 0 with failing tests", result("finished", "checkout:passed:0", "build:passed:0", "pytest:passed:0:junit/pytest/1.xml,junit/pytest/2.xml", "jest:passed:0"),
			provisioner.JobFailed, "pytest (exit status 0, but 1 failed and 1 erroneous of 5 tests)", "pytest=failed"},
		{"unreadable report", result("finished", "checkout:passed:0", "build:passed:0", "pytest:passed:0:junit/pytest/3.xml", "jest:passed:0"),
			provisioner.JobFailed, "JUnit report junit/pytest/3.xml", "pytest=failed"},
		{"missing report file", result("finished", "checkout:passed:0", "build:passed:0", "pytest:passed:0:junit/pytest/9.xml", "jest:passed:0"),
			provisioner.JobFailed, "no such file", "pytest=failed"},
		{"no report written", result("finished", "checkout:passed:0", "build:passed:0", "pytest:passed:0", "jest:passed:0"),
			provisioner.JobFailed, "wrote no JUnit report matching reports/*.xml", "pytest=failed"},
		{"failed step with failing report", result("finished", "checkout:passed:0", "build:passed:0", "pytest:failed:1:junit/pytest/2.xml", "jest:passed:0"),
			provisioner.JobFailed, "pytest (exit status 1, 1 failed and 1 erroneous of 3 tests)", "pytest=failed"},
		{"step timeout", result("finished", "checkout:passed:0", "build:passed:0", "pytest:timed_out:1", "jest:passed:0"),
			provisioner.JobTimedOut, "pytest exceeded its 5m0s timeout", "pytest=timed_out"},
		{"deadline", &Result{Format: 1, State: "timed_out", Reason: "the job's deadline passed", Steps: result("", "checkout:passed:0", "build:timed_out:1", "pytest:skipped:-1", "jest:skipped:-1").Steps},
			provisioner.JobTimedOut, "the job's deadline passed: build was stopped at the job's deadline", "build=timed_out"},
		{"checkout error", &Result{Format: 1, State: "error", Reason: "version v9 is not a tag: fatal: bad revision", Steps: result("", "checkout:failed:1", "build:skipped:-1", "pytest:skipped:-1", "jest:skipped:-1").Steps},
			provisioner.JobError, "fatal: bad revision", "checkout=failed"},
		{"running", result("running", "checkout:passed:0", "build:running:-1"),
			provisioner.JobRunning, "", "build=running"},
		{"steps missing", result("finished", "checkout:passed:0", "build:passed:0"),
			provisioner.JobError, "the result lists 2 steps; the plan has 4", ""},
		{"steps renamed", result("finished", "checkout:passed:0", "build:passed:0", "other:passed:0", "jest:passed:0"),
			provisioner.JobError, `the result's step 3 is "other"`, ""},
		{"skipped without failure", result("finished", "checkout:passed:0", "build:passed:0", "pytest:passed:0:junit/pytest/1.xml", "jest:skipped:-1"),
			provisioner.JobFailed, "1 steps did not run", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := Evaluate(p, tc.r, files)
			if st.State != tc.state || !strings.Contains(st.Reason, tc.reason) || (tc.reason == "" && st.Reason != "") {
				t.Fatalf("Evaluate = %s %q, want %s %q", st.State, st.Reason, tc.state, tc.reason)
			}
			if tc.step != "" {
				name, status, _ := strings.Cut(tc.step, "=")
				for _, s := range st.Steps {
					if s.Name == name && s.Status != status {
						t.Fatalf("step %s: %+v", name, s)
					}
				}
			}
		})
	}
	// JUnit counts are merged into the step.
	st := Evaluate(p, result("finished", "checkout:passed:0", "build:passed:0", "pytest:passed:0:junit/pytest/1.xml,junit/pytest/2.xml", "jest:passed:0"), files)
	if s := st.Steps[2]; s.Tests != 5 || s.Failures != 1 || s.Errors != 1 || s.ExitCode != 0 {
		t.Fatalf("merged counts %+v", s)
	}
}

// A step keeps the names of its failed tests across its reports, and the
// job the commit its checkout resolved.
func TestEvaluateFailedNamesAndCommit(t *testing.T) {
	p := mustParse(t, resultPlan)
	files := reports(map[string]string{
		"junit/pytest/1.xml": `<testsuite><testcase classname="t.a" name="x"><failure/></testcase><testcase classname="t.a" name="ok"/></testsuite>`,
		"junit/pytest/2.xml": `<testsuite><testcase classname="t.b" name="y"><error/></testcase></testsuite>`,
	})
	r := result("finished", "checkout:passed:0", "build:passed:0", "pytest:failed:1:junit/pytest/1.xml,junit/pytest/2.xml", "jest:passed:0")
	r.Commit = "0123456789abcdef0123456789abcdef01234567"
	st := Evaluate(p, r, files)
	if got := strings.Join(st.Steps[2].FailedTests, ","); got != "t.a.x,t.b.y" || st.Steps[2].FailedTruncated {
		t.Errorf("failed tests %q", got)
	}
	if st.Commit != r.Commit || st.Steps[1].FailedTests != nil {
		t.Errorf("commit %q, build step %+v", st.Commit, st.Steps[1])
	}
}

func TestParseResult(t *testing.T) {
	good := `{"format":1,"job_id":"ab","kind":"test","version":"v1","state":"finished","reason":"","commit":"c","started_at":1,"updated_at":2,
	"steps":[{"name":"checkout","status":"passed","exit_code":0,"duration_ms":5,"junit":[]},{"name":"py","status":"passed","exit_code":0,"duration_ms":5,"junit":["junit/py/1.xml"]}]}`
	r, err := ParseResult([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if r.State != ScriptFinished || len(r.Steps) != 2 || r.Steps[1].JUnit[0] != "junit/py/1.xml" {
		t.Fatalf("%+v", r)
	}
	for name, bad := range map[string]string{
		"not json":        "{",
		"format":          strings.Replace(good, `"format":1`, `"format":2`, 1),
		"state":           strings.Replace(good, `"state":"finished"`, `"state":"passed"`, 1),
		"step status":     strings.Replace(good, `"status":"passed"`, `"status":"great"`, 1),
		"junit traversal": strings.Replace(good, `junit/py/1.xml`, `junit/py/../../../etc/passwd`, 1),
		"junit absolute":  strings.Replace(good, `junit/py/1.xml`, `/etc/passwd`, 1),
		"junit other dir": strings.Replace(good, `junit/py/1.xml`, `junit/other/1.xml`, 1),
		"too large":       good + strings.Repeat(" ", MaxResultSize),
	} {
		if _, err := ParseResult([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
