package plan

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/quick"
	"time"

	"provisioner"
	"provisioner/testkit"
)

func goodInputs() Inputs {
	return Inputs{
		JobID: "0123456789abcdef0123456789abcdef", Kind: provisioner.JobTest, Cluster: "nightly-7",
		Version: "v5.4.5", RepoURL: "https://github.com/SlideRuleEarth/sliderule.git", Domain: "slideruleearth.io",
		WorkDir: "/var/lib/provisioner/jobs/0123", Deadline: time.Unix(1900000000, 0),
	}
}

func TestEnvRoundTrip(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	in := goodInputs()
	in.ContainerWrapper = `docker run --rm -v "$CHECKOUT_DIR:$CHECKOUT_DIR" -w "$PWD" img`
	in.OnExit = `aws s3 cp "$RESULT_FILE" s3://b/'x y'/ && shutdown -h now`
	in.Extra = map[string]string{
		"REGISTRY":   "123.dkr.ecr.us-west-2.amazonaws.com",
		"QUOTES":     `it's "quoted" \ back\slash '' '\''`,
		"EXPANSIONS": "$(touch /tmp/pwned) `id` ${HOME} $PATH !! ~ * ?",
		"MULTILINE":  "one\ntwo\n\nthree\r\n",
		"UNICODE":    "héllo ✓ \u202e",
		"EMPTY":      "",
	}
	env, err := Env(in)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"JOB_ID": in.JobID, "JOB_KIND": "test", "CLUSTER": in.Cluster, "ORGANIZATION": in.Cluster, "VERSION": in.Version,
		"REPO_URL": in.RepoURL, "DOMAIN": in.Domain, "WORK_DIR": in.WorkDir, "CHECKOUT_DIR": in.WorkDir + "/sliderule",
		"RESULT_FILE": in.WorkDir + "/result.json", "LOG_FILE": in.WorkDir + "/job.log", "DEADLINE": "1900000000",
		"KILL_GRACE": "10", "DEADLINE_GRACE": "60", "CONTAINER_WRAPPER": in.ContainerWrapper, "ON_EXIT": in.OnExit,
		"EXTRA_VARS": "EMPTY EXPANSIONS MULTILINE QUOTES REGISTRY UNICODE",
	}
	for k, v := range in.Extra {
		want[k] = v
	}
	var names []string
	for k := range want {
		names = append(names, k)
	}
	got := testkit.SourceEnv(t, env, names...)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if _, err := os.Stat("/tmp/pwned"); err == nil {
		t.Error("sourcing the environment file ran a command")
	}
}

// TestEnvQuotingProperty: any value without a NUL survives the round trip.
func TestEnvQuotingProperty(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	in := goodInputs()
	f := func(values []string) bool {
		in.Extra = map[string]string{}
		for i, v := range values {
			if i >= 20 {
				break
			}
			in.Extra["V"+strconv.Itoa(i)] = strings.ReplaceAll(v, "\x00", "")
		}
		env, err := Env(in)
		if err != nil {
			t.Logf("Env: %v", err)
			return false
		}
		var names []string
		for k := range in.Extra {
			names = append(names, k)
		}
		got := testkit.SourceEnv(t, env, names...)
		for k, v := range in.Extra {
			if got[k] != v {
				t.Logf("%s = %q, want %q", k, got[k], v)
				return false
			}
		}
		return true
	}
	if err := quick.Check(f, &quick.Config{MaxCount: 30}); err != nil {
		t.Fatal(err)
	}
}

