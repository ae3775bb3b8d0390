// Package jobs is the embedded backend's job runner (Runner, a
// provisioner.JobRunner): TEST and RELEASE jobs run as the plan's script
// (package plan) on this machine, each in a directory and a session of its
// own, their logs written in place into the log store (package logs).
package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"provisioner"
	"provisioner/local/internal/files"
	"provisioner/local/internal/proc"
	"provisioner/local/logs"
	"provisioner/plan"
)

// Config configures a Runner.
type Config struct {
	// Dir holds one work directory per job: Dir/<job id>/ with the script,
	// its environment file, the checkout, the result and the JUnit reports.
	Dir string
	// RepoURL is the sliderule repository (--sliderule-repo): a URL or a
	// local path.
	RepoURL string
	// Domain is the clusters' domain, for the client tests.
	Domain string
	// Organization, when set, is what the client tests call every cluster
	// instead of its name ("None": a local cluster on Domain).
	Organization string
	// ContainerWrapper runs container steps (the build environment); ""
	// runs them directly. See plan.Inputs.
	ContainerWrapper string
	// OnExit is shell run by the script after it wrote the result.
	OnExit string
	// Env holds extra variables for the steps (REGISTRY, AWS_REGION, ...).
	Env map[string]string
	// Secrets are the operator's secrets (serve --job-secrets): each step
	// gets the ones its plan declares, and the job log masks them all. A
	// job's copy (its directory's secrets.env, mode 0600) is removed once
	// the job is final.
	Secrets map[string]string
	// Data (serve --job-data), when set, is copied into each job's data
	// directory (its directory's data/, exported to the steps as DATA_DIR)
	// before the job runs, the way an AWS job host fills /data from the
	// project bucket: Data/server/ and Data/ams/ both into data/ (a missing
	// one is skipped). The copy is removed once the job is final.
	Data string
	// Plans are the plans (plan.Load); nil means the embedded ones.
	Plans *plan.Set
	// Logs receives each job's log, written in place under the job's
	// LogKey (default "jobs/<id>/log") so it can be followed; nil keeps the
	// log in the job's directory only.
	Logs *logs.Store
	// Timeout bounds a job without a deadline of its own (default 2h).
	Timeout time.Duration
	// KillGrace is the time between SIGTERM and SIGKILL (default 10s).
	// DeadlineGrace is the time the script has after the deadline to report
	// (default 60s); after it, and KillGrace more, Poll kills what is left.
	KillGrace     time.Duration
	DeadlineGrace time.Duration
	// Bash is the shell (default: bash from PATH).
	Bash   string
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Runner is a provisioner.JobRunner that runs the job script on this
// machine: each job in a directory of its own, in a session (and process
// group) of its own, marked by SLIDERULE_JOB=<id> in its environment, so
// that a cancel or the deadline ends every process it started, even the
// ones that left its process group. It keeps what it needs on disk, so a
// restarted provisioner finds its jobs again.
type Runner struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	children map[string]*jobChild // by job id: processes this runner started
}

var _ provisioner.JobRunner = (*Runner)(nil)

type jobChild struct {
	pid   int
	ident string
	done  chan struct{}
	err   error // of Wait, once done is closed
}

// jobState is what Start leaves in the job's directory (runner.json).
type jobState struct {
	JobID    string    `json:"job_id"`
	PID      int       `json:"pid"`
	Ident    string    `json:"ident"`
	Started  time.Time `json:"started"`
	Deadline time.Time `json:"deadline"`
	Log      string    `json:"log"`
	Plan     plan.Plan `json:"plan"`
}

// Files in a job's directory.
const (
	jobStateFile  = "runner.json"
	jobResultFile = "result.json"
	jobCancelled  = "cancelled"   // Cancel was called
	jobOverdue    = "overdue"     // Poll killed the job past its deadline
	jobScriptFile = "job.sh"      // the script
	jobEnvFile    = "job.env"     // its inputs
	jobLogFile    = "job.log"     // the log, when there is no Logs
	jobSecrets    = "secrets.env" // the operator's secrets, while the job runs
	jobDataDir    = "data"        // the copy of Data, while the job runs
	maxJobStateSz = 1 << 20       // runner.json
	defaultJobTTL = 2 * time.Hour
)

