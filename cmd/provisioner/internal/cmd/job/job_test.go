package job

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"provisioner"
	"provisioner/api"
	"provisioner/cmd/provisioner/internal/cmdtest"
	"provisioner/cmd/provisioner/internal/cmdutil"
)

func usage(t *testing.T, err error, want string) {
	t.Helper()
	var fe *cmdutil.FlagError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v, want a usage error with %q", err, want)
	}
}

func TestNewCmdStart(t *testing.T) {
	for _, tt := range []struct {
		kind    provisioner.JobKind
		args    string
		want    StartOptions
		wantErr string
	}{
		{kind: provisioner.JobTest, args: "test nightly --version v1.0.0",
			want: StartOptions{Kind: provisioner.JobTest, Cluster: "nightly", Version: "v1.0.0", Timeout: 4 * time.Hour}},
		{kind: provisioner.JobRelease, args: "release nightly --version main --wait --timeout 1h --json",
			want: StartOptions{Kind: provisioner.JobRelease, Cluster: "nightly", Version: "main", Wait: true, Timeout: time.Hour,
				APIOptions: cmdutil.APIOptions{JSON: true}}},
		{kind: provisioner.JobTest, args: "test nightly", wantErr: `required flag(s) "version" not set`},
		{kind: provisioner.JobTest, args: "test nightly --version v1;rm", wantErr: "version"},
		{kind: provisioner.JobTest, args: "test nightly --version --upload-pack=x", wantErr: "version"},
		{kind: provisioner.JobTest, args: "test Night;ly --version v1", wantErr: "invalid cluster name"},
		{kind: provisioner.JobRelease, args: "release --version v1", wantErr: "accepts 1 arg(s), received 0"},
	} {
		t.Run(tt.args, func(t *testing.T) {
			f, _, _ := cmdtest.Factory(t)
			var got *StartOptions
			err := cmdtest.Run(f, NewCmdStart(f, tt.kind, func(o *StartOptions) error { got = o; return nil }), tt.args)
			if tt.wantErr != "" {
				usage(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Kind != tt.want.Kind || got.Cluster != tt.want.Cluster || got.Version != tt.want.Version || got.Wait != tt.want.Wait ||
				got.Timeout != tt.want.Timeout || got.JSON != tt.want.JSON {
				t.Errorf("got %+v\nwant %+v", *got, tt.want)
			}
		})
	}
}

func TestNewCmdJobs(t *testing.T) {
	for _, tt := range []struct {
		args    string
		want    JobsOptions
		wantErr string
	}{
		{args: "jobs", want: JobsOptions{Filter: provisioner.JobFilter{Limit: 50}}},
		{args: "jobs abc --json", want: JobsOptions{ID: "abc", APIOptions: cmdutil.APIOptions{JSON: true}, Filter: provisioner.JobFilter{Limit: 50}}},
		{args: "jobs --cluster nightly --state failed --limit 5",
			want: JobsOptions{Filter: provisioner.JobFilter{Cluster: "nightly", State: provisioner.JobFailed, Limit: 5}}},
		{args: "jobs a b", wantErr: "accepts at most 1 arg(s), received 2"},
		{args: "jobs --limit many", wantErr: `invalid argument "many" for "--limit"`},
	} {
		t.Run(tt.args, func(t *testing.T) {
			f, _, _ := cmdtest.Factory(t)
			var got *JobsOptions
			err := cmdtest.Run(f, NewCmdJobs(f, func(o *JobsOptions) error { got = o; return nil }), tt.args)
			if tt.wantErr != "" {
				usage(t, err, tt.wantErr)
				return
			}
			if err != nil || got.ID != tt.want.ID || got.JSON != tt.want.JSON || got.Filter != tt.want.Filter {
				t.Errorf("got %+v %v\nwant %+v", got, err, tt.want)
			}
		})
	}
}

func TestNewCmdHistoryLogsPlans(t *testing.T) {
	f, _, _ := cmdtest.Factory(t)
	var h *HistoryOptions
	if err := cmdtest.Run(f, NewCmdHistory(f, func(o *HistoryOptions) error { h = o; return nil }), "history --branch dev --limit 3"); err != nil ||
		h.Branch != "dev" || h.Limit != 3 {
		t.Errorf("history: %+v %v", h, err)
	}
	usage(t, cmdtest.Run(f, NewCmdHistory(f, nil), "history x"), `unknown command "x" for "provisioner history"`)

	var l *LogsOptions
	if err := cmdtest.Run(f, NewCmdLogs(f, func(o *LogsOptions) error { l = o; return nil }), "logs j1 -f"); err != nil || l.ID != "j1" || !l.Follow {
		t.Errorf("logs: %+v %v", l, err)
	}
	usage(t, cmdtest.Run(f, NewCmdLogs(f, nil), "logs"), "accepts 1 arg(s), received 0")

	var p *PlansCheckOptions
	if err := cmdtest.Run(f, NewCmdPlansCheck(f, func(o *PlansCheckOptions) error { p = o; return nil }), "check --tags t --plans p -v"); err != nil ||
		p.Tags != "t" || p.Plans != "p" || !p.Verbose {
		t.Errorf("plans check: %+v %v", p, err)
	}
	usage(t, cmdtest.Run(f, NewCmdPlansCheck(f, nil), "check"), "--tags DIR is required")
	usage(t, cmdtest.Run(f, NewCmdPlans(f), "plans nope"), `unknown command "nope" for "provisioner plans"`)
}

var created = time.Date(2026, 8, 1, 10, 0, 0, 0, time.UTC)

func jobOf(id string, state provisioner.JobState) provisioner.Job {
	return provisioner.Job{ID: id, Kind: provisioner.JobTest, Cluster: "nightly", Version: "v1.0.0", State: state,
		RequestedBy: "ada", CreatedAt: created}
}

func TestJobsOutput(t *testing.T) {
	for _, tty := range []bool{false, true} {
		f, out, _ := cmdtest.Factory(t)
		f.IOStreams.SetStdoutTTY(tty)
		cmdtest.API(t, f, map[string][]cmdtest.Answer{"GET /jobs": cmdtest.OK(api.Jobs{Jobs: []provisioner.Job{
			jobOf("j2", provisioner.JobRunning), jobOf("j1", provisioner.JobPassed)}})})
		if err := cmdtest.Run(f, NewCmdJobs(f, nil), "jobs"); err != nil {
			t.Fatal(err)
		}
		want := "j2\ttest\tnightly\tv1.0.0\trunning\tada\t2026-08-01T10:00:00Z\nj1\ttest\tnightly\tv1.0.0\tpassed\tada\t2026-08-01T10:00:00Z\n"
		if tty {
			want = "JOB  KIND  CLUSTER  VERSION  STATE    BY   CREATED\n" +
				"j2   test  nightly  v1.0.0   running  ada  2026-08-01T10:00:00Z\n" +
				"j1   test  nightly  v1.0.0   passed   ada  2026-08-01T10:00:00Z\n"
		}
		if out.String() != want {
			t.Errorf("tty=%v:\n%s\nwant:\n%s", tty, out.String(), want)
		}
	}
}

// passedJob is a finished TEST with two steps.
func passedJob() provisioner.Job {
	j := jobOf("j1", provisioner.JobPassed)
	j.Steps = []provisioner.StepResult{
		{Name: "checkout", Status: "passed", Duration: 1500 * time.Millisecond},
		{Name: "pytest", Status: "passed", Tests: 40, Skipped: 2, Duration: 90 * time.Second},
	}
	return j
}

// TestTestWait: `test --wait` follows the job with plain progress lines
// when stderr is no terminal, then prints the job and its steps.
func TestTestWait(t *testing.T) {
	running := jobOf("j1", provisioner.JobRunning)
	running.Steps = []provisioner.StepResult{{Name: "checkout"}}
	answers := func() map[string][]cmdtest.Answer {
		return map[string][]cmdtest.Answer{
			"POST /test":   {{Status: http.StatusOK, Body: api.JobStarted{Job: jobOf("j1", provisioner.JobQueued)}}},
			"GET /jobs/j1": {{Status: http.StatusOK, Body: api.JobResult{Job: running}}, {Status: http.StatusOK, Body: api.JobResult{Job: passedJob()}}},
		}
	}
	f, out, errb := cmdtest.Factory(t)
	cmdtest.API(t, f, answers())
	if err := cmdtest.Run(f, NewCmdStart(f, provisioner.JobTest, nil), "test nightly --version v1.0.0 --wait"); err != nil {
		t.Fatal(err)
	}
	if want := "test nightly v1.0.0: running, step checkout after 0s\ntest nightly v1.0.0: passed, step pytest after 0s\n"; errb.String() != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", errb.String(), want)
	}
	const want = "job j1: test nightly v1.0.0: passed\n" +
		"checkout\tpassed\t0\t2s\t-\n" +
		"pytest\tpassed\t0\t1m30s\t40 tests, 0 failed, 0 errors, 2 skipped\n"
	if out.String() != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", out.String(), want)
	}

	f, out, errb = cmdtest.Factory(t)
	f.IOStreams.SetStdoutTTY(true)
	f.IOStreams.SetStderrTTY(true)
	cmdtest.API(t, f, answers())
	if err := cmdtest.Run(f, NewCmdStart(f, provisioner.JobTest, nil), "test nightly --version v1.0.0 --wait"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errb.String(), "\r") || strings.Contains(errb.String(), "after 0s\n") {
		t.Errorf("terminal stderr: %q", errb.String())
	}
	if !strings.Contains(out.String(), "STEP      RESULT  EXIT  TIME   TESTS\ncheckout  passed  0     2s     -\n") {
		t.Errorf("terminal stdout:\n%s", out.String())
	}
}

