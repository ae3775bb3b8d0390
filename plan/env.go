package plan

import (
	"bytes"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"provisioner"
)

// The job script's grace periods when a runner sets none: a step has
// DefaultKillGrace between SIGTERM and SIGKILL, and the script
// DefaultDeadlineGrace past the deadline to report.
const (
	DefaultKillGrace     = 10 * time.Second
	DefaultDeadlineGrace = 60 * time.Second
)

// Inputs are the values of one job run. Request values (JobID, Cluster,
// Version, Organization) and operator settings alike are validated by Env
// and reach the script only through the environment file, as data.
type Inputs struct {
	JobID   string              // lower-case hex, 8 to 64 digits
	Kind    provisioner.JobKind // test or release
	Cluster string              // provisioner.ValidateClusterName
	// Organization is what the SlideRule clients call the cluster
	// (--organization); "" means Cluster, and "None" a local cluster on
	// Domain (the Python client's convention; the Node.js client's is null).
	Organization string
	Version      string // provisioner.ValidateVersion; "latest" is the default branch
	RepoURL      string // the sliderule repository: https, http, ssh, git, file URL, user@host:path, or an absolute path
	Domain       string // the clusters' domain, e.g. slideruleearth.io or localhost[:port]

	// WorkDir is the job's scratch directory (absolute): state/, junit/.
	WorkDir string
	// CheckoutDir is where the repository is cloned (absolute, must not
	// exist yet); "" means WorkDir/sliderule.
	CheckoutDir string
	// ResultFile and LogFile are absolute; "" means WorkDir/result.json and
	// WorkDir/job.log.
	ResultFile string
	LogFile    string

	// Deadline ends the job: its steps are killed and it is timed_out.
	Deadline time.Time
	// KillGrace is how long a step has between SIGTERM and SIGKILL (whole
	// seconds; default 10s). DeadlineGrace is how long the script has to
	// report and run OnExit once the running step is stopped at Deadline:
	// its watchdog kills everything left at Deadline + 2*KillGrace +
	// DeadlineGrace (whole seconds; default 60s). A runner's own backstop
	// should come later still (see HardDeadline).
	KillGrace     time.Duration
	DeadlineGrace time.Duration

	// ContainerWrapper is operator shell that runs a command in the
	// sliderule build environment: container steps run as
	// `bash -c "$CONTAINER_WRAPPER \"\$@\"" wrapper bash ... -c RUN`, so the
	// wrapper is a command prefix such as
	// `docker run --rm --network host -v "$CHECKOUT_DIR:$CHECKOUT_DIR" -w "$PWD" -e CLUSTER -e VERSION ... IMAGE`.
	// "" runs container steps directly.
	ContainerWrapper string
	// OnExit is operator shell run once the result is written, whatever
	// the outcome, with RESULT_FILE, LOG_FILE, WORK_DIR and JOB_STATE set:
	// the AWS runner's upload-and-shutdown hook. "" for none.
	OnExit string
	// Extra are operator variables exported to the steps (e.g. REGISTRY,
	// AWS_REGION for RELEASE). Names are [A-Z_][A-Z0-9_]*, not one of the
	// script's own (JS_*, PLAN_*, the variables above) nor one that changes
	// how bash, git or the loader behave (PATH, IFS, BASH_*, GIT_*, LD_*,
	// ...). Values may hold anything but NUL.
	Extra map[string]string
	// SecretsFile is the absolute path of the job's secrets (SecretsEnv),
	// written by the runner, readable by the job only; "" for none. The
	// script gives each step the secrets it declares and masks them all in
	// the job log.
	SecretsFile string
}

// Env variables the script reads, in the order Env writes them.
var envVars = []string{
	"JOB_ID", "JOB_KIND", "CLUSTER", "ORGANIZATION", "VERSION", "REPO_URL", "DOMAIN",
	"WORK_DIR", "CHECKOUT_DIR", "RESULT_FILE", "LOG_FILE",
	"DEADLINE", "KILL_GRACE", "DEADLINE_GRACE", "CONTAINER_WRAPPER", "ON_EXIT", "EXTRA_VARS",
	"SECRETS_FILE", "STEP_SECRETS",
}