// New checks cfg and makes Dir.
func New(cfg Config) (*Runner, error) {
	if err := proc.Supported(); err != nil {
		return nil, err
	}
	if cfg.Dir == "" {
		return nil, errors.New("local job runner: no directory")
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, err
	}
	cfg.Dir = dir
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, err
	}
	if cfg.RepoURL == "" {
		return nil, errors.New("local job runner: no sliderule repository (--sliderule-repo)")
	}
	if cfg.Domain == "" {
		cfg.Domain = "localhost"
	}
	if cfg.Plans == nil {
		if cfg.Plans, err = plan.Default(); err != nil {
			return nil, err
		}
	}
	if _, err := plan.SecretsEnv(cfg.Secrets); err != nil {
		return nil, fmt.Errorf("local job runner: %w", err)
	}
	if cfg.Data != "" {
		if cfg.Data, err = filepath.Abs(cfg.Data); err != nil {
			return nil, err
		}
		if fi, err := os.Stat(cfg.Data); err != nil {
			return nil, fmt.Errorf("local job runner: job data: %w", err)
		} else if !fi.IsDir() {
			return nil, fmt.Errorf("local job runner: job data %s is not a directory", cfg.Data)
		}
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = defaultJobTTL
	}
	if cfg.KillGrace <= 0 {
		cfg.KillGrace = plan.DefaultKillGrace
	}
	if cfg.DeadlineGrace <= 0 {
		cfg.DeadlineGrace = plan.DefaultDeadlineGrace
	}
	// The script counts whole seconds.
	cfg.KillGrace = max(cfg.KillGrace.Round(time.Second), time.Second)
	cfg.DeadlineGrace = max(cfg.DeadlineGrace.Round(time.Second), time.Second)
	if cfg.Bash == "" {
		if cfg.Bash, err = exec.LookPath("bash"); err != nil {
			return nil, fmt.Errorf("local job runner: %w", err)
		}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	r := &Runner{cfg: cfg, log: cfg.Logger, children: map[string]*jobChild{}}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	// Check the settings once, as a job would use them.
	if _, err := plan.Env(r.inputs(provisioner.Job{ID: "00000000", Kind: provisioner.JobTest, Cluster: "check", Version: "latest"},
		filepath.Join(cfg.Dir, "check"), filepath.Join(cfg.Dir, "check.log"), cfg.Now().Add(time.Hour))); err != nil {
		return nil, fmt.Errorf("local job runner: %w", err)
	}
	return r, nil
}

func (r *Runner) inputs(j provisioner.Job, dir, logPath string, deadline time.Time) plan.Inputs {
	extra := r.cfg.Env
	if r.cfg.Data != "" {
		extra = make(map[string]string, len(r.cfg.Env)+1)
		for k, v := range r.cfg.Env {
			extra[k] = v
		}
		extra["DATA_DIR"] = filepath.Join(dir, jobDataDir)
	}
	return plan.Inputs{
		JobID: j.ID, Kind: j.Kind, Cluster: j.Cluster, Organization: r.cfg.Organization, Version: j.Version,
		RepoURL: r.cfg.RepoURL, Domain: r.cfg.Domain, WorkDir: dir, LogFile: logPath, ResultFile: filepath.Join(dir, jobResultFile),
		Deadline: deadline, KillGrace: r.cfg.KillGrace, DeadlineGrace: r.cfg.DeadlineGrace,
		ContainerWrapper: r.cfg.ContainerWrapper, OnExit: r.cfg.OnExit, Extra: extra,
	}
}

func (r *Runner) jobDir(id string) string { return filepath.Join(r.cfg.Dir, id) }

func validJobID(id string) error {
	if len(id) < 8 || len(id) > 64 {
		return provisioner.Errorf(provisioner.EINVALID, "invalid job id %q", truncateJobID(id))
	}
	for _, c := range id {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return provisioner.Errorf(provisioner.EINVALID, "invalid job id %q", truncateJobID(id))
		}
	}
	return nil
}

func truncateJobID(s string) string {
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return strings.ToValidUTF8(s, "?")
}