// TestTestWaitFails: a job that did not pass is a failure naming its log.
func TestTestWaitFails(t *testing.T) {
	failed := jobOf("j1", provisioner.JobFailed)
	failed.Reason = "step pytest failed"
	f, _, _ := cmdtest.Factory(t)
	cmdtest.API(t, f, map[string][]cmdtest.Answer{
		"POST /test":   {{Status: http.StatusOK, Body: api.JobStarted{Job: jobOf("j1", provisioner.JobQueued)}}},
		"GET /jobs/j1": cmdtest.OK(api.JobResult{Job: failed}),
	})
	err := cmdtest.Run(f, NewCmdStart(f, provisioner.JobTest, nil), "test nightly --version v1.0.0 --wait")
	if provisioner.ErrorCode(err) != provisioner.EFAILED || !strings.Contains(err.Error(), "step pytest failed (log: provisioner logs j1)") {
		t.Errorf("got %v", err)
	}
}

// TestHistoryCommand: the grid's symbols follow standard output.
func TestHistoryCommand(t *testing.T) {
	for _, tty := range []bool{false, true} {
		f, out, _ := cmdtest.Factory(t)
		f.IOStreams.SetStdoutTTY(tty)
		cmdtest.API(t, f, map[string][]cmdtest.Answer{"GET /report/tests": cmdtest.OK(tenRuns())})
		if err := cmdtest.Run(f, NewCmdHistory(f, nil), "history"); err != nil {
			t.Fatal(err)
		}
		pass := map[bool]string{false: "checkout   P   P", true: "checkout   ✓   ✓"}[tty]
		if !strings.Contains(out.String(), pass) {
			t.Errorf("tty=%v:\n%s", tty, out.String())
		}
	}
}