// reservedVar: names Extra may not set: the script's own, and those that
// change how bash, git or the loader behave.
func reservedVar(name string) bool {
	for _, v := range envVars {
		if v == name {
			return true
		}
	}
	switch name {
	case "PATH", "HOME", "IFS", "ENV", "CDPATH", "GLOBIGNORE", "SHELL", "SHELLOPTS", "PS0", "PS1", "PS2", "PS3", "PS4",
		"POSIXLY_CORRECT", "PROMPT_COMMAND", "TMOUT", "TIMEFORMAT", "FIGNORE", "EXECIGNORE", "HISTFILE", "HISTSIZE",
		"SECONDS", "RANDOM", "SRANDOM", "LINENO", "FUNCNAME", "PIPESTATUS", "UID", "EUID", "PPID", "SHLVL", "GROUPS",
		"OPTIND", "OPTARG", "OPTERR", "EPOCHREALTIME", "EPOCHSECONDS", "REPLY", "HOSTNAME", "HOSTTYPE", "MACHTYPE",
		"OSTYPE", "CHILD_MAX", "FUNCNEST", "INPUTRC", "MAIL", "MAILPATH", "MAILCHECK", "COLUMNS", "LINES",
		"STEP_NAME", "SLIDERULE_JOB", "TMPDIR", "USER", "PWD", "OLDPWD", "LANG", "LC_ALL", "LC_CTYPE",
		"RESULT_FILE_TMP", "JOB_STATE":
		return true
	}
	for _, p := range []string{"BASH", "LD_", "DYLD_", "JS_", "PLAN_", "GIT_", "COMP_", "READLINE_", "HIST"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

var (
	jobIDRE   = regexp.MustCompile(`^[0-9a-f]{8,64}$`)
	varNameRE = regexp.MustCompile(`^[A-Z_][A-Z0-9_]{0,63}$`)
	domainRE  = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*(:[0-9]{1,5})?$`)
	scpRE     = regexp.MustCompile(`^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[A-Za-z0-9._~/-]+$`)
)

// Env validates in and renders the job's environment file: one
// NAME='value' assignment per variable, single-quoted, so that sourcing it
// sets exactly the values and runs nothing.
func Env(in Inputs) ([]byte, error) {
	if err := in.fill(); err != nil {
		return nil, err
	}
	kv := [][2]string{
		{"JOB_ID", in.JobID},
		{"JOB_KIND", string(in.Kind)},
		{"CLUSTER", in.Cluster},
		{"ORGANIZATION", in.Organization},
		{"VERSION", in.Version},
		{"REPO_URL", in.RepoURL},
		{"DOMAIN", in.Domain},
		{"WORK_DIR", in.WorkDir},
		{"CHECKOUT_DIR", in.CheckoutDir},
		{"RESULT_FILE", in.ResultFile},
		{"LOG_FILE", in.LogFile},
		{"DEADLINE", strconv.FormatInt(in.Deadline.Unix(), 10)},
		{"KILL_GRACE", strconv.Itoa(int(in.KillGrace / time.Second))},
		{"DEADLINE_GRACE", strconv.Itoa(int(in.DeadlineGrace / time.Second))},
		{"CONTAINER_WRAPPER", in.ContainerWrapper},
		{"ON_EXIT", in.OnExit},
		{"SECRETS_FILE", in.SecretsFile},
	}
	names := make([]string, 0, len(in.Extra))
	for k := range in.Extra {
		names = append(names, k)
	}
	sort.Strings(names)
	kv = append(kv, [2]string{"EXTRA_VARS", strings.Join(names, " ")})
	for _, k := range names {
		kv = append(kv, [2]string{k, in.Extra[k]})
	}
	var b bytes.Buffer
	b.WriteString("# SlideRule Provisioner job environment: data only, sourced by the job script.\n")
	for _, e := range kv {
		b.WriteString(e[0])
		b.WriteByte('=')
		b.WriteString(ShellQuote(e[1]))
		b.WriteByte('\n')
	}
	return b.Bytes(), nil
}

// MaxSecretSize bounds one secret's value.
const MaxSecretSize = 8192

// checkSecretName: a secret is exported under its name, so it follows the
// rules of Inputs.Extra's names.
func checkSecretName(name string) error {
	if !varNameRE.MatchString(name) || reservedVar(name) {
		return fmt.Errorf("secret name %q is not allowed: [A-Z_][A-Z0-9_]*, not one the script or bash uses", trunc(name))
	}
	return nil
}

// SecretsEnv validates an operator's secrets (name to value) and renders the
// job's secrets file (Inputs.SecretsFile): JS_SECRETS, the names, then one
// NAME='value' assignment per secret, so that sourcing it sets exactly the
// values and runs nothing. The runner writes it with mode 0600.
func SecretsEnv(secrets map[string]string) ([]byte, error) {
	names := make([]string, 0, len(secrets))
	for k, v := range secrets {
		if err := checkSecretName(k); err != nil {
			return nil, provisioner.Errorf(provisioner.EINVALID, "%v", err)
		}
		if strings.ContainsRune(v, 0) || len(v) > MaxSecretSize {
			return nil, provisioner.Errorf(provisioner.EINVALID, "secret %s holds a NUL byte or is longer than %d bytes", k, MaxSecretSize)
		}
		names = append(names, k)
	}
	sort.Strings(names)
	var b bytes.Buffer
	b.WriteString("# SlideRule Provisioner job secrets: data only, read by the job script.\n")
	b.WriteString("JS_SECRETS=" + ShellQuote(strings.Join(names, " ")) + "\n")
	for _, k := range names {
		b.WriteString(k + "=" + ShellQuote(secrets[k]) + "\n")
	}
	return b.Bytes(), nil
}

// HardDeadline is when the script's watchdog has killed everything of a
// job, at the latest: a runner's backstop (terminate the machine, kill the
// process group) comes after it.
func HardDeadline(deadline time.Time, killGrace, deadlineGrace time.Duration) time.Time {
	if killGrace == 0 {
		killGrace = 10 * time.Second
	}
	if deadlineGrace == 0 {
		deadlineGrace = 60 * time.Second
	}
	return deadline.Add(2*killGrace + deadlineGrace)
}

// ShellQuote quotes s for bash: inside single quotes nothing is special,
// and a single quote is written as '\”. s must not hold a NUL byte.
func ShellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// fill validates the inputs and sets defaults.
func (in *Inputs) fill() error {
	bad := func(format string, args ...any) error {
		return provisioner.Errorf(provisioner.EINVALID, format, args...)
	}
	if !jobIDRE.MatchString(in.JobID) {
		return bad("invalid job id %q: 8 to 64 lower-case hex digits", trunc(in.JobID))
	}
	if in.Kind != provisioner.JobTest && in.Kind != provisioner.JobRelease {
		return bad("invalid job kind %q", trunc(string(in.Kind)))
	}
	if err := provisioner.ValidateClusterName(in.Cluster); err != nil {
		return err
	}
	if in.Organization == "" {
		in.Organization = in.Cluster
	} else if in.Organization != "None" {
		if err := provisioner.ValidateClusterName(in.Organization); err != nil {
			return bad("invalid organization %q: a cluster name or None", trunc(in.Organization))
		}
	}
	if err := provisioner.ValidateVersion(in.Version); err != nil {
		return err
	}
	if err := checkRepoURL(in.RepoURL); err != nil {
		return err
	}
	if len(in.Domain) > 253 || !domainRE.MatchString(in.Domain) {
		return bad("invalid domain %q: a lower-case host name, optionally with :port", trunc(in.Domain))
	}
	if err := checkDir("work directory", in.WorkDir); err != nil {
		return err
	}
	if in.CheckoutDir == "" {
		in.CheckoutDir = path.Join(in.WorkDir, "sliderule")
	}
	if in.ResultFile == "" {
		in.ResultFile = path.Join(in.WorkDir, "result.json")
	}
	if in.LogFile == "" {
		in.LogFile = path.Join(in.WorkDir, "job.log")
	}
	for _, p := range [][2]string{{"checkout directory", in.CheckoutDir}, {"result file", in.ResultFile}, {"log file", in.LogFile}} {
		if err := checkDir(p[0], p[1]); err != nil {
			return err
		}
	}
	if in.Deadline.IsZero() {
		return bad("the job has no deadline")
	}
	if in.KillGrace == 0 {
		in.KillGrace = DefaultKillGrace
	}
	if in.DeadlineGrace == 0 {
		in.DeadlineGrace = DefaultDeadlineGrace
	}
	for _, g := range []time.Duration{in.KillGrace, in.DeadlineGrace} {
		if g < time.Second || g > time.Hour || g%time.Second != 0 {
			return bad("grace periods are whole seconds between 1s and 1h, not %s", g)
		}
	}
	if in.SecretsFile != "" {
		if err := checkDir("secrets file", in.SecretsFile); err != nil {
			return err
		}
	}
	for _, s := range [][2]string{{"container wrapper", in.ContainerWrapper}, {"on-exit command", in.OnExit}} {
		if strings.ContainsRune(s[1], 0) || len(s[1]) > maxRunBytes || !utf8.ValidString(s[1]) {
			return bad("the %s holds a NUL byte, is not UTF-8, or is too long", s[0])
		}
	}
	if len(in.Extra) > 64 {
		return bad("at most 64 extra variables")
	}
	for k, v := range in.Extra {
		if !varNameRE.MatchString(k) || reservedVar(k) {
			return bad("extra variable name %q is not allowed: [A-Z_][A-Z0-9_]*, not one the script or bash uses", trunc(k))
		}
		if strings.ContainsRune(v, 0) || len(v) > 8192 {
			return bad("extra variable %s holds a NUL byte or is longer than 8192 bytes", k)
		}
	}
	return nil
}

// checkRepoURL allows the URLs git clones from without running anything:
// no ext:: or other transport helpers, no option-like or multi-line text.
func checkRepoURL(s string) error {
	bad := func(why string) error {
		return provisioner.Errorf(provisioner.EINVALID, "invalid repository URL %q: %s", trunc(s), why)
	}
	if s == "" {
		return bad("empty")
	}
	if len(s) > 1024 {
		return bad("longer than 1024 characters")
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || r == '\\' {
			return bad("contains a space, a control character or a backslash")
		}
	}
	if strings.HasPrefix(s, "-") {
		return bad("starts with '-'")
	}
	if strings.HasPrefix(s, "/") {
		if path.Clean(s) != s {
			return bad("not a clean absolute path")
		}
		return nil
	}
	if scpRE.MatchString(s) && !strings.Contains(s, "::") && !strings.Contains(s, "://") {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return bad(err.Error())
	}
	switch u.Scheme {
	case "https", "http", "ssh", "git":
		if u.Host == "" || strings.HasPrefix(u.Host, "-") {
			return bad("no host")
		}
	case "file":
		if u.Host != "" || !strings.HasPrefix(u.Path, "/") {
			return bad("a file URL is file:///absolute/path")
		}
	default:
		return bad("use https, http, ssh, git or file URLs, user@host:path, or an absolute path")
	}
	if u.Opaque != "" || strings.Contains(s, "::") {
		return bad("not a plain URL")
	}
	return nil
}

func checkDir(what, p string) error {
	if p == "" || !strings.HasPrefix(p, "/") || path.Clean(p) != p || p == "/" {
		return provisioner.Errorf(provisioner.EINVALID, "the %s %q is not a clean absolute path", what, trunc(p))
	}
	for _, r := range p {
		if r < ' ' || r == 0x7f {
			return provisioner.Errorf(provisioner.EINVALID, "the %s %q contains a control character", what, trunc(p))
		}
	}
	if !utf8.ValidString(p) || len(p) > 1024 {
		return provisioner.Errorf(provisioner.EINVALID, "the %s is not UTF-8 or is too long", what)
	}
	return nil
}

func trunc(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return strings.ToValidUTF8(s, "?")
}