// Start runs the job's script in the background and returns its process
// ("local-<pid>"). A job that was started before (by this runner or one
// before a restart) is not started again: Start returns its process.
func (r *Runner) Start(ctx context.Context, j provisioner.Job) (string, error) {
	if err := validJobID(j.ID); err != nil {
		return "", err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	dir := r.jobDir(j.ID)
	if st, err := r.readState(j.ID); err == nil {
		return instanceName(st.PID), nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	if _, err := os.Lstat(dir); err == nil {
		return "", provisioner.Wrap(provisioner.EINTERNAL, fmt.Errorf("job directory %s exists without %s", dir, jobStateFile),
			"the job was started before but did not record its process")
	}
	p, err := r.cfg.Plans.For(j.Kind, j.Version)
	if err != nil {
		return "", err
	}
	deadline := j.Deadline
	if deadline.IsZero() {
		deadline = r.cfg.Now().Add(r.cfg.Timeout)
	}
	logPath := filepath.Join(dir, jobLogFile)
	if r.cfg.Logs != nil {
		key := j.LogKey
		if key == "" {
			key = "jobs/" + j.ID + "/log"
		}
		if logPath, err = r.cfg.Logs.Path(key); err != nil {
			return "", err
		}
	}
	in := r.inputs(j, dir, logPath, deadline)
	inDir := map[string][]byte{}
	if len(r.cfg.Secrets) > 0 {
		if inDir[jobSecrets], err = plan.SecretsEnv(r.cfg.Secrets); err != nil {
			return "", err
		}
		in.SecretsFile = filepath.Join(dir, jobSecrets)
	}
	env, err := plan.Env(in)
	if err != nil {
		return "", err
	}
	script, err := plan.Script(p)
	if err != nil {
		return "", err
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return "", err
	}
	started := false
	defer func() {
		if !started { // nothing of the job runs: let a retry start afresh
			os.RemoveAll(dir)
		}
	}()
	if r.cfg.Data != "" {
		if err := copyJobData(r.cfg.Data, filepath.Join(dir, jobDataDir)); err != nil {
			return "", fmt.Errorf("copying the job data: %w", err)
		}
	}
	inDir[jobScriptFile], inDir[jobEnvFile] = script, env
	for name, data := range inDir {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return "", err
		}
	}
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o600)
	if err != nil {
		return "", err
	}
	defer logf.Close() // the child has its own copy
	cmd := exec.Command(r.cfg.Bash, filepath.Join(dir, jobScriptFile), filepath.Join(dir, jobEnvFile))
	cmd.Dir = dir
	cmd.Env = r.jobEnv(j.ID)
	cmd.Stdin = nil
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = proc.SysProcAttr()
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("starting the job script: %w", err)
	}
	pid := cmd.Process.Pid
	ident, _, err := proc.Identity(pid) // not yet reaped: certainly this process
	if err != nil || ident == "" {
		proc.SignalGroup(pid, true)
		cmd.Wait()
		return "", fmt.Errorf("cannot identify the job's process %d: %v", pid, err)
	}
	c := &jobChild{pid: pid, ident: ident, done: make(chan struct{})}
	r.children[j.ID] = c
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	st := jobState{JobID: j.ID, PID: pid, Ident: ident, Started: r.cfg.Now().UTC(), Deadline: deadline.UTC(), Log: logPath, Plan: p}
	data, err := json.MarshalIndent(st, "", "  ")
	if err == nil {
		err = files.WriteAtomic(dir, jobStateFile, data)
	}
	if err != nil {
		r.kill(context.Background(), &st)
		return "", fmt.Errorf("recording the job's process: %w", err)
	}
	started = true
	r.log.Info("job started", "job", j.ID, "kind", j.Kind, "version", j.Version, "cluster", j.Cluster, "pid", pid, "dir", dir, "deadline", deadline)
	return instanceName(pid), nil
}

func instanceName(pid int) string { return "local-" + strconv.Itoa(pid) }

