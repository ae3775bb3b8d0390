package jobs

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"provisioner"
	"provisioner/local/internal/proc"
	"provisioner/local/logs"
	"provisioner/plan"
)

// fixtureRepo makes a git repository whose files are the steps of the test
// plans, tagged v1.0.0 (and v2.0.0 one commit later).
func fixtureRepo(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	dir := filepath.Join(t.TempDir(), "sliderule")
	files := map[string]string{
		"pass.sh": "echo passing step \"$STEP_NAME\" of \"$JOB_KIND\" for \"$CLUSTER\" at \"$VERSION\"\n",
		"fail.sh": "echo failing >&2\nexit 7\n",
		// hang.sh leaves processes of every kind behind: in its group, out
		// of its group (a new session), and ignoring SIGTERM.
		"hang.sh": `echo hanging
sleep 300 & echo $! >> "$WORK_DIR/pids"
(trap '' TERM; exec sleep 301) & echo $! >> "$WORK_DIR/pids"
if command -v setsid >/dev/null; then setsid sleep 302 & echo $! >> "$WORK_DIR/pids"; fi
env -u SLIDERULE_JOB sleep 303 & echo $! >> "$WORK_DIR/pids"
touch "$WORK_DIR/hanging"
sleep 304
`,
		// junit.sh passes (exit 0) but its report counts a failure.
		"junit.sh": `mkdir -p reports
cat > reports/suite.xml <<'XML'
<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="3" failures="1" errors="0" skipped="1">
<testcase name="a"/><testcase name="b"><failure message="boom">assert 1 == 2</failure></testcase>
<testcase name="c"><skipped/></testcase>
</testsuite></testsuites>
XML
`,
		"junit-ok.sh": `mkdir -p reports
printf '<testsuite tests="2"><testcase name="a"/><testcase name="b"/></testsuite>' > reports/ok.xml
`,
		"count.sh":      "echo started >> \"$WORK_DIR/count\"\nsleep 1\n",
		"killparent.sh": "kill -KILL $PPID\nsleep 30\n",
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=test", "-c", "user.email=test@example.com", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"}, args...)...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q")
	git("add", ".")
	git("commit", "-q", "-m", "steps")
	git("tag", "v1.0.0")
	if err := os.WriteFile(filepath.Join(dir, "v2"), []byte("2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git("add", ".")
	git("commit", "-q", "-m", "v2")
	git("tag", "v2.0.0")
	return dir
}

// testPlans is a Set whose test plan is yaml (steps only).
func testPlans(t testing.TB, steps string) *plan.Set {
	t.Helper()
	p, err := plan.Parse([]byte("kind: test\ntimeout: 60s\nsteps:\n"+steps), "test")
	if err != nil {
		t.Fatal(err)
	}
	s, err := plan.NewSet(p)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type jobEnv struct {
	runner *Runner
	logs   *logs.Store
	repo   string
	dir    string
}

func newJobRunner(t testing.TB, steps string, opt ...func(*Config)) *jobEnv {
	t.Helper()
	repo := fixtureRepo(t)
	store, err := logs.Open(logs.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Dir: t.TempDir(), RepoURL: repo, Domain: "localhost", Plans: testPlans(t, steps), Logs: store,
		KillGrace: time.Second, DeadlineGrace: time.Second, Timeout: time.Minute,
	}
	for _, o := range opt {
		o(&cfg)
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := &jobEnv{runner: r, logs: store, repo: repo, dir: cfg.Dir}
	t.Cleanup(func() {
		// Whatever a test left running ends with it.
		ents, _ := os.ReadDir(cfg.Dir)
		for _, ent := range ents {
			if st, err := r.readState(ent.Name()); err == nil {
				r.kill(context.Background(), st)
			}
		}
	})
	return e
}

func newJobID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func testJob(version string) provisioner.Job {
	id := newJobID()
	return provisioner.Job{ID: id, Kind: provisioner.JobTest, Cluster: "nightly-1", Version: version,
		LogKey: "jobs/" + id + "/log", Deadline: time.Now().Add(time.Minute), State: provisioner.JobQueued}
}

// wait polls a job until it is final.
func (e *jobEnv) wait(t testing.TB, j provisioner.Job) provisioner.JobStatus {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, err := e.runner.Poll(context.Background(), j)
		if err != nil {
			t.Fatalf("Poll: %v", err)
		}
		if st.State.Final() {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("job still %s after 60s; log:\n%s", st.State, e.logText(t, j))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (e *jobEnv) run(t testing.TB, j provisioner.Job) provisioner.JobStatus {
	t.Helper()
	if _, err := e.runner.Start(context.Background(), j); err != nil {
		t.Fatalf("Start: %v", err)
	}
	return e.wait(t, j)
}

func (e *jobEnv) logText(t testing.TB, j provisioner.Job) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.logs.Dir(), filepath.FromSlash(j.LogKey)))
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	return string(b)
}

func stepsOf(st provisioner.JobStatus) map[string]provisioner.StepResult {
	m := map[string]provisioner.StepResult{}
	for _, s := range st.Steps {
		m[s.Name] = s
	}
	return m
}

func wantState(t testing.TB, e *jobEnv, j provisioner.Job, st provisioner.JobStatus, want provisioner.JobState) {
	t.Helper()
	if st.State != want {
		t.Fatalf("state %s (%s), want %s; steps %+v\nlog:\n%s", st.State, st.Reason, want, st.Steps, e.logText(t, j))
	}
}

func TestJobPasses(t *testing.T) {
	t.Parallel()
	e := newJobRunner(t, `
  - name: first
    run: bash pass.sh
  - name: tests
    run: bash junit-ok.sh
    junit: reports/*.xml
`)
	j := testJob("v1.0.0")
	st := e.run(t, j)
	wantState(t, e, j, st, provisioner.JobPassed)
	if st.Reason != "" {
		t.Errorf("reason %q for a passed job", st.Reason)
	}
	if got := strings.Join(names(st), ","); got != "checkout,first,tests" {
		t.Fatalf("steps %s", got)
	}
	steps := stepsOf(st)
	if s := steps["tests"]; s.Status != "passed" || s.Tests != 2 || s.Failures != 0 || s.ExitCode != 0 {
		t.Fatalf("tests step %+v", s)
	}
	log := e.logText(t, j)
	for _, want := range []string{
		"==> step checkout", "checked out v1.0.0 at ",
		"==> step 1/2 first", "passing step first of test for nightly-1 at v1.0.0", "<== step first: passed (exit 0",
		"==> step 2/2 tests", "==> job finished",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	// The log is the LogStore's, private, and readable through it.
	rc, err := e.logs.Open(context.Background(), j.LogKey)
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	fi, err := os.Stat(filepath.Join(e.logs.Dir(), filepath.FromSlash(j.LogKey)))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("log file: %v %v", fi.Mode(), err)
	}
	// Polling a finished job again gives the same answer.
	if again, err := e.runner.Poll(context.Background(), j); err != nil || again.State != provisioner.JobPassed {
		t.Fatalf("second Poll: %+v %v", again, err)
	}
}

func names(st provisioner.JobStatus) []string {
	var n []string
	for _, s := range st.Steps {
		n = append(n, s.Name)
	}
	return n
}

func TestJobLatestChecksOutDefaultBranch(t *testing.T) {
	t.Parallel()
	e := newJobRunner(t, "  - name: v2\n    run: test -f v2\n")
	j := testJob("latest")
	wantState(t, e, j, e.run(t, j), provisioner.JobPassed)
	// v1.0.0 lacks the file: the step fails.
	j = testJob("v1.0.0")
	wantState(t, e, j, e.run(t, j), provisioner.JobFailed)
}

func TestJobFailsAndStops(t *testing.T) {
	t.Parallel()
	e := newJobRunner(t, `
  - name: broken
    run: bash fail.sh
  - name: after
    run: bash pass.sh
`)
	j := testJob("v1.0.0")
	st := e.run(t, j)
	wantState(t, e, j, st, provisioner.JobFailed)
	steps := stepsOf(st)
	if s := steps["broken"]; s.Status != "failed" || s.ExitCode != 7 {
		t.Fatalf("broken step %+v", s)
	}
	if s := steps["after"]; s.Status != "skipped" {
		t.Fatalf("the step after a failure without continue_on_failure ran: %+v", s)
	}
	if !strings.Contains(st.Reason, "broken (exit status 7") {
		t.Fatalf("reason %q", st.Reason)
	}
}

func TestJobContinueOnFailure(t *testing.T) {
	t.Parallel()
	e := newJobRunner(t, `
  - name: broken
    run: bash fail.sh
    continue_on_failure: true
  - name: after
    run: bash pass.sh
`)
	j := testJob("v1.0.0")
	st := e.run(t, j)
	wantState(t, e, j, st, provisioner.JobFailed)
	if s := stepsOf(st)["after"]; s.Status != "passed" {
		t.Fatalf("the step after a failure with continue_on_failure: %+v", s)
	}
}

func TestJobJUnitFailureFailsJob(t *testing.T) {
	t.Parallel()
	e := newJobRunner(t, `
  - name: pytest
    run: bash junit.sh
    junit: reports/*.xml
    continue_on_failure: true
  - name: after
    run: bash pass.sh
`)
	j := testJob("v1.0.0")
	st := e.run(t, j)
	wantState(t, e, j, st, provisioner.JobFailed)
	s := stepsOf(st)["pytest"]
	if s.ExitCode != 0 || s.Status != "failed" || s.Tests != 3 || s.Failures != 1 || s.Skipped != 1 {
		t.Fatalf("pytest step %+v", s)
	}
	if !strings.Contains(st.Reason, "exit status 0, but 1 failed") {
		t.Fatalf("reason %q", st.Reason)
	}
}

func TestJobMissingJUnitFailsJob(t *testing.T) {
	t.Parallel()
	e := newJobRunner(t, `
  - name: pytest
    run: bash pass.sh
    junit: reports/*.xml
`)
	j := testJob("v1.0.0")
	st := e.run(t, j)
	wantState(t, e, j, st, provisioner.JobFailed)
	if !strings.Contains(st.Reason, "no JUnit report") {
		t.Fatalf("reason %q", st.Reason)
	}
}

// alivePIDs returns the pids listed in WORK_DIR/pids that still run.
func alivePIDs(t testing.TB, file string) (all, alive []int) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("no pid file: %v", err)
	}
	for _, f := range strings.Fields(string(b)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, pid)
		if isRunning(pid) {
			alive = append(alive, pid)
		}
	}
	return all, alive
}

