package ec2

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"provisioner"
	"provisioner/aws/awsenv"
	"provisioner/plan"
)

// offline is a runner whose clients point at nothing: any AWS call fails,
// and the counter shows whether one was made.
func offline(t *testing.T, mod func(*Config)) (*Runner, *awsenv.Counter) {
	t.Helper()
	cfg, err := awsenv.Load(bg, awsenv.Options{Region: "us-west-2", Endpoint: "http://127.0.0.1:9",
		StaticCredentials: &aws.Credentials{AccessKeyID: "x", SecretAccessKey: "y"}})
	if err != nil {
		t.Fatal(err)
	}
	calls := awsenv.Count(&cfg)
	c := Config{EC2: awsec2.NewFromConfig(cfg), SSM: ssm.NewFromConfig(cfg), S3: awss3.NewFromConfig(cfg),
		Bucket: "jobs-bucket", Prefix: "logs", InstanceProfileARN: "arn:aws:iam::123456789012:instance-profile/sliderule-jobs"}
	if mod != nil {
		mod(&c)
	}
	r, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return r, calls
}

func TestInvalidInputsRefusedBeforeAWS(t *testing.T) {
	r, calls := offline(t, nil)
	now := time.Now()
	good := newJob(provisioner.JobTest, now)
	for name, mod := range map[string]func(*provisioner.Job){
		"upload-pack":   func(j *provisioner.Job) { j.Version = "--upload-pack=touch /tmp/x" },
		"semicolon":     func(j *provisioner.Job) { j.Version = "v1;rm -rf /" },
		"dotdot":        func(j *provisioner.Job) { j.Version = "../etc" },
		"space":         func(j *provisioner.Job) { j.Version = "v1 v2" },
		"quote":         func(j *provisioner.Job) { j.Version = "v1'$(id)'" },
		"newline":       func(j *provisioner.Job) { j.Version = "v1\nshutdown" },
		"long":          func(j *provisioner.Job) { j.Version = "v" + strings.Repeat("1", 200) },
		"empty version": func(j *provisioner.Job) { j.Version = "" },
		"bad cluster":   func(j *provisioner.Job) { j.Cluster = "Bad_Cluster;id" },
		"bad job id":    func(j *provisioner.Job) { j.ID = "../../etc" },
		"short job id":  func(j *provisioner.Job) { j.ID = "abc" },
		"bad kind":      func(j *provisioner.Job) { j.Kind = "deploy" },
		"bad log key":   func(j *provisioner.Job) { j.LogKey = "../other/log" },
	} {
		j := good
		mod(&j)
		if _, err := r.Start(bg, j); provisioner.ErrorCode(err) != provisioner.EINVALID {
			t.Errorf("%s: Start = %v, want invalid_request", name, err)
		}
	}
	bad := good
	bad.ID = "not-hex!"
	if _, err := r.Poll(bg, bad); provisioner.ErrorCode(err) != provisioner.EINVALID {
		t.Errorf("Poll(bad id) = %v", err)
	}
	if err := r.Cancel(bg, bad); provisioner.ErrorCode(err) != provisioner.EINVALID {
		t.Errorf("Cancel(bad id) = %v", err)
	}
	if n := calls.Total(); n != 0 {
		t.Fatalf("invalid input cost %d AWS calls: %v", n, calls.Calls())
	}
}