// jobEnv is the service's environment without its own secrets and markers,
// with the job's marker.
func (r *Runner) jobEnv(id string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(name, "PROVISIONER_"), name == proc.ClusterMarker, name == proc.JobMarker,
			name == "GIT_DIR", name == "GIT_WORK_TREE", name == "GIT_INDEX_FILE", name == "GIT_OBJECT_DIRECTORY",
			name == "GIT_ALTERNATE_OBJECT_DIRECTORIES", name == "GIT_CONFIG_PARAMETERS", name == "BASH_ENV", name == "ENV":
			continue
		}
		env = append(env, kv)
	}
	return append(env, proc.JobMarker+"="+id)
}

func (r *Runner) readState(id string) (*jobState, error) {
	b, err := files.ReadSmall(filepath.Join(r.jobDir(id), jobStateFile), maxJobStateSz)
	if err != nil {
		return nil, err
	}
	var st jobState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("job %s: corrupt %s: %w", id, jobStateFile, err)
	}
	if st.JobID != id || st.PID <= 1 {
		return nil, fmt.Errorf("job %s: corrupt %s", id, jobStateFile)
	}
	if err := st.Plan.Validate(); err != nil {
		return nil, fmt.Errorf("job %s: %w", id, err)
	}
	return &st, nil
}

// alive says whether the job's script still runs.
func (r *Runner) alive(st *jobState) bool {
	r.mu.Lock()
	c := r.children[st.JobID]
	r.mu.Unlock()
	if c != nil && c.pid == st.PID {
		select {
		case <-c.done:
			return false
		default:
			return true
		}
	}
	ident, running, err := proc.Identity(st.PID)
	return err == nil && running && ident == st.Ident
}

// exitText says how the script ended, when this runner started it.
func (r *Runner) exitText(st *jobState) string {
	r.mu.Lock()
	c := r.children[st.JobID]
	r.mu.Unlock()
	if c == nil || c.pid != st.PID {
		return "ended"
	}
	select {
	case <-c.done:
		return proc.ExitText(c.err)
	case <-time.After(200 * time.Millisecond):
		return "ended"
	}
}