func TestEnvRefusesBadInputs(t *testing.T) {
	for _, v := range []string{"--upload-pack=touch /tmp/pwned", ";rm -rf /", "$(id)", "`id`", "../", "../../etc", "a b", "v1 --x",
		strings.Repeat("a", 200), "", "v1\nv2", "'", "v1;", "@{-1}", "-v1", "HEAD@{1}", "ref.lock", "a..b"} {
		in := goodInputs()
		in.Version = v
		if _, err := Env(in); provisioner.ErrorCode(err) != provisioner.EINVALID {
			t.Errorf("version %q: %v", v, err)
		}
	}
	for name, change := range map[string]func(*Inputs){
		"cluster injection":     func(in *Inputs) { in.Cluster = "a;rm -rf /" },
		"cluster upper":         func(in *Inputs) { in.Cluster = "Nightly" },
		"cluster reserved":      func(in *Inputs) { in.Cluster = "none" },
		"organization":          func(in *Inputs) { in.Organization = "$(id)" },
		"job id":                func(in *Inputs) { in.JobID = "../../x" },
		"job id upper":          func(in *Inputs) { in.JobID = "ABCDEF0123" },
		"kind":                  func(in *Inputs) { in.Kind = "deploy" },
		"ext url":               func(in *Inputs) { in.RepoURL = "ext::sh -c touch% /tmp/pwned" },
		"fd url":                func(in *Inputs) { in.RepoURL = "fd::17" },
		"option url":            func(in *Inputs) { in.RepoURL = "--upload-pack=touch /tmp/pwned" },
		"url with space":        func(in *Inputs) { in.RepoURL = "https://x.org/a b" },
		"url with newline":      func(in *Inputs) { in.RepoURL = "https://x.org/a\nb" },
		"relative path url":     func(in *Inputs) { in.RepoURL = "repo" },
		"ftp url":               func(in *Inputs) { in.RepoURL = "ftp://x.org/r" },
		"file url with host":    func(in *Inputs) { in.RepoURL = "file://host/r" },
		"domain":                func(in *Inputs) { in.Domain = "x.io;id" },
		"domain url":            func(in *Inputs) { in.Domain = "https://x.io" },
		"relative work dir":     func(in *Inputs) { in.WorkDir = "jobs/x" },
		"unclean work dir":      func(in *Inputs) { in.WorkDir = "/a/../b" },
		"root work dir":         func(in *Inputs) { in.WorkDir = "/" },
		"newline in work dir":   func(in *Inputs) { in.WorkDir = "/a\nb" },
		"relative log":          func(in *Inputs) { in.LogFile = "x.log" },
		"no deadline":           func(in *Inputs) { in.Deadline = time.Time{} },
		"fractional grace":      func(in *Inputs) { in.KillGrace = 1500 * time.Millisecond },
		"nul in wrapper":        func(in *Inputs) { in.ContainerWrapper = "a\x00b" },
		"extra PATH":            func(in *Inputs) { in.Extra = map[string]string{"PATH": "/tmp"} },
		"extra IFS":             func(in *Inputs) { in.Extra = map[string]string{"IFS": "x"} },
		"extra BASH_ENV":        func(in *Inputs) { in.Extra = map[string]string{"BASH_ENV": "/tmp/x"} },
		"extra LD_PRELOAD":      func(in *Inputs) { in.Extra = map[string]string{"LD_PRELOAD": "/tmp/x.so"} },
		"extra script variable": func(in *Inputs) { in.Extra = map[string]string{"VERSION": "x"} },
		"extra internal":        func(in *Inputs) { in.Extra = map[string]string{"JS_STATE": "x"} },
		"extra plan array":      func(in *Inputs) { in.Extra = map[string]string{"PLAN_RUN": "x"} },
		"extra readonly":        func(in *Inputs) { in.Extra = map[string]string{"UID": "0"} },
		"extra lower-case":      func(in *Inputs) { in.Extra = map[string]string{"registry": "x"} },
		"extra injection name":  func(in *Inputs) { in.Extra = map[string]string{"A=1;id;B": "x"} },
		"extra nul":             func(in *Inputs) { in.Extra = map[string]string{"A": "x\x00y"} },
	} {
		in := goodInputs()
		change(&in)
		if env, err := Env(in); err == nil {
			t.Errorf("%s: accepted:\n%s", name, env)
		}
	}
	// Accepted forms.
	for _, u := range []string{"https://github.com/SlideRuleEarth/sliderule.git", "ssh://git@github.com/o/r.git", "git@github.com:o/r.git", "file:///srv/r.git", "/srv/sliderule", "git://x.org/r"} {
		in := goodInputs()
		in.RepoURL = u
		if _, err := Env(in); err != nil {
			t.Errorf("repository %q: %v", u, err)
		}
	}
	for _, v := range []string{"latest", "v5.4.5", "main", "release/v5", "deadbeef", "v5.5.0-rc1"} {
		in := goodInputs()
		in.Version = v
		if _, err := Env(in); err != nil {
			t.Errorf("version %q: %v", v, err)
		}
	}
	in := goodInputs()
	in.Organization = "None"
	in.Domain = "localhost:9081"
	if _, err := Env(in); err != nil {
		t.Errorf("local organization: %v", err)
	}
}

