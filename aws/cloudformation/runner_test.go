package cloudformation_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"provisioner"
	"provisioner/aws/awsenv"
	"provisioner/aws/awstest"
	"provisioner/aws/cloudformation"
)

type runnerWorld struct {
	r      *cloudformation.Runner
	c      *cfn.Client
	s3     *awss3.Client
	calls  *awsenv.Counter
	now    time.Time
	mu     sync.Mutex
	name   string
	bucket string
	inj    *injector
}

func (w *runnerWorld) Now() time.Time { w.mu.Lock(); defer w.mu.Unlock(); return w.now }
func (w *runnerWorld) add(d time.Duration) {
	w.mu.Lock()
	w.now = w.now.Add(d)
	w.mu.Unlock()
}

var runnerFixture struct {
	once                   sync.Once
	bucket, subnet, sg, ip string
	err                    error
}

func newRunnerWorld(t *testing.T, onDemand bool, opts ...func(*cloudformation.RunnerConfig)) *runnerWorld {
	t.Helper()
	cfg := awstest.Config(t)
	f := &runnerFixture
	f.once.Do(func() {
		s3c := awss3.NewFromConfig(cfg, func(o *awss3.Options) { o.UsePathStyle = true })
		f.bucket = awstest.Name("cfnjobs")
		if _, f.err = s3c.CreateBucket(bg, &awss3.CreateBucketInput{Bucket: aws.String(f.bucket),
			CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(awstest.Region)}}); f.err != nil {
			return
		}
		var net awstest.Network
		net, f.err = awstest.CreateNetwork(bg, cfn.NewFromConfig(cfg), awstest.Name("cfnrun-net"), awstest.Name("cfnrun")+".example.org")
		f.subnet, f.sg, f.ip = net.PrivateSubnet, net.JobSecurityGroup, net.JobProfileARN
	})
	if f.err != nil {
		t.Fatal(f.err)
	}
	tpl, err := os.ReadFile(filepath.Join(filepath.Dir(templatePath(t)), "runner.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	w := &runnerWorld{c: cfn.NewFromConfig(cfg), now: time.Now().UTC(), name: awstest.Name("cr")}
	w.s3 = awss3.NewFromConfig(cfg, func(o *awss3.Options) { o.UsePathStyle = true })
	counted := awstest.Config(t)
	w.calls = awsenv.Count(&counted)
	w.inj = &injector{}
	w.inj.install(&counted)
	rc := cloudformation.RunnerConfig{Client: cfn.NewFromConfig(counted),
		S3: awss3.NewFromConfig(counted, func(o *awss3.Options) { o.UsePathStyle = true }), TemplateBody: string(tpl),
		Bucket: f.bucket, Prefix: "logs", Region: awstest.Region, Name: w.name, InstanceProfileARN: f.ip,
		SubnetID: f.subnet, SecurityGroupIDs: []string{f.sg}, OnDemand: onDemand, Tags: map[string]string{"team": "sliderule"}, Now: w.Now}
	for _, o := range opts {
		o(&rc)
	}
	w.bucket = f.bucket
	r, err := cloudformation.NewRunner(rc)
	if err != nil {
		t.Fatal(err)
	}
	w.r = r
	return w
}

func newJobID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (w *runnerWorld) stack(t *testing.T, jobID string) *types.Stack {
	t.Helper()
	out, err := w.c.DescribeStacks(bg, &cfn.DescribeStacksInput{StackName: aws.String(w.r.StackName(jobID))})
	if err != nil || len(out.Stacks) == 0 {
		return nil
	}
	return &out.Stacks[0]
}

func gone(st *types.Stack) bool {
	return st == nil || st.StackStatus == types.StackStatusDeleteComplete || st.StackStatus == types.StackStatusDeleteInProgress
}

func TestRunnerStartPollCancel(t *testing.T) {
	w := newRunnerWorld(t, false)
	j := provisioner.Job{ID: newJobID(), Kind: provisioner.JobTest, Cluster: "c1", Version: "v4.5.1", RequestedBy: "ada",
		CreatedAt: w.Now(), Deadline: w.Now().Add(time.Hour)}
	name, err := w.r.Start(bg, j)
	if err != nil || name != w.r.StackName(j.ID) {
		t.Fatalf("start: %q %v", name, err)
	}
	st := w.stack(t, j.ID)
	if st == nil || st.StackStatus != types.StackStatusCreateComplete {
		t.Fatalf("stack %+v", st)
	}
	tags := tags(st)
	for k, v := range map[string]string{"provisioner:job-id": j.ID, "provisioner:kind": "test", "provisioner:market": "spot",
		"provisioner:deployment": w.name, "team": "sliderule", "provisioner:deadline": j.Deadline.UTC().Truncate(time.Second).Format(time.RFC3339),
		"owner": "ada", "kind": "runner"} {
		if tags[k] != v {
			t.Errorf("tag %s = %q, want %q", k, tags[k], v)
		}
	}
	// Our side of the spot options (moto does not launch through the
	// launch template: it makes an on-demand instance whatever the
	// market): the parameter, and the template's launch template.
	p := params(st)
	// The emulator shows the SSM parameter resolved to its AMI.
	if p["Market"] != "spot" || (p["ImageId"] != cloudformation.DefaultAMIParameter && !strings.HasPrefix(p["ImageId"], "ami-")) {
		t.Errorf("Market %q, ImageId %q", p["Market"], p["ImageId"])
	}
	var ud strings.Builder
	for i := 0; i < 6; i++ {
		ud.WriteString(p["UserData"+string(rune('0'+i))])
	}
	raw, err := base64.StdEncoding.DecodeString(ud.String())
	if err != nil || !strings.HasPrefix(string(raw), "#!/bin/bash") || !strings.Contains(string(raw), j.ID) {
		t.Fatalf("user data does not reassemble: %v %.60q", err, raw)
	}
	// Idempotent start, by our own code: a second Start creates nothing.
	w.calls.Reset()
	if name2, err := w.r.Start(bg, j); err != nil || name2 != name {
		t.Fatalf("second start: %q %v", name2, err)
	}
	if n := creates(w.calls); n != 0 {
		t.Fatalf("a second Start sent CreateStack %d times", n)
	}
	j.Instance = name
	if s, err := w.r.Poll(bg, j); err != nil || s.State != provisioner.JobRunning {
		t.Fatalf("poll: %+v %v", s, err)
	}
	if err := w.r.Cancel(bg, j); err != nil {
		t.Fatal(err)
	}
	if st := w.stack(t, j.ID); !gone(st) {
		t.Fatalf("stack after cancel: %s", st.StackStatus)
	}
	if s, err := w.r.Poll(bg, j); err != nil || s.State != provisioner.JobCancelled {
		t.Fatalf("poll after cancel: %+v %v", s, err)
	}
	// The stack is gone, the job ran: Start never launches it again.
	w.calls.Reset()
	if _, err := w.r.Start(bg, j); err != nil {
		t.Fatal(err)
	}
	if n := creates(w.calls); n != 0 || !gone(w.stack(t, j.ID)) {
		t.Fatalf("Start relaunched a job whose stack was deleted (CreateStack %d)", n)
	}
}

func TestRunnerOnDemandAndLostMachine(t *testing.T) {
	w := newRunnerWorld(t, true)
	j := provisioner.Job{ID: newJobID(), Kind: provisioner.JobTest, Cluster: "c1", Version: "v4.5.1", CreatedAt: w.Now(), Deadline: w.Now().Add(3 * time.Hour)}
	name, err := w.r.Start(bg, j)
	if err != nil {
		t.Fatal(err)
	}
	j.Instance = name
	if p := params(w.stack(t, j.ID)); p["Market"] != "on-demand" {
		t.Fatalf("market %q", p["Market"])
	}
	// No log upload for LostAfter: the machine is gone (spot interruption).
	w.add(cloudformation.LostAfter + time.Minute)
	s, err := w.r.Poll(bg, j)
	if err != nil || s.State != provisioner.JobError || !strings.Contains(s.Reason, "no upload") {
		t.Fatalf("poll: %+v %v", s, err)
	}
	if st := w.stack(t, j.ID); !gone(st) {
		t.Fatalf("a lost job's stack is %s", st.StackStatus)
	}
}

func TestRunnerReapPastDeadline(t *testing.T) {
	w := newRunnerWorld(t, false)
	late := provisioner.Job{ID: newJobID(), Kind: provisioner.JobTest, Cluster: "c1", Version: "v4.5.1", CreatedAt: w.Now(), Deadline: w.Now().Add(30 * time.Minute)}
	alive := provisioner.Job{ID: newJobID(), Kind: provisioner.JobTest, Cluster: "c1", Version: "v4.5.1", CreatedAt: w.Now(), Deadline: w.Now().Add(5 * time.Hour)}
	for _, j := range []provisioner.Job{late, alive} {
		if _, err := w.r.Start(bg, j); err != nil {
			t.Fatal(err)
		}
	}
	lookup := func(_ any, id string) (provisioner.Job, error) {
		for _, j := range []provisioner.Job{late, alive} {
			if j.ID == id {
				return j, nil
			}
		}
		return provisioner.Job{}, provisioner.Errorf(provisioner.ENOTFOUND, "no job")
	}
	w.add(time.Hour)
	reaped, err := w.r.Reap(bg, func(_ context.Context, id string) (provisioner.Job, error) { return lookup(nil, id) })
	_ = reaped
	if err != nil {
		t.Fatal(err)
	}
	if len(reaped) != 1 || reaped[0].JobID != late.ID || !strings.Contains(reaped[0].Reason, "deadline") {
		t.Fatalf("reaped %+v", reaped)
	}
	if !gone(w.stack(t, late.ID)) || gone(w.stack(t, alive.ID)) {
		t.Fatal("the reaper deleted the wrong stacks")
	}
	_ = w.r.Cancel(bg, alive)
}

func creates(c *awsenv.Counter) int {
	n := 0
	for _, s := range c.Calls() {
		if strings.HasPrefix(s, "CloudFormation.CreateStack=") {
			n++
		}
	}
	return n
}