// result reads the script's result file; nil if there is none yet.
func (r *Runner) result(id string) (*plan.Result, error) {
	b, err := files.ReadSmall(filepath.Join(r.jobDir(id), jobResultFile), plan.MaxResultSize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return plan.ParseResult(b)
}

func (r *Runner) evaluate(st *jobState, res *plan.Result) provisioner.JobStatus {
	dir := r.jobDir(st.JobID)
	return plan.Evaluate(st.Plan, res, func(rel string) (io.ReadCloser, error) {
		root, err := os.OpenRoot(dir)
		if err != nil {
			return nil, err
		}
		defer root.Close()
		return root.Open(filepath.FromSlash(rel))
	})
}

func (r *Runner) has(id, name string) bool {
	_, err := os.Lstat(filepath.Join(r.jobDir(id), name))
	return err == nil
}

func (r *Runner) mark(id, name string) error {
	return os.WriteFile(filepath.Join(r.jobDir(id), name), nil, 0o600)
}

// Poll observes a job: running with the steps so far; a final state once
// the script has exited and every process of the job is gone; error for a
// script that died without a result; timed_out past the deadline (every
// process of the job killed); cancelled after Cancel.
func (r *Runner) Poll(ctx context.Context, j provisioner.Job) (provisioner.JobStatus, error) {
	if err := validJobID(j.ID); err != nil {
		return provisioner.JobStatus{}, err
	}
	st, err := r.readState(j.ID)
	if errors.Is(err, fs.ErrNotExist) {
		return provisioner.JobStatus{}, provisioner.Errorf(provisioner.ENOTFOUND, "job %s was not started on this machine", j.ID)
	}
	if err != nil {
		return provisioner.JobStatus{}, err
	}
	// An unreadable result is as good as none while the script runs.
	res, _ := r.result(j.ID)
	status := func() provisioner.JobStatus {
		if res == nil {
			return provisioner.JobStatus{State: provisioner.JobRunning}
		}
		return r.evaluate(st, res)
	}
	final := func(s provisioner.JobStatus) (provisioner.JobStatus, error) {
		// Nothing of a finished job may outlive it, its secrets included.
		if err := r.kill(ctx, st); err != nil {
			return provisioner.JobStatus{}, err
		}
		if err := os.Remove(filepath.Join(r.jobDir(j.ID), jobSecrets)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return provisioner.JobStatus{}, err
		}
		if err := os.RemoveAll(filepath.Join(r.jobDir(j.ID), jobDataDir)); err != nil {
			return provisioner.JobStatus{}, err
		}
		return s, nil
	}

	if r.has(j.ID, jobCancelled) {
		s := status()
		s.State, s.Reason = provisioner.JobCancelled, "cancelled"
		plan.EndSteps(s.Steps, s.State)
		return final(s)
	}
	now := r.cfg.Now()
	overdue := now.After(plan.HardDeadline(st.Deadline, r.cfg.KillGrace, r.cfg.DeadlineGrace).Add(5 * time.Second))
	if r.has(j.ID, jobOverdue) || overdue && r.alive(st) {
		if err := r.mark(j.ID, jobOverdue); err != nil {
			return provisioner.JobStatus{}, err
		}
		r.log.Warn("job overdue: killing it", "job", j.ID, "deadline", st.Deadline)
		s := status()
		s.State = provisioner.JobTimedOut
		s.Reason = fmt.Sprintf("the job did not end by its deadline (%s); its processes were killed", st.Deadline.Format(time.RFC3339))
		plan.EndSteps(s.Steps, s.State)
		return final(s)
	}
	if r.alive(st) {
		// A result may be final while the script still runs its on-exit
		// command; the job is over when the script is.
		s := status()
		s.State, s.Reason = provisioner.JobRunning, ""
		return s, nil
	}
	// The script has exited: read the result it left last.
	res, resErr := r.result(j.ID)
	if resErr == nil && res != nil && res.State != plan.ScriptRunning {
		return final(r.evaluate(st, res))
	}
	var s provisioner.JobStatus
	if res != nil {
		s.Steps = r.evaluate(st, res).Steps // the steps so far
	}
	switch {
	case !now.Before(st.Deadline):
		s.State, s.Reason = provisioner.JobTimedOut, "the job's script ended at its deadline without a result"
	case resErr != nil:
		s.State, s.Reason = provisioner.JobError, fmt.Sprintf("the job's script %s with an unreadable result (%v); see the job log", r.exitText(st), resErr)
	default:
		s.State, s.Reason = provisioner.JobError, fmt.Sprintf("the job's script %s without a result; see the job log", r.exitText(st))
	}
	plan.EndSteps(s.Steps, s.State)
	return final(s)
}

// Cancel stops every process of the job; Poll then reports it cancelled.
// Cancelling a job that was never started, or has ended, does nothing.
func (r *Runner) Cancel(ctx context.Context, j provisioner.Job) error {
	if err := validJobID(j.ID); err != nil {
		return err
	}
	st, err := r.readState(j.ID)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if r.alive(st) {
		if err := r.mark(j.ID, jobCancelled); err != nil {
			return err
		}
		r.log.Info("job cancelled", "job", j.ID)
	}
	return r.kill(ctx, st)
}

// kill ends every process of the job: SIGTERM, then after KillGrace
// SIGKILL; it returns once they are gone.
func (r *Runner) kill(ctx context.Context, st *jobState) error {
	leader := r.alive(st)
	for _, hard := range []bool{false, true} {
		wait := r.cfg.KillGrace
		if hard {
			wait = 5 * time.Second
		}
		deadline := time.Now().Add(wait)
		sent := map[int]string{}
		for {
			left := 0
			for _, p := range jobProcs(st, r.jobDir(st.JobID), leader) {
				if id, ok := sent[p.PID]; !ok || id != p.Ident {
					signalJobProc(p.PID, hard)
					sent[p.PID] = p.Ident
				}
				left++
			}
			if left == 0 {
				return nil
			}
			if time.Now().After(deadline) {
				break
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(25 * time.Millisecond):
			}
		}
		if !hard {
			r.log.Warn("job processes ignored SIGTERM; killing them", "job", st.JobID)
		}
	}
	return fmt.Errorf("processes of job %s survived SIGKILL", st.JobID)
}
