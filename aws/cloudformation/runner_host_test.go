package cloudformation

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"provisioner"
	"provisioner/aws/awsenv"
	"provisioner/plan"
	"provisioner/testkit"
)

// offlineRunner is a job runner whose clients point at nothing: any AWS
// call fails, and the counter shows whether one was made.
func offlineRunner(t *testing.T, mod func(*RunnerConfig)) (*Runner, *awsenv.Counter) {
	t.Helper()
	cfg, err := awsenv.Load(t.Context(), awsenv.Options{Region: "us-west-2", Endpoint: "http://127.0.0.1:9",
		StaticCredentials: &aws.Credentials{AccessKeyID: "x", SecretAccessKey: "y"}})
	if err != nil {
		t.Fatal(err)
	}
	calls := awsenv.Count(&cfg)
	c := RunnerConfig{Client: cfn.NewFromConfig(cfg), S3: awss3.NewFromConfig(cfg), TemplateBody: "{}",
		Bucket: "jobs-bucket", Prefix: "logs", Region: "us-west-2",
		InstanceProfileARN: "arn:aws:iam::123456789012:instance-profile/sliderule-jobs"}
	if mod != nil {
		mod(&c)
	}
	r, err := NewRunner(c)
	if err != nil {
		t.Fatal(err)
	}
	return r, calls
}

func testJob(kind provisioner.JobKind, now time.Time) provisioner.Job {
	var b [16]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	return provisioner.Job{ID: id, Kind: kind, Cluster: "cfnc-" + id[:8], Version: "release/v5.5.0-rc_" + id[8:14],
		RequestedBy: "octo-" + id[14:20], State: provisioner.JobQueued, LogKey: "jobs/" + id + "/log",
		CreatedAt: now, Deadline: now.Add(time.Hour).Truncate(time.Second)}
}

// userDataSections splits the user data into its environment file, the
// text outside both data sections, and the (decompressed) job script.
func userDataSections(t *testing.T, ud []byte) (env, outside, script []byte) {
	t.Helper()
	var envB, out, b64 strings.Builder
	state, delim := 0, ""
	for _, l := range strings.SplitAfter(string(ud), "\n") {
		bare := strings.TrimSuffix(l, "\n")
		switch state {
		case 0:
			if strings.HasPrefix(bare, `cat >"$J/job.env" <<'`+envDelimiterPrefix) {
				delim = strings.TrimSuffix(strings.TrimPrefix(bare, `cat >"$J/job.env" <<'`), "'")
				state = 1
			} else if strings.HasPrefix(bare, `base64 -d >"$J/job.sh.gz" <<'`+scriptDelimiter+`'`) {
				state = 2
			}
			out.WriteString(l)
		case 1:
			if bare == delim {
				out.WriteString(l)
				state = 0
				continue
			}
			envB.WriteString(l)
		case 2:
			if bare == scriptDelimiter {
				out.WriteString(l)
				state = 0
				continue
			}
			b64.WriteString(bare)
		}
	}
	if delim == "" || state != 0 || b64.Len() == 0 {
		t.Fatalf("user data without its sections:\n%s", ud)
	}
	z, err := base64.StdEncoding.DecodeString(b64.String())
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(z))
	if err != nil {
		t.Fatal(err)
	}
	s, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return []byte(envB.String()), []byte(out.String()), s
}

// TestShellcheckRunnerScripts: the job machine's user data, its host setup
// as the user data carries it, and the scripts they are made of pass
// shellcheck (required under CI).
func TestShellcheckRunnerScripts(t *testing.T) {
	r, _ := offlineRunner(t, nil)
	s, err := r.launch(testJob(provisioner.JobTest, time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files := []string{"host.sh", "runner_bootstrap.sh", "buildenv_wrapper.sh"}
	for name, b := range map[string][]byte{"user-data.sh": s.userData,
		"host-setup.sh": []byte("#!/bin/bash\nset -eo pipefail\n" + DefaultHostSetup)} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	// SC1090/SC1091: the environment file is sourced by design.
	testkit.Shellcheck(t, []string{"-e", "SC1090,SC1091"}, files...)
}

// TestHostSetupLikeProduction runs the default host setup, as the job
// stack's user data carries it, against stand-ins for the system's
// commands: it installs what production's nightly runner installs (rsync
// among them), fills the data directory from the configured bucket and
// prefix (server/, ams/), logs in to the registry; and the job checks out
// into WORK_DIR/sliderule. The bootstrap runs it before the job script.
func TestHostSetupLikeProduction(t *testing.T) {
	r, calls0 := offlineRunner(t, func(c *RunnerConfig) {
		c.Env = map[string]string{"REGISTRY": "123456789012.dkr.ecr.us-west-2.amazonaws.com", "AWS_REGION": "us-west-2",
			"DATA_BUCKET": "project-bucket", "DATA_PREFIX": "cf"}
	})
	s, err := r.launch(testJob(provisioner.JobTest, time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if n := calls0.Total(); n != 0 {
		t.Fatalf("rendering the user data made AWS calls: %v", calls0.Calls())
	}
	env, outside, _ := userDataSections(t, s.userData)
	got := testkit.SourceEnv(t, env, "HOST_SETUP", "CHECKOUT_DIR", "WORK_DIR")
	if got["HOST_SETUP"] != DefaultHostSetup || strings.Contains(DefaultHostSetup, "\n#") {
		t.Fatalf("HOST_SETUP is not the compacted host.sh:\n%s", got["HOST_SETUP"])
	}
	if got["CHECKOUT_DIR"] != got["WORK_DIR"]+"/sliderule" {
		t.Errorf("checkout into %q, want WORK_DIR/sliderule", got["CHECKOUT_DIR"])
	}
	// The bootstrap runs the host setup, then the job script.
	hs, job := bytes.Index(outside, []byte(`"${HOST_SETUP:-:}"`)), bytes.Index(outside, []byte(`"$J/job.sh"`))
	if hs < 0 || job < 0 || hs > job {
		t.Fatalf("the bootstrap does not run HOST_SETUP before the job script (at %d, %d)", hs, job)
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
	_ = os.Remove(calls)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("host setup: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(calls); strings.Contains(string(b), "s3 sync") || strings.Contains(string(b), "docker login") {
		t.Errorf("no bucket, no registry, yet:\n%s", b)
	}
	if _, err := os.Stat(data + "2"); err != nil {
		t.Errorf("no data directory without a bucket: %v", err)
	}
}