func isRunning(pid int) bool {
	_, running, err := proc.Identity(pid)
	return err == nil && running
}

func assertAllDead(t testing.TB, e *jobEnv, j provisioner.Job) {
	t.Helper()
	all, alive := alivePIDs(t, filepath.Join(e.dir, j.ID, "pids"))
	if len(all) < 3 {
		t.Fatalf("the hanging step recorded only %v", all)
	}
	if len(alive) > 0 {
		for _, pid := range alive {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		t.Fatalf("processes %v of %v survived the job", alive, all)
	}
	if left := jobProcs(&jobState{JobID: j.ID, PID: 1 << 30}, "", false); len(left) > 0 {
		t.Fatalf("marked processes survived: %v", left)
	}
}

func TestJobStepTimeoutKillsEverything(t *testing.T) {
	t.Parallel()
	e := newJobRunner(t, `
  - name: hang
    run: bash hang.sh
    timeout: 1s
    continue_on_failure: true
  - name: after
    run: bash pass.sh
`)
	j := testJob("v1.0.0")
	start := time.Now()
	st := e.run(t, j)
	wantState(t, e, j, st, provisioner.JobTimedOut)
	steps := stepsOf(st)
	if s := steps["hang"]; s.Status != "timed_out" {
		t.Fatalf("hang step %+v", s)
	}
	if s := steps["after"]; s.Status != "passed" {
		t.Fatalf("after step %+v", s)
	}
	if !strings.Contains(st.Reason, "hang exceeded its 1s timeout") {
		t.Fatalf("reason %q", st.Reason)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("took %s", d)
	}
	assertAllDead(t, e, j)
}

func TestJobDeadlineKillsEverything(t *testing.T) {
	t.Parallel()
	e := newJobRunner(t, `
  - name: hang
    run: bash hang.sh
  - name: after
    run: bash pass.sh
`)
	j := testJob("v1.0.0")
	j.Deadline = time.Now().Add(5 * time.Second)
	st := e.run(t, j)
	wantState(t, e, j, st, provisioner.JobTimedOut)
	steps := stepsOf(st)
	if steps["hang"].Status != "timed_out" || steps["after"].Status != "skipped" {
		t.Fatalf("steps %+v", st.Steps)
	}
	if !strings.Contains(st.Reason, "deadline") {
		t.Fatalf("reason %q", st.Reason)
	}
	assertAllDead(t, e, j)
}

// TestJobOverdueKilledByPoll: a script that ignores its own deadline (here:
// one that cannot run its watchdog because it is stopped) is killed by
// Poll past the deadline and its grace periods.
func TestJobOverdueKilledByPoll(t *testing.T) {
	t.Parallel()
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	e := newJobRunner(t, "  - name: hang\n    run: bash hang.sh\n", func(c *Config) { c.Now = clock })
	j := testJob("v1.0.0")
	j.Deadline = time.Now().Add(time.Hour)
	if _, err := e.runner.Start(context.Background(), j); err != nil {
		t.Fatal(err)
	}
	waitFile(t, filepath.Join(e.dir, j.ID, "hanging"))
	mu.Lock()
	now = now.Add(2 * time.Hour)
	mu.Unlock()
	st, err := e.runner.Poll(context.Background(), j)
	if err != nil {
		t.Fatal(err)
	}
	wantState(t, e, j, st, provisioner.JobTimedOut)
	assertAllDead(t, e, j)
}

func waitFile(t testing.TB, path string) {
	t.Helper()
	for i := 0; i < 600; i++ {
		if _, err := os.Stat(path); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never appeared", path)
}

func TestJobMissingVersionIsError(t *testing.T) {
	t.Parallel()
	e := newJobRunner(t, "  - name: first\n    run: bash pass.sh\n")
	j := testJob("v9.9.9")
	st := e.run(t, j)
	wantState(t, e, j, st, provisioner.JobError)
	if !strings.Contains(st.Reason, "version v9.9.9 is not a tag, branch or commit") || !strings.Contains(st.Reason, "fatal: bad revision 'v9.9.9^{commit}'") {
		t.Fatalf("reason %q lacks git's message", st.Reason)
	}
	if s := stepsOf(st)["checkout"]; s.Status != "failed" {
		t.Fatalf("checkout step %+v", s)
	}
	if s := stepsOf(st)["first"]; s.Status != "skipped" {
		t.Fatalf("first step %+v", s)
	}
}

func TestJobUnreachableRepoIsError(t *testing.T) {
	t.Parallel()
	e := newJobRunner(t, "  - name: first\n    run: bash pass.sh\n", func(c *Config) {
		c.RepoURL = filepath.Join(c.Dir, "no-such-repo")
	})
	j := testJob("v1.0.0")
	st := e.run(t, j)
	wantState(t, e, j, st, provisioner.JobError)
	if !strings.Contains(st.Reason, "could not clone the repository") || !strings.Contains(st.Reason, "does not exist") {
		t.Fatalf("reason %q", st.Reason)
	}
}

func TestJobScriptDiesWithoutResult(t *testing.T) {
	t.Parallel()
	e := newJobRunner(t, "  - name: killer\n    run: bash killparent.sh\n")
	j := testJob("v1.0.0")
	st := e.run(t, j)
	wantState(t, e, j, st, provisioner.JobError)
	if !strings.Contains(st.Reason, "without a result") {
		t.Fatalf("reason %q", st.Reason)
	}
}

func TestJobCancel(t *testing.T) {
	t.Parallel()
	e := newJobRunner(t, "  - name: hang\n    run: bash hang.sh\n")
	j := testJob("v1.0.0")
	if _, err := e.runner.Start(context.Background(), j); err != nil {
		t.Fatal(err)
	}
	waitFile(t, filepath.Join(e.dir, j.ID, "hanging"))
	st, err := e.runner.Poll(context.Background(), j)
	if err != nil || st.State != provisioner.JobRunning {
		t.Fatalf("running job: %+v %v", st, err)
	}
	if s := stepsOf(st)["hang"]; s.Status != "running" {
		t.Fatalf("running step %+v", st.Steps)
	}
	if err := e.runner.Cancel(context.Background(), j); err != nil {
		t.Fatal(err)
	}
	st = e.wait(t, j)
	wantState(t, e, j, st, provisioner.JobCancelled)
	if s := stepsOf(st)["hang"]; s.Status != "cancelled" {
		t.Fatalf("cancelled step %+v", s)
	}
	assertAllDead(t, e, j)
	// Cancel again, and of a job never started: nothing to do.
	if err := e.runner.Cancel(context.Background(), j); err != nil {
		t.Fatal(err)
	}
	if err := e.runner.Cancel(context.Background(), testJob("v1.0.0")); err != nil {
		t.Fatal(err)
	}
}

func TestJobStartIdempotent(t *testing.T) {
	t.Parallel()
	e := newJobRunner(t, "  - name: count\n    run: bash count.sh\n")
	j := testJob("v1.0.0")
	var wg sync.WaitGroup
	instances := make([]string, 5)
	errs := make([]error, 5)
	for i := range instances {
		wg.Add(1)
		go func() {
			defer wg.Done()
			instances[i], errs[i] = e.runner.Start(context.Background(), j)
		}()
	}
	wg.Wait()
	for i := range instances {
		if errs[i] != nil || instances[i] != instances[0] || !strings.HasPrefix(instances[0], "local-") {
			t.Fatalf("Start %d: %q %v (first %q)", i, instances[i], errs[i], instances[0])
		}
	}
	wantState(t, e, j, e.wait(t, j), provisioner.JobPassed)
	// A restarted provisioner (a new runner on the same directory) finds
	// the job, and does not start it again either.
	r2, err := New(e.runner.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if inst, err := r2.Start(context.Background(), j); err != nil || inst != instances[0] {
		t.Fatalf("Start after restart: %q %v", inst, err)
	}
	if st, err := r2.Poll(context.Background(), j); err != nil || st.State != provisioner.JobPassed {
		t.Fatalf("Poll after restart: %+v %v", st, err)
	}
	b, err := os.ReadFile(filepath.Join(e.dir, j.ID, "count"))
	if err != nil || strings.Count(string(b), "started") != 1 {
		t.Fatalf("the step ran %q times (%v)", b, err)
	}
}

func TestJobsRunConcurrently(t *testing.T) {
	t.Parallel()
	e := newJobRunner(t, "  - name: count\n    run: bash count.sh\n  - name: where\n    run: pwd > \"$WORK_DIR/where\"\n")
	a, b := testJob("v1.0.0"), testJob("v2.0.0")
	start := time.Now()
	for _, j := range []provisioner.Job{a, b} {
		if _, err := e.runner.Start(context.Background(), j); err != nil {
			t.Fatal(err)
		}
	}
	for _, j := range []provisioner.Job{a, b} {
		wantState(t, e, j, e.wait(t, j), provisioner.JobPassed)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("two 1s jobs took %s", d)
	}
	wa, _ := os.ReadFile(filepath.Join(e.dir, a.ID, "where"))
	wb, _ := os.ReadFile(filepath.Join(e.dir, b.ID, "where"))
	if string(wa) == string(wb) || !strings.HasPrefix(string(wa), filepath.Join(e.dir, a.ID)) {
		t.Fatalf("jobs ran in %q and %q", wa, wb)
	}
}

func TestJobStartRefusesBadInput(t *testing.T) {
	t.Parallel()
	e := newJobRunner(t, "  - name: first\n    run: bash pass.sh\n")
	for _, v := range []string{"--upload-pack=touch /tmp/pwned", ";rm -rf /", "$(id)", "../", "a b", strings.Repeat("v", 200), ""} {
		j := testJob(v)
		if _, err := e.runner.Start(context.Background(), j); provisioner.ErrorCode(err) != provisioner.EINVALID {
			t.Fatalf("Start(version %q): %v, want invalid_request", v, err)
		}
		if _, err := os.Stat(filepath.Join(e.dir, j.ID)); err == nil {
			t.Fatalf("version %q: a job directory was made", v)
		}
	}
	j := testJob("v1.0.0")
	j.Cluster = "x;y"
	if _, err := e.runner.Start(context.Background(), j); provisioner.ErrorCode(err) != provisioner.EINVALID {
		t.Fatalf("bad cluster: %v", err)
	}
	j = testJob("v1.0.0")
	j.ID = "../../etc"
	if _, err := e.runner.Start(context.Background(), j); provisioner.ErrorCode(err) != provisioner.EINVALID {
		t.Fatalf("bad id: %v", err)
	}
	if _, err := e.runner.Poll(context.Background(), testJob("v1.0.0")); provisioner.ErrorCode(err) != provisioner.ENOTFOUND {
		t.Fatalf("Poll of an unknown job: %v", err)
	}
	j = testJob("v1.0.0")
	j.Kind = provisioner.JobRelease // the test plans have none
	if _, err := e.runner.Start(context.Background(), j); provisioner.ErrorCode(err) != provisioner.EINVALID {
		t.Fatalf("kind without a plan: %v", err)
	}
}

func TestJobContainerWrapperAndExtraEnv(t *testing.T) {
	t.Parallel()
	e := newJobRunner(t, `
  - name: direct
    run: test -z "${IN_CONTAINER:-}" && test "$REGISTRY" = "reg.example.com/x y"
  - name: contained
    run: test "$IN_CONTAINER" = yes && test "$STEP_NAME" = contained && test "$PWD" = "$CHECKOUT_DIR"
    container: true
`, func(c *Config) {
		c.ContainerWrapper = `env IN_CONTAINER=yes`
		c.Env = map[string]string{"REGISTRY": "reg.example.com/x y"}
		c.OnExit = `echo "on-exit $JOB_STATE" > "$WORK_DIR/on-exit"`
	})
	j := testJob("v1.0.0")
	wantState(t, e, j, e.run(t, j), provisioner.JobPassed)
	b, err := os.ReadFile(filepath.Join(e.dir, j.ID, "on-exit"))
	if err != nil || string(b) != "on-exit finished\n" {
		t.Fatalf("on-exit: %q %v", b, err)
	}
}

func TestNewJobRunnerChecksSettings(t *testing.T) {
	dir := t.TempDir()
	for _, cfg := range []Config{
		{RepoURL: "/repo"},
		{Dir: dir},
		{Dir: dir, RepoURL: "ext::sh -c touch% /tmp/pwned"},
		{Dir: dir, RepoURL: "--upload-pack=x"},
		{Dir: dir, RepoURL: "/repo", Domain: "a b"},
		{Dir: dir, RepoURL: "/repo", Env: map[string]string{"PATH": "/tmp"}},
		{Dir: dir, RepoURL: "/repo", Env: map[string]string{"BASH_ENV": "/tmp/x"}},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

// A step gets the secrets it declares, as environment; the job log shows
// "***" for their values and their base64; other steps get nothing; the
// script and environment file never hold the values; the job's copy of
// the secrets is gone once the job is final.
func TestJobSecretsMaskedAndScoped(t *testing.T) {
	t.Parallel()
	const token = "ghp_s3cr3t-Value/with'quote"
	const other = "second secret\nline two"
	e := newJobRunner(t, `
  - name: uses-token
    secrets: [SLIDERULE_GITHUB_TOKEN]
    run: |
      echo "token is $SLIDERULE_GITHUB_TOKEN"
      echo "b64 $(printf '%s' "$SLIDERULE_GITHUB_TOKEN" | base64 | tr -d '\n')" >&2
      printf '%s' "$SLIDERULE_GITHUB_TOKEN" > "$WORK_DIR/seen-token"
      printf '%s' "${OTHER_SECRET-unset}" > "$WORK_DIR/seen-other-in-token-step"
      echo "names $STEP_SECRETS"
  - name: no-secrets
    run: |
      printf '%s|%s' "${SLIDERULE_GITHUB_TOKEN-unset}" "${OTHER_SECRET-unset}" > "$WORK_DIR/seen-none"
      echo "line two"
  - name: missing
    secrets: [NOT_CONFIGURED]
    run: printf '%s' "${NOT_CONFIGURED-unset}" > "$WORK_DIR/seen-missing"
`, func(c *Config) {
		c.Secrets = map[string]string{"SLIDERULE_GITHUB_TOKEN": token, "OTHER_SECRET": other}
		// Exported to the job by the runner's environment: must not reach
		// a step that does not declare the secret of that name either.
		c.Env = map[string]string{"OTHER_SECRET": "not-the-secret"}
	})
	j := testJob("v1.0.0")
	wantState(t, e, j, e.run(t, j), provisioner.JobPassed)
	dir := filepath.Join(e.dir, j.ID)
	read := func(name string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if got := read("seen-token"); got != token {
		t.Errorf("the step saw %q, want the secret", got)
	}
	if got := read("seen-other-in-token-step"); got != "unset" {
		t.Errorf("the token step saw OTHER_SECRET=%q", got)
	}
	if got := read("seen-none"); got != "unset|not-the-secret" {
		t.Errorf("the step without secrets saw %q", got)
	}
	if got := read("seen-missing"); got != "unset" {
		t.Errorf("a missing secret: %q", got)
	}
	log := e.logText(t, j)
	for _, v := range []string{token, "second secret", base64.StdEncoding.EncodeToString([]byte(token))} {
		if strings.Contains(log, v) {
			t.Errorf("the log holds a secret %q:\n%s", v, log)
		}
	}
	for _, want := range []string{"token is ***", "b64 ***", "names SLIDERULE_GITHUB_TOKEN", "\n***\n", "secret NOT_CONFIGURED is not configured"} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %q:\n%s", want, log)
		}
	}
	for _, f := range []string{jobScriptFile, jobEnvFile} {
		if s := read(f); strings.Contains(s, "s3cr3t") || strings.Contains(s, "second secret") {
			t.Errorf("%s holds a secret", f)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, jobSecrets)); !os.IsNotExist(err) {
		t.Errorf("the job's secrets file outlives the job: %v", err)
	}
}

func TestNewJobRunnerRefusesBadSecrets(t *testing.T) {
	dir := t.TempDir()
	for _, s := range []map[string]string{{"PATH": "x"}, {"lower": "x"}, {"JS_X": "x"}, {"A": "nul\x00"}} {
		if _, err := New(Config{Dir: dir, RepoURL: "/repo", Secrets: s}); err == nil {
			t.Errorf("secrets %v accepted", s)
		}
	}
}