func TestConfigChecked(t *testing.T) {
	for name, mod := range map[string]func(*Config){
		"no profile":      func(c *Config) { c.InstanceProfileARN = "" },
		"bad profile":     func(c *Config) { c.InstanceProfileARN = "arn:aws:iam::1:role/x" },
		"bad bucket":      func(c *Config) { c.Bucket = "Bad_Bucket" },
		"bad prefix":      func(c *Config) { c.Prefix = "../x" },
		"bad subnet":      func(c *Config) { c.SubnetID = "subnet-x; id" },
		"bad group":       func(c *Config) { c.SecurityGroupIDs = []string{"default"} },
		"bad type":        func(c *Config) { c.InstanceType = "c7g 2xlarge" },
		"bad name":        func(c *Config) { c.Name = "Prov" },
		"reserved env":    func(c *Config) { c.Env = map[string]string{"S3_JOB_URI": "s3://elsewhere"} },
		"bash env":        func(c *Config) { c.Env = map[string]string{"BASH_ENV": "/tmp/x"} },
		"aws tag":         func(c *Config) { c.Tags = map[string]string{"aws:x": "y"} },
		"own tag":         func(c *Config) { c.Tags = map[string]string{"provisioner:job-id": "y"} },
		"bad repo":        func(c *Config) { c.RepoURL = "ext::sh -c id" },
		"bad domain":      func(c *Config) { c.Domain = "a b" },
		"huge host setup": func(c *Config) { c.HostSetup = strings.Repeat("echo x\n", 2000) },
		"bad AMI":         func(c *Config) { c.AMI = "ubuntu" },
		"bad AMI param":   func(c *Config) { c.AMIParameter = "no-slash" },
		"bad region":      func(c *Config) { c.Region = "mars" },
		"tiny volume":     func(c *Config) { c.VolumeSizeGiB = 2 },
		"bad root device": func(c *Config) { c.RootDevice = "xvda" },
		"user data > 16KB": func(c *Config) {
			c.Env = map[string]string{"A": strings.Repeat("a", 8000), "B": strings.Repeat("b", 8000)}
		},
	} {
		t.Run(name, func(t *testing.T) {
			cfg, _ := awsenv.Load(bg, awsenv.Options{Region: "us-west-2", Endpoint: "http://127.0.0.1:9",
				StaticCredentials: &aws.Credentials{AccessKeyID: "x", SecretAccessKey: "y"}})
			c := Config{EC2: awsec2.NewFromConfig(cfg), SSM: ssm.NewFromConfig(cfg), S3: awss3.NewFromConfig(cfg),
				Bucket: "jobs-bucket", InstanceProfileARN: "arn:aws:iam::123456789012:instance-profile/sliderule-jobs"}
			mod(&c)
			if _, err := New(c); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

// TestUserDataDefaultPlans checks the user data of the real plans: size,
// bash syntax, and where the request values are.
func TestUserDataDefaultPlans(t *testing.T) {
	r, calls := offline(t, func(c *Config) {
		c.Env = map[string]string{"REGISTRY": "123456789012.dkr.ecr.us-west-2.amazonaws.com"}
		c.ContainerWrapper = BuildEnvWrapper
	})
	now := time.Now()
	for _, kind := range []provisioner.JobKind{provisioner.JobTest, provisioner.JobRelease} {
		for _, v := range []string{"v5.5.0", "v5.0.2", "v4.8.1", "latest"} {
			j := newJob(kind, now)
			j.Version = v
			s, err := r.launch(j)
			if err != nil {
				t.Fatalf("%s %s: %v", kind, v, err)
			}
			t.Logf("%s plan, %s: user data %d bytes (EC2 allows %d)", kind, v, len(s.userData), MaxUserData)
			if len(s.userData) > MaxUserData-2048 {
				t.Errorf("%s %s: user data %d bytes leaves less than 2 KiB to spare", kind, v, len(s.userData))
			}
			j2 := j
			j2.Version = "feature/x_" + j.ID[:6]
			s2, err := r.launch(j2)
			if err != nil {
				t.Fatal(err)
			}
			checkUserData(t, s2.userData, j2, r)
			bashSyntax(t, s.userData)
		}
	}
	if calls.Total() != 0 {
		t.Fatalf("rendering user data made AWS calls: %v", calls.Calls())
	}
}

func bashSyntax(t *testing.T, script []byte) {
	t.Helper()
	cmd := exec.Command("bash", "-n")
	cmd.Stdin = bytes.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("bash -n: %v\n%s", err, out)
	}
}

func TestShellcheck(t *testing.T) {
	sc, err := exec.LookPath("shellcheck")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("no shellcheck (scripts/test.sh installs it)")
		}
		t.Skip("no shellcheck")
	}
	r, _ := offline(t, nil)
	s, err := r.launch(newJob(provisioner.JobTest, time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files := map[string][]byte{"user-data.sh": s.userData, "on-exit.sh": []byte("#!/bin/bash\n" + onExitScript),
		"host-setup.sh": []byte("#!/bin/bash\nset -eo pipefail\n" + DefaultHostSetup), "host.sh": []byte(hostScript)}
	for name, b := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		// SC1090/SC1091: the environment file is sourced by design.
		if out, err := exec.Command(sc, "-s", "bash", "-e", "SC1090,SC1091", p).CombinedOutput(); err != nil {
			t.Errorf("shellcheck %s: %v\n%s", name, err, out)
		}
	}
}

// TestUserDataOperatorValues: multi-line and quote-laden operator values
// survive the environment file section, which no line can end early.
func TestUserDataOperatorValues(t *testing.T) {
	nasty := "line one\n" + scriptDelimiter + "\nEOF\n'\"$(touch /tmp/pwned)`id`\n" + envDelimiterPrefix + "0000000000000000\n"
	r, _ := offline(t, func(c *Config) {
		c.ContainerWrapper = nasty
		c.Env = map[string]string{"NASTY": nasty}
		c.HostSetup = "echo setup\n" + nasty
	})
	j := newJob(provisioner.JobTest, time.Now())
	s, err := r.launch(j)
	if err != nil {
		t.Fatal(err)
	}
	checkUserData(t, s.userData, j, r)
	env, _, _ := sections(t, s.userData)
	got := sourceEnv(t, env, "CONTAINER_WRAPPER", "NASTY", "HOST_SETUP")
	if got["CONTAINER_WRAPPER"] != nasty || got["NASTY"] != nasty || got["HOST_SETUP"] != "echo setup\n"+nasty {
		t.Fatalf("operator values changed: %q", got)
	}
	bashSyntax(t, s.userData)
}

// TestBootstrapRuns runs a job's user data on this machine, as cloud-init
// would (with the machine's directory moved to a temporary one, and aws and
// shutdown replaced by recorders), against a local repository: the host
// setup runs, the hard deadline is scheduled, the job runs, and its JUnit
// reports, log and result land where Poll reads them. With the emulator
// the test then hands those objects to Poll.
func TestBootstrapRuns(t *testing.T) {
	for _, tool := range []string{"bash", "git", "setsid", "flock", "timeout", "base64", "gunzip"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s", tool)
		}
	}
	tmp := t.TempDir()
	repo := fixtureRepo(t, filepath.Join(tmp, "repo"))
	fakeS3 := filepath.Join(tmp, "s3")
	bin := filepath.Join(tmp, "bin")
	must(t, os.MkdirAll(bin, 0o755))
	must(t, os.WriteFile(filepath.Join(bin, "aws"), []byte(fakeAWS(fakeS3)), 0o755))
	// docker: records its arguments and runs the command after the image.
	must(t, os.WriteFile(filepath.Join(bin, "docker"), []byte(`#!/bin/bash
printf '%s\n' "$@" >`+plan.ShellQuote(filepath.Join(tmp, "docker.args"))+`
while [ $# -gt 0 ]; do case $1 in */sliderule-buildenv:latest) shift; exec "$@" ;; esac; shift; done
exit 97
`), 0o755))
	must(t, os.WriteFile(filepath.Join(bin, "shutdown"), []byte("#!/bin/bash\necho \"$*\" >>"+plan.ShellQuote(filepath.Join(tmp, "shutdown.log"))+"\n"), 0o755))

	set, err := plan.NewSet(plan.Plan{Kind: provisioner.JobTest, Source: "bootstrap-test", Steps: []plan.Step{
		{Name: "unit", Run: `mkdir -p reports
printf '<testsuite tests="2" failures="0"><testcase name="a"/><testcase name="b"/></testsuite>' >reports/unit.xml
echo "testing $VERSION on $CLUSTER in $DOMAIN, region $AWS_REGION"`, JUnit: "reports/*.xml"},
		{Name: "slow", Run: "sleep 2; echo slow done"},
		{Name: "in-container", Run: `echo "in the build environment: $STEP_NAME, $VERSION"`, Container: true},
	}})
	must(t, err)

	var w *world
	mod := func(c *Config) {
		c.RepoURL, c.Domain, c.Plans = repo, "localhost", set
		c.HostSetup = `echo "host setup ran as $(id -un), REGISTRY=$REGISTRY"`
		c.Env = map[string]string{"REGISTRY": "registry.example"}
		c.ContainerWrapper = BuildEnvWrapper
		c.UploadInterval = time.Second
		c.KillGrace, c.DeadlineGrace = time.Second, 5*time.Second
	}
	var r *Runner
	if os.Getenv("PROVISIONER_TEST_AWS_ENDPOINT") != "" {
		w = newWorld(t, mod)
		r = w.r
	} else {
		r, _ = offline(t, mod)
	}
	r.dir = filepath.Join(tmp, "machine")
	now := time.Now()
	j := newJob(provisioner.JobTest, now)
	j.Version = "v1.2.3"
	s, err := r.launch(j)
	must(t, err)

	cmd := exec.Command("bash", "-c", string(s.userData))
	cmd.Env = []string{"PATH=" + bin + ":" + os.Getenv("PATH")}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	must(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		t.Fatalf("the bootstrap did not end\n%s", out.String())
	}
	// The periodic uploader sees the final mark and stops; end it anyway.
	time.Sleep(200 * time.Millisecond)
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if err != nil {
		t.Fatalf("bootstrap: %v\n%s", err, out.String())
	}

	// The machine ended itself, and first scheduled its hard deadline.
	sd, _ := os.ReadFile(filepath.Join(tmp, "shutdown.log"))
	lines := strings.Split(strings.TrimSpace(string(sd)), "\n")
	m := regexp.MustCompile(`^-h \+([0-9]+)$`).FindStringSubmatch(lines[0])
	if m == nil || lines[len(lines)-1] != "-h now" {
		t.Fatalf("shutdown calls %q", lines)
	}
	mins, _ := strconv.Atoi(m[1])
	want := int(time.Until(r.hardDeadline(j.Deadline)).Minutes())
	if mins < want || mins > want+2 {
		t.Errorf("hard deadline in %d minutes, want about %d", mins, want)
	}

	// What the machine uploaded.
	base := filepath.Join(fakeS3, r.cfg.Bucket, r.objectKey("jobs/"+j.ID))
	log, err := os.ReadFile(filepath.Join(fakeS3, r.cfg.Bucket, r.objectKey(j.LogKey)))
	must(t, err)
	for _, s := range []string{"host setup ran as", "REGISTRY=registry.example", "<== host setup: exit status 0",
		"testing v1.2.3 on " + j.Cluster + " in localhost, region us-west-2", "slow done",
		"in the build environment: in-container, v1.2.3", "==> job finished"} {
		if !strings.Contains(string(log), s) {
			t.Errorf("log lacks %q:\n%s", s, log)
		}
	}
	resB, err := os.ReadFile(filepath.Join(base, "result.json"))
	must(t, err)
	res, err := plan.ParseResult(resB)
	must(t, err)
	if res.State != plan.ScriptFinished || len(res.Steps) != 4 || res.Steps[1].JUnit[0] != "junit/unit/1.xml" {
		t.Fatalf("result %s", resB)
	}
	args, _ := os.ReadFile(filepath.Join(tmp, "docker.args"))
	checkout := filepath.Join(r.dir, "work", "sliderule")
	if !strings.Contains(string(args), "run\n--rm\n--network\nhost\n-v\n"+checkout+":"+checkout+"\n") ||
		!strings.Contains(string(args), "registry.example/sliderule-buildenv:latest\nbash\n") {
		t.Errorf("docker arguments:\n%s", args)
	}
	junitB, err := os.ReadFile(filepath.Join(base, "junit", "unit", "1.xml"))
	must(t, err)
	calls, _ := os.ReadFile(filepath.Join(fakeS3, "calls"))
	// The periodic uploads, and the final ones.
	if n := strings.Count(string(calls), " -> "+r.cfg.Bucket+"/"+r.objectKey(j.LogKey)+"\n"); n < 2 {
		t.Errorf("the log was uploaded %d times:\n%s", n, calls)
	}

	if w == nil {
		t.Log("no emulator: the objects were not handed to Poll")
		return
	}
	// Poll reads them from S3, like the machine's uploads.
	instance, err := r.Start(bg, j)
	must(t, err)
	j.Instance = instance
	w.put(t, "jobs/"+j.ID+"/junit/unit/1.xml", junitB)
	w.put(t, "jobs/"+j.ID+"/result.json", resB)
	st, err := r.Poll(bg, j)
	must(t, err)
	if st.State != provisioner.JobPassed || len(st.Steps) != 4 || st.Steps[1].Tests != 2 {
		b, _ := json.Marshal(st)
		t.Fatalf("status %s", b)
	}
}

// fakeAWS is an aws command that knows "aws s3 cp [--recursive] SRC DST"
// and copies into a directory instead.
func fakeAWS(root string) string {
	return `#!/bin/bash
root=` + plan.ShellQuote(root) + `
[ "$1 $2" = "s3 cp" ] || { echo "fake aws: $*" >&2; exit 2; }
shift 2
rec=0
args=()
while [ $# -gt 0 ]; do
	case $1 in
	--recursive) rec=1 ;;
	--only-show-errors) ;;
	--content-type) shift ;;
	-*) echo "fake aws: option $1" >&2; exit 2 ;;
	*) args+=("$1") ;;
	esac
	shift
done
src=${args[0]}
dst=${args[1]#s3://}
mkdir -p "$root/$(dirname "$dst")"
if [ "$rec" = 1 ]; then
	mkdir -p "$root/$dst" && cp -R "$src/." "$root/$dst/"
else
	cp "$src" "$root/$dst.tmp.$$" && mv "$root/$dst.tmp.$$" "$root/$dst"
fi
echo "$src -> $dst" >>"$root/calls"
`
}

func fixtureRepo(t *testing.T, dir string) string {
	t.Helper()
	must(t, os.MkdirAll(dir, 0o755))
	git := func(args ...string) {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t",
			"GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q", "-b", "main")
	must(t, os.WriteFile(filepath.Join(dir, "README"), []byte("fixture\n"), 0o644))
	git("add", "README")
	git("commit", "-q", "-m", "fixture")
	git("tag", "v1.2.3")
	return dir
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestHostSetupLikeProduction runs the default host setup, as the user data
// carries it, against stand-ins for the system's commands: it installs what
// production's nightly runner installs (rsync among them), fills the data
// directory from the configured bucket and prefix (server/, ams/), logs in
// to the registry; and the job checks out into WORK_DIR/sliderule.
func TestHostSetupLikeProduction(t *testing.T) {
	r, _ := offline(t, func(c *Config) {
		c.Env = map[string]string{"REGISTRY": "123456789012.dkr.ecr.us-west-2.amazonaws.com", "AWS_REGION": "us-west-2",
			"DATA_BUCKET": "project-bucket", "DATA_PREFIX": "cf"}
	})
	j := newJob(provisioner.JobTest, time.Now())
	s, err := r.launch(j)
	if err != nil {
		t.Fatal(err)
	}
	env, _, _ := sections(t, s.userData)
	got := sourceEnv(t, env, "HOST_SETUP", "CHECKOUT_DIR", "WORK_DIR")
	if got["HOST_SETUP"] != DefaultHostSetup || strings.Contains(DefaultHostSetup, "\n#") {
		t.Fatalf("HOST_SETUP is not the compacted host.sh:\n%s", got["HOST_SETUP"])
	}
	if got["CHECKOUT_DIR"] != got["WORK_DIR"]+"/sliderule" {
		t.Errorf("checkout into %q, want WORK_DIR/sliderule", got["CHECKOUT_DIR"])
	}

	dir := t.TempDir()
	bin, calls, data := filepath.Join(dir, "bin"), filepath.Join(dir, "calls"), filepath.Join(dir, "data")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"dnf", "systemctl", "wget", "aws", "docker", "node", "ln", "rm", "bash"} {
		stub := "#!/bin/sh\necho \"" + c + " $*\" >> " + plan.ShellQuote(calls) + "\n"
		if err := os.WriteFile(filepath.Join(bin, c), []byte(stub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("/bin/bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", got["HOST_SETUP"])
	cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin", "AWS_REGION=us-west-2", "REGISTRY=123456789012.dkr.ecr.us-west-2.amazonaws.com",
		"DATA_BUCKET=project-bucket", "DATA_PREFIX=cf", "DATA_DIR=" + data}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("host setup: %v\n%s", err, out)
	}
	b, err := os.ReadFile(calls)
	if err != nil {
		t.Fatal(err)
	}
	log := string(b)
	for _, want := range []string{
		"dnf install -y -q git make rsync wget docker ",
		"systemctl enable --now docker",
		"dnf install -y -q --setopt=strict=0 nss ",
		"bash /tmp/miniforge.sh -b -p /opt/miniforge",
		"aws s3 sync --only-show-errors s3://project-bucket/cf/server/ " + data + "/\n",
		"aws s3 sync --only-show-errors s3://project-bucket/cf/ams/ " + data + "/\n",
		"aws ecr get-login-password --region us-west-2\n",
		"docker login --username AWS --password-stdin 123456789012.dkr.ecr.us-west-2.amazonaws.com\n",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("the host setup did not run %q; it ran:\n%s", want, log)
		}
	}
	if fi, err := os.Stat(data); err != nil || !fi.IsDir() {
		t.Errorf("no data directory: %v", err)
	}
	// Without a bucket: no sync, the directory all the same.
	cmd = exec.Command("/bin/bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", got["HOST_SETUP"])
	cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin", "DATA_DIR=" + data + "2"}
	os.Remove(calls)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("host setup: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(calls); strings.Contains(string(b), "s3 sync") || strings.Contains(string(b), "docker login") {
		t.Errorf("no bucket, no registry, yet:\n%s", b)
	}
}
