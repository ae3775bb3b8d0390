package ec2

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"provisioner"
	"provisioner/aws/awsenv"
	"provisioner/aws/awstest"
	"provisioner/plan"
)

var bg = context.Background()

// fixture is what the emulator tests share: a bucket, and a stack with a
// subnet, a security group and an instance profile (RunInstances in the
// emulator checks that the profile exists).
type fixture struct {
	bucket, subnet, group, profile string
}

var shared struct {
	once sync.Once
	fx   fixture
	err  error
}

func setup(t *testing.T) fixture {
	t.Helper()
	cfg := awstest.Config(t)
	shared.once.Do(func() {
		s3c := awss3.NewFromConfig(cfg, func(o *awss3.Options) { o.UsePathStyle = true })
		fx := fixture{bucket: awstest.Name("ec2-jobs")}
		if _, err := s3c.CreateBucket(bg, &awss3.CreateBucketInput{Bucket: aws.String(fx.bucket),
			CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(awstest.Region)}}); err != nil {
			shared.err = fmt.Errorf("create bucket: %w", err)
			return
		}
		net, err := awstest.CreateNetwork(bg, cfn.NewFromConfig(cfg), awstest.Name("ec2-runner-fixture"), awstest.Name("ec2")+".example.org")
		if err != nil {
			shared.err = fmt.Errorf("network stack: %w", err)
			return
		}
		fx.subnet, fx.group, fx.profile = net.PrivateSubnet, net.JobSecurityGroup, net.JobProfileARN
		shared.fx = fx
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.fx
}

// world is one test's runner and its clients, counting calls.
type world struct {
	r     *Runner
	calls *awsenv.Counter
	ec2   *awsec2.Client
	ssm   *ssm.Client
	s3    *awss3.Client
	fx    fixture
	now   *clock
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// newWorld makes a runner on the emulator; its own deployment name keeps
// its instances apart from every other test's.
func newWorld(t *testing.T, mod func(*Config), apiOptions ...func(*awsec2.Options)) *world {
	t.Helper()
	fx := setup(t)
	cfg := awstest.Config(t)
	cfg.APIOptions = slices.Clone(cfg.APIOptions)
	w := &world{calls: awsenv.Count(&cfg), fx: fx, now: &clock{t: time.Now()}}
	w.ec2 = awsec2.NewFromConfig(cfg, apiOptions...)
	w.ssm = ssm.NewFromConfig(cfg)
	w.s3 = awss3.NewFromConfig(cfg, func(o *awss3.Options) { o.UsePathStyle, o.DisableLogOutputChecksumValidationSkipped = true, true })
	c := Config{
		EC2: w.ec2, SSM: w.ssm, S3: w.s3, Bucket: fx.bucket, Prefix: "prov/logs",
		Name: awstest.Name("ec2t"), InstanceProfileARN: fx.profile, SubnetID: fx.subnet, SecurityGroupIDs: []string{fx.group},
		OnDemandFallback: true, Tags: map[string]string{"team": "sliderule"}, Now: w.now.Now,
	}
	if mod != nil {
		mod(&c)
	}
	r, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	w.r = r
	t.Cleanup(func() { w.cleanup(t) })
	return w
}

// cleanup terminates whatever this test's deployment left running.
func (w *world) cleanup(t *testing.T) {
	ins, err := w.r.describe(bg, []types.Filter{{Name: aws.String("tag:" + TagDeployment), Values: []string{w.r.cfg.Name}}})
	if err != nil {
		t.Logf("cleanup: %v", err)
		return
	}
	var ids []string
	for i := range ins {
		if alive(&ins[i]) {
			ids = append(ids, aws.ToString(ins[i].InstanceId))
		}
	}
	if len(ids) > 0 {
		if err := w.r.terminate(bg, ids...); err != nil {
			t.Logf("cleanup: %v", err)
		}
	}
}

func newJobID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// newJob is a job with distinctive values, so that the tests can look for
// them verbatim.
func newJob(kind provisioner.JobKind, now time.Time) provisioner.Job {
	id := newJobID()
	return provisioner.Job{ID: id, Kind: kind, Cluster: "ec2c-" + id[:8], Version: "release/v5.5.0-rc_" + id[8:14],
		RequestedBy: "octo-" + id[14:20], State: provisioner.JobQueued, LogKey: "jobs/" + id + "/log",
		CreatedAt: now, Deadline: now.Add(time.Hour).Truncate(time.Second)}
}

func (w *world) describe(t *testing.T, id string) types.Instance {
	t.Helper()
	out, err := w.ec2.DescribeInstances(bg, &awsec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil || len(out.Reservations) != 1 || len(out.Reservations[0].Instances) != 1 {
		t.Fatalf("describe %s: %v", id, err)
	}
	return out.Reservations[0].Instances[0]
}

// jobInstances are the instances tagged with a job's id, in any state.
func (w *world) jobInstances(t *testing.T, jobID string) []types.Instance {
	t.Helper()
	ins, err := w.r.jobInstances(bg, jobID)
	if err != nil {
		t.Fatal(err)
	}
	return ins
}

func (w *world) put(t *testing.T, key string, body []byte) {
	t.Helper()
	if _, err := w.s3.PutObject(bg, &awss3.PutObjectInput{Bucket: aws.String(w.fx.bucket), Key: aws.String(w.r.objectKey(key)),
		Body: bytes.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
}

func (w *world) get(t *testing.T, key string) []byte {
	t.Helper()
	out, err := w.s3.GetObject(bg, &awss3.GetObjectInput{Bucket: aws.String(w.fx.bucket), Key: aws.String(w.r.objectKey(key))})
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer out.Body.Close()
	b, _ := io.ReadAll(out.Body)
	return b
}

// userDataOf reads an instance's user data back from EC2.
func (w *world) userDataOf(t *testing.T, id string) []byte {
	t.Helper()
	out, err := w.ec2.DescribeInstanceAttribute(bg, &awsec2.DescribeInstanceAttributeInput{InstanceId: aws.String(id),
		Attribute: types.InstanceAttributeNameUserData})
	if err != nil || out.UserData == nil {
		t.Fatalf("user data of %s: %v", id, err)
	}
	b, err := base64.StdEncoding.DecodeString(aws.ToString(out.UserData.Value))
	if err != nil {
		t.Fatalf("user data of %s is not base64: %v", id, err)
	}
	return b
}

// sections splits user data into the environment file and the rest, and
// decodes the job script.
func sections(t *testing.T, ud []byte) (env, outside, script []byte) {
	t.Helper()
	lines := strings.SplitAfter(string(ud), "\n")
	var envB, out, b64 strings.Builder
	state, delim := 0, ""
	for _, l := range lines {
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
	script, err = io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return []byte(envB.String()), []byte(out.String()), script
}

// sourceEnv sources an environment file in bash and returns variables.
func sourceEnv(t *testing.T, env []byte, names ...string) map[string]string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "job.env")
	if err := os.WriteFile(f, env, 0o600); err != nil {
		t.Fatal(err)
	}
	script := `set -u; . "$1" || exit 9; shift; for n in "$@"; do printf '%s\0%s\0' "$n" "${!n}"; done`
	cmd := exec.Command("bash", append([]string{"--noprofile", "--norc", "-c", script, "bash", f}, names...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sourcing the environment file: %v\n%s", err, env)
	}
	got := map[string]string{}
	parts := strings.Split(string(out), "\x00")
	for i := 0; i+1 < len(parts); i += 2 {
		got[parts[i]] = parts[i+1]
	}
	return got
}

// checkUserData checks a job's user data: every request value appears only
// in the environment file, single-quoted, and the file sources to exactly
// the job's values; the job script holds none of them.
func checkUserData(t *testing.T, ud []byte, j provisioner.Job, r *Runner) {
	t.Helper()
	if len(ud) > MaxUserData {
		t.Fatalf("user data is %d bytes", len(ud))
	}
	env, outside, script := sections(t, ud)
	for _, v := range []string{j.ID, j.Cluster, j.Version, j.RequestedBy} {
		if bytes.Contains(outside, []byte(v)) {
			t.Errorf("request value %q appears outside the environment file", v)
		}
		if bytes.Contains(script, []byte(v)) {
			t.Errorf("request value %q appears in the job script", v)
		}
	}
	if bytes.Contains(env, []byte(j.RequestedBy)) {
		t.Errorf("the requester is in the environment file")
	}
	for _, l := range strings.Split(strings.TrimSpace(string(env)), "\n") {
		if strings.HasPrefix(l, "#") {
			continue
		}
		name, val, ok := strings.Cut(l, "=")
		if !ok || !strings.HasPrefix(val, "'") {
			// A multi-line value continues a quoted one.
			continue
		}
		if (name == "CLUSTER" || name == "VERSION" || name == "JOB_ID") && val != plan.ShellQuote(map[string]string{"CLUSTER": j.Cluster, "VERSION": j.Version, "JOB_ID": j.ID}[name]) {
			t.Errorf("environment line %q is not the single-quoted value", l)
		}
	}
	got := sourceEnv(t, env, "JOB_ID", "JOB_KIND", "CLUSTER", "VERSION", "ORGANIZATION", "S3_JOB_URI", "S3_LOG_URI", "ON_EXIT", "HOST_SETUP", "AWS_REGION")
	want := map[string]string{
		"JOB_ID": j.ID, "JOB_KIND": string(j.Kind), "CLUSTER": j.Cluster, "VERSION": j.Version, "ORGANIZATION": j.Cluster,
		"S3_JOB_URI": "s3://" + r.cfg.Bucket + "/" + r.objectKey("jobs/"+j.ID),
		"S3_LOG_URI": "s3://" + r.cfg.Bucket + "/" + r.objectKey(r.logKey(j)),
		"ON_EXIT":    onExitCommand(r.dir),
		"HOST_SETUP": r.cfg.HostSetup,
		"AWS_REGION": r.cfg.Region,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("sourced %s = %q, want %q", k, got[k], v)
		}
	}
	if !bytes.HasPrefix(script, []byte("#!/usr/bin/env bash\n# SlideRule Provisioner job script")) {
		t.Errorf("the script is not the job script: %.80q", script)
	}
}