// TestScriptHoldsNoRequestValue: the script is made from the plan alone;
// request values appear in the environment file only, quoted.
func TestScriptHoldsNoRequestValue(t *testing.T) {
	s, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	in := goodInputs()
	in.Cluster = "zq-unique-cluster"
	in.Version = "v77.66.55-uniq"
	in.JobID = "fedcba9876543210fedcba9876543210"
	in.WorkDir = "/srv/unique-work-dir"
	for _, kind := range []provisioner.JobKind{provisioner.JobTest, provisioner.JobRelease} {
		p, err := s.For(kind, in.Version)
		if err != nil {
			t.Fatal(err)
		}
		script, err := Script(p)
		if err != nil {
			t.Fatal(err)
		}
		// On AWS the script travels gzipped in the user data (16 KiB at
		// most), with the environment file and a bootstrap; the EC2
		// runner's tests check the whole.
		if len(script) > 18<<10 {
			t.Errorf("the %s script is %d bytes", kind, len(script))
		}
		in.Kind = kind
		env, err := Env(in)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range []string{in.Cluster, in.Version, in.JobID, in.WorkDir, in.RepoURL, in.Domain} {
			if bytes.Contains(script, []byte(v)) {
				t.Errorf("%s script contains the request value %q", kind, v)
			}
			if !bytes.Contains(env, []byte(ShellQuote(v))) {
				t.Errorf("environment file lacks %s", ShellQuote(v))
			}
		}
	}
}

// TestScriptSyntax checks the generated scripts with bash -n, and with
// shellcheck (testkit.Shellcheck).
func TestScriptSyntax(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	s, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	tricky := mustParse(t, `
kind: test
steps:
  - name: quotes
    run: |
      echo 'single' "double" $'ansi' \
        "it's" ')' '(' "\"" ; echo done # comment'
    junit: "r/[ab]*.xml"
`)
	plans := []Plan{tricky}
	for _, kind := range []provisioner.JobKind{provisioner.JobTest, provisioner.JobRelease} {
		p, err := s.For(kind, "v5.5.0")
		if err != nil {
			t.Fatal(err)
		}
		plans = append(plans, p)
	}
	var files []string
	for _, p := range plans {
		script, err := Script(p)
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(t.TempDir(), "job.sh")
		if err := os.WriteFile(f, script, 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("bash", "-n", f).CombinedOutput(); err != nil {
			t.Fatalf("bash -n: %v\n%s", err, out)
		}
		// The arrays hold the plan exactly.
		probe := `eval "$(sed -n '/^PLAN_NAME=(/,/^)$/p' "$1")"; for r in "${PLAN_RUN[@]}"; do printf '%s\0' "$r"; done`
		out, err := exec.Command("bash", "-c", probe, "bash", f).Output()
		if err != nil {
			t.Fatalf("reading the plan arrays: %v", err)
		}
		runs := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
		if len(runs) != len(p.Steps) {
			t.Fatalf("%d runs in the script, %d steps", len(runs), len(p.Steps))
		}
		for i, r := range runs {
			if r != p.Steps[i].Run {
				t.Errorf("step %d run %q, want %q", i, r, p.Steps[i].Run)
			}
		}
		files = append(files, f)
	}
	t.Run("shellcheck", func(t *testing.T) { testkit.Shellcheck(t, []string{"-S", "warning"}, files...) })
}

// TestScriptJSONStrings: the script's JSON writer escapes anything a git
// message may hold.
func TestScriptJSONStrings(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	i := strings.Index(jobScript, "js_json() {")
	j := strings.Index(jobScript[i:], "\n}\n")
	fn := jobScript[i : i+j+3]
	values := []string{"", "plain", `quote " and back\slash \" \\`, "new\nline\r\ttab", "ctl \x01\x02\x1b[31m\x7f", "ünï ✓", "fatal: bad revision 'v9^{commit}'", "\xff\xfe invalid utf-8"}
	args := append([]string{"-c", fn + `for v in "$@"; do js_json "$v"; printf '\n'; done`, "bash"}, values...)
	out, err := exec.Command("bash", args...).Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != len(values) {
		t.Fatalf("%d lines for %d values:\n%s", len(lines), len(values), out)
	}
	for k, line := range lines {
		var got string
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatalf("value %q: %s is not a JSON string: %v", values[k], line, err)
		}
		want := strings.Map(func(r rune) rune {
			if r < 0x20 && r != '\n' && r != '\r' && r != '\t' {
				return -1
			}
			return r
		}, strings.ToValidUTF8(values[k], "\uFFFD"))
		if strings.ToValidUTF8(got, "\uFFFD") != want && !strings.Contains(values[k], "\xff") {
			t.Errorf("js_json(%q) decodes to %q", values[k], got)
		}
	}
}

// TestJobScriptShellcheck: job.sh and a rendered script have no shellcheck
// warnings (its info-level notes are style).
func TestJobScriptShellcheck(t *testing.T) {
	s, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.For(provisioner.JobTest, "latest")
	if err != nil {
		t.Fatal(err)
	}
	script, err := Script(p)
	if err != nil {
		t.Fatal(err)
	}
	rendered := filepath.Join(t.TempDir(), "job.sh")
	if err := os.WriteFile(rendered, script, 0o600); err != nil {
		t.Fatal(err)
	}
	testkit.Shellcheck(t, []string{"-S", "warning"}, "job.sh", rendered)
}
