package ec2

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"provisioner"
	"provisioner/plan"
)

// captureRun records the RunInstances requests a client sends.
type captureRun struct {
	mu   sync.Mutex
	reqs []*awsec2.RunInstancesInput
}

func (c *captureRun) option(o *awsec2.Options) {
	o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("CaptureRun",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				if r, ok := in.Parameters.(*awsec2.RunInstancesInput); ok {
					c.mu.Lock()
					c.reqs = append(c.reqs, r)
					c.mu.Unlock()
				}
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
	})
}

// failSpot makes RunInstances of spot instances fail with code, as EC2
// does when the spot market has no capacity; the request never leaves.
func failSpot(code string) func(*awsec2.Options) {
	return func(o *awsec2.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			return s.Initialize.Add(middleware.InitializeMiddlewareFunc("FailSpot",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
					if r, ok := in.Parameters.(*awsec2.RunInstancesInput); ok && r.InstanceMarketOptions != nil {
						return middleware.InitializeOutput{}, middleware.Metadata{},
							&smithy.GenericAPIError{Code: code, Message: "There is no Spot capacity available that matches your request.", Fault: smithy.FaultClient}
					}
					return next.HandleInitialize(ctx, in)
				}), middleware.After)
		})
	}
}

func TestStartRequest(t *testing.T) {
	t.Parallel()
	var capture captureRun
	w := newWorld(t, nil, capture.option)
	j := newJob(provisioner.JobTest, w.now.Now())
	id, err := w.r.Start(bg, j)
	if err != nil {
		t.Fatal(err)
	}
	startCalls := w.calls.Calls()
	t.Logf("Start: %d calls %v", w.calls.Total(), startCalls)
	if w.calls.Total() != 4 {
		t.Errorf("Start made %d calls: %v", w.calls.Total(), startCalls)
	}

	in := w.describe(t, id)
	param, err := w.ssm.GetParameter(bg, &ssm.GetParameterInput{Name: aws.String(DefaultAMIParameter)})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := aws.ToString(in.ImageId), aws.ToString(param.Parameter.Value); got != want {
		t.Errorf("AMI %s, want the SSM parameter's %s", got, want)
	}
	if in.InstanceLifecycle != types.InstanceLifecycleTypeSpot {
		t.Errorf("lifecycle %q, want spot", in.InstanceLifecycle)
	}
	if in.InstanceType != types.InstanceType(DefaultInstanceType) {
		t.Errorf("instance type %s", in.InstanceType)
	}
	if aws.ToString(in.SubnetId) != w.fx.subnet || len(in.SecurityGroups) != 1 || aws.ToString(in.SecurityGroups[0].GroupId) != w.fx.group {
		t.Errorf("network: subnet %s, groups %+v", aws.ToString(in.SubnetId), in.SecurityGroups)
	}
	if in.IamInstanceProfile == nil || aws.ToString(in.IamInstanceProfile.Arn) != w.fx.profile {
		t.Errorf("instance profile %+v, want %s", in.IamInstanceProfile, w.fx.profile)
	}
	if got := aws.ToString(in.ClientToken); got != w.r.clientToken(j.ID, "spot") || len(got) > 64 {
		t.Errorf("client token %q", got)
	}
	sb, err := w.ec2.DescribeInstanceAttribute(bg, &awsec2.DescribeInstanceAttributeInput{InstanceId: aws.String(id),
		Attribute: types.InstanceAttributeNameInstanceInitiatedShutdownBehavior})
	if err != nil || sb.InstanceInitiatedShutdownBehavior == nil || aws.ToString(sb.InstanceInitiatedShutdownBehavior.Value) != "terminate" {
		t.Errorf("shutdown behaviour %+v %v", sb.InstanceInitiatedShutdownBehavior, err)
	}
	wantTags := map[string]string{
		"Name": w.r.cfg.Name + "-job-" + j.ID, TagDeployment: w.r.cfg.Name, TagJobID: j.ID, TagKind: "test",
		TagCluster: j.Cluster, TagVersion: j.Version, TagRequestedBy: j.RequestedBy,
		TagDeadline: j.Deadline.UTC().Format(time.RFC3339), TagMarket: "spot", "team": "sliderule",
	}
	for k, v := range wantTags {
		if got := tag(&in, k); got != v {
			t.Errorf("tag %s = %q, want %q", k, got, v)
		}
	}

	// What the request said that DescribeInstances does not show.
	if len(capture.reqs) != 1 {
		t.Fatalf("%d RunInstances requests", len(capture.reqs))
	}
	req := capture.reqs[0]
	mo := req.InstanceMarketOptions
	if mo == nil || mo.MarketType != types.MarketTypeSpot || mo.SpotOptions == nil ||
		mo.SpotOptions.SpotInstanceType != types.SpotInstanceTypeOneTime ||
		mo.SpotOptions.InstanceInterruptionBehavior != types.InstanceInterruptionBehaviorTerminate || mo.SpotOptions.MaxPrice != nil {
		t.Errorf("market options %+v", mo)
	}
	if aws.ToInt32(req.MinCount) != 1 || aws.ToInt32(req.MaxCount) != 1 {
		t.Errorf("counts %d..%d", aws.ToInt32(req.MinCount), aws.ToInt32(req.MaxCount))
	}
	if req.MetadataOptions == nil || req.MetadataOptions.HttpTokens != types.HttpTokensStateRequired {
		t.Errorf("IMDSv1 allowed: %+v", req.MetadataOptions)
	}
	kinds := map[types.ResourceType]bool{}
	for _, ts := range req.TagSpecifications {
		kinds[ts.ResourceType] = true
		got := map[string]string{}
		for _, tg := range ts.Tags {
			got[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
		}
		for k, v := range wantTags {
			if got[k] != v {
				t.Errorf("%s tag %s = %q, want %q", ts.ResourceType, k, got[k], v)
			}
		}
	}
	if !kinds[types.ResourceTypeInstance] || !kinds[types.ResourceTypeVolume] {
		t.Errorf("tagged resources %v", kinds)
	}
	bdm := req.BlockDeviceMappings
	if len(bdm) != 1 || bdm[0].Ebs == nil || !aws.ToBool(bdm[0].Ebs.DeleteOnTermination) || !aws.ToBool(bdm[0].Ebs.Encrypted) {
		t.Errorf("block devices %+v", bdm)
	}

	// The user data, as EC2 keeps it.
	ud := w.userDataOf(t, id)
	checkUserData(t, ud, j, w.r)
	t.Logf("user data: %d bytes", len(ud))

	// The plan the job runs is kept where the machines cannot write.
	var p plan.Plan
	if err := json.Unmarshal(w.get(t, "job-plans/"+j.ID+".json"), &p); err != nil || p.Kind != provisioner.JobTest || len(p.Steps) == 0 {
		t.Fatalf("stored plan %+v %v", p, err)
	}
}

func TestStartIdempotent(t *testing.T) {
	t.Parallel()
	var capture captureRun
	w := newWorld(t, nil, capture.option)
	j := newJob(provisioner.JobTest, w.now.Now())
	first, err := w.r.Start(bg, j)
	if err != nil {
		t.Fatal(err)
	}
	w.calls.Reset()
	again, err := w.r.Start(bg, j)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("repeated Start: %d calls %v", w.calls.Total(), w.calls.Calls())
	if again != first {
		t.Fatalf("second Start returned %s, the first %s", again, first)
	}
	if w.calls.Total() != 1 {
		t.Errorf("repeated Start made %d calls: %v", w.calls.Total(), w.calls.Calls())
	}
	if n := len(w.jobInstances(t, j.ID)); n != 1 {
		t.Fatalf("%d instances for one job", n)
	}
	if len(capture.reqs) != 1 {
		t.Fatalf("%d RunInstances requests", len(capture.reqs))
	}

	// A launch race (which EC2's client token prevents, and the emulator
	// does not): Start keeps the first machine and ends the other.
	dup, err := w.ec2.RunInstances(bg, capture.reqs[0])
	if err != nil {
		t.Fatal(err)
	}
	dupID := aws.ToString(dup.Instances[0].InstanceId)
	if dupID == first {
		t.Fatal("the emulator honoured the client token; the race cannot be shown")
	}
	j.Instance = first // as the store has it
	got, err := w.r.Start(bg, j)
	if err != nil || got != first {
		t.Fatalf("Start after a race: %s %v, want %s", got, err, first)
	}
	if in := w.describe(t, dupID); alive(&in) {
		t.Errorf("the duplicate machine is %s", in.State.Name)
	}
	if in := w.describe(t, first); !alive(&in) {
		t.Errorf("the job's machine is %s", in.State.Name)
	}
	// Without a recorded machine, one of them (the first launched) stays.
	j.Instance = ""
	if _, err := w.ec2.RunInstances(bg, capture.reqs[0]); err != nil {
		t.Fatal(err)
	}
	got, err = w.r.Start(bg, j)
	if err != nil {
		t.Fatal(err)
	}
	var live []string
	for _, in := range w.jobInstances(t, j.ID) {
		if alive(&in) {
			live = append(live, aws.ToString(in.InstanceId))
		}
	}
	if len(live) != 1 || live[0] != got {
		t.Fatalf("alive after Start: %v; Start said %s", live, got)
	}
}

func TestTwoJobsAtOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t, nil)
	jobs := []provisioner.Job{newJob(provisioner.JobTest, w.now.Now()), newJob(provisioner.JobTest, w.now.Now())}
	jobs[1].Cluster, jobs[1].Version = jobs[0].Cluster, jobs[0].Version // the same TEST twice
	ids := make([]string, len(jobs))
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i := range jobs {
		wg.Go(func() { ids[i], errs[i] = w.r.Start(bg, jobs[i]) })
	}
	wg.Wait()
	for i := range jobs {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		ins := w.jobInstances(t, jobs[i].ID)
		if len(ins) != 1 || aws.ToString(ins[0].InstanceId) != ids[i] {
			t.Fatalf("job %d: instances %d, Start said %s", i, len(ins), ids[i])
		}
		if tag(&ins[0], "Name") != w.r.cfg.Name+"-job-"+jobs[i].ID {
			t.Errorf("job %d: Name %q", i, tag(&ins[0], "Name"))
		}
	}
	if ids[0] == ids[1] {
		t.Fatalf("two jobs share instance %s", ids[0])
	}
}

// result is a result file as the job script writes it.
func result(j provisioner.Job, state string, steps ...plan.ResultStep) []byte {
	r := plan.Result{Format: 1, JobID: j.ID, Kind: string(j.Kind), Version: j.Version, State: state,
		StartedAt: time.Now().Unix(), UpdatedAt: time.Now().Unix(), Steps: steps}
	b, _ := json.Marshal(r)
	return b
}

func TestPollCompletion(t *testing.T) {
	t.Parallel()
	set, err := plan.NewSet(plan.Plan{Kind: provisioner.JobTest, Source: "poll-test", Steps: []plan.Step{
		{Name: "build", Run: "make"},
		{Name: "pytest", Run: "pytest --junitxml reports/py.xml", JUnit: "reports/*.xml", ContinueOnFailure: true},
	}})
	if err != nil {
		t.Fatal(err)
	}
	w := newWorld(t, func(c *Config) { c.Plans = set })
	passing := `<testsuite tests="3" failures="0" errors="0"><testcase name="a"/><testcase name="b"/><testcase name="c"/></testsuite>`
	failing := `<testsuite tests="3" failures="1"><testcase name="a"/><testcase name="b"><failure message="no"/></testcase><testcase name="c"/></testsuite>`

	for _, tc := range []struct {
		name   string
		junit  string
		state  provisioner.JobState
		reason string
	}{
		{"passed", passing, provisioner.JobPassed, ""},
		{"failed tests", failing, provisioner.JobFailed, "pytest (exit status 0, but 1 failed and 0 erroneous of 3 tests)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := newJob(provisioner.JobTest, w.now.Now())
			id, err := w.r.Start(bg, j)
			if err != nil {
				t.Fatal(err)
			}
			j.Instance = id

			// Nothing uploaded yet: the machine says how far it is.
			w.calls.Reset()
			st, err := w.r.Poll(bg, j)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("Poll without a result: %d calls %v", w.calls.Total(), w.calls.Calls())
			if st.State != provisioner.JobRunning && st.State != provisioner.JobProvisioning {
				t.Fatalf("state %s %q", st.State, st.Reason)
			}
			if w.calls.Total() != 2 {
				t.Errorf("Poll without a result made %d calls: %v", w.calls.Total(), w.calls.Calls())
			}

			// A periodic upload while the job runs: the steps so far.
			w.put(t, "jobs/"+j.ID+"/result.json", result(j, plan.ScriptRunning,
				plan.ResultStep{Name: "checkout", Status: "passed", DurationMS: 800},
				plan.ResultStep{Name: "build", Status: "running", ExitCode: -1}))
			w.calls.Reset()
			st, err = w.r.Poll(bg, j)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("Poll of a running job: %d calls %v", w.calls.Total(), w.calls.Calls())
			if st.State != provisioner.JobRunning || len(st.Steps) != 2 || st.Steps[1].Status != "running" {
				t.Fatalf("running status %+v", st)
			}

			// The final upload, as on-exit.sh does it: reports, then result.
			w.put(t, "jobs/"+j.ID+"/junit/pytest/1.xml", []byte(tc.junit))
			w.put(t, "jobs/"+j.ID+"/result.json", result(j, plan.ScriptFinished,
				plan.ResultStep{Name: "checkout", Status: "passed", DurationMS: 800},
				plan.ResultStep{Name: "build", Status: "passed", DurationMS: 60000},
				plan.ResultStep{Name: "pytest", Status: "passed", DurationMS: 9000, JUnit: []string{"junit/pytest/1.xml"}}))
			w.calls.Reset()
			st, err = w.r.Poll(bg, j)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("Poll of a finished job: %d calls %v", w.calls.Total(), w.calls.Calls())
			if st.State != tc.state || !strings.Contains(st.Reason, tc.reason) {
				t.Fatalf("status %s %q, want %s %q", st.State, st.Reason, tc.state, tc.reason)
			}
			if len(st.Steps) != 3 || st.Steps[2].Tests != 3 {
				t.Fatalf("steps %+v", st.Steps)
			}
			// Its machine goes (it ends itself; Poll makes sure).
			if in := w.describe(t, id); alive(&in) {
				t.Errorf("a finished job's machine is %s", in.State.Name)
			}
		})
	}
}

func TestLostInstance(t *testing.T) {
	t.Parallel()
	w := newWorld(t, nil)
	j := newJob(provisioner.JobTest, w.now.Now())
	id, err := w.r.Start(bg, j)
	if err != nil {
		t.Fatal(err)
	}
	j.Instance = id
	// A spot interruption: the machine is gone, it uploaded nothing.
	if _, err := w.ec2.TerminateInstances(bg, &awsec2.TerminateInstancesInput{InstanceIds: []string{id}}); err != nil {
		t.Fatal(err)
	}
	w.calls.Reset()
	st, err := w.r.Poll(bg, j)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Poll of a lost machine: %d calls %v", w.calls.Total(), w.calls.Calls())
	if st.State != provisioner.JobError || !strings.Contains(st.Reason, "instance "+id+" ended without a result (spot interruption?)") {
		t.Fatalf("status %s %q", st.State, st.Reason)
	}

	// Lost mid-job: the step it was running failed with it.
	j2 := newJob(provisioner.JobTest, w.now.Now())
	id2, err := w.r.Start(bg, j2)
	if err != nil {
		t.Fatal(err)
	}
	j2.Instance = id2
	p, _ := w.r.cfg.Plans.For(j2.Kind, j2.Version)
	w.put(t, "jobs/"+j2.ID+"/result.json", result(j2, plan.ScriptRunning,
		plan.ResultStep{Name: "checkout", Status: "passed"}, plan.ResultStep{Name: p.Steps[0].Name, Status: "running", ExitCode: -1}))
	if _, err := w.ec2.TerminateInstances(bg, &awsec2.TerminateInstancesInput{InstanceIds: []string{id2}}); err != nil {
		t.Fatal(err)
	}
	st, err = w.r.Poll(bg, j2)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != provisioner.JobError || len(st.Steps) != 2 || st.Steps[1].Status != plan.StepFailed {
		t.Fatalf("status %+v", st)
	}

	// A machine EC2 does not show: just launched (eventual consistency),
	// or long gone.
	ghost := newJob(provisioner.JobTest, w.now.Now())
	ghost.Instance = "i-0123456789abcdef0"
	if st, err := w.r.Poll(bg, ghost); err != nil || st.State != provisioner.JobProvisioning {
		t.Fatalf("a machine not shown yet: %+v %v", st, err)
	}
	ghost.CreatedAt = w.now.Now().Add(-time.Hour)
	if st, err := w.r.Poll(bg, ghost); err != nil || st.State != provisioner.JobError || !strings.Contains(st.Reason, "ended without a result") {
		t.Fatalf("a machine long gone: %+v %v", st, err)
	}
	ghost.Instance = ""
	if _, err := w.r.Poll(bg, ghost); provisioner.ErrorCode(err) != provisioner.ENOTFOUND {
		t.Fatalf("a job without a machine: %v", err)
	}

	// No leak: nothing of either job is alive, and the reaper finds nothing.
	for _, jid := range []string{j.ID, j2.ID} {
		for _, in := range w.jobInstances(t, jid) {
			if alive(&in) {
				t.Errorf("job %s: instance %s is %s", jid, aws.ToString(in.InstanceId), in.State.Name)
			}
		}
	}
	reaped, err := w.r.Reap(bg, func(ctx context.Context, id string) (provisioner.Job, error) {
		return provisioner.Job{}, provisioner.Errorf(provisioner.ENOTFOUND, "no")
	})
	if err != nil || len(reaped) != 0 {
		t.Fatalf("reaped %+v %v", reaped, err)
	}
}

func TestDeadline(t *testing.T) {
	t.Parallel()
	w := newWorld(t, nil)
	j := newJob(provisioner.JobTest, w.now.Now())
	id, err := w.r.Start(bg, j)
	if err != nil {
		t.Fatal(err)
	}
	j.Instance = id
	// Past the deadline, within the script's grace: still running.
	w.now.Add(time.Hour + time.Minute)
	if st, err := w.r.Poll(bg, j); err != nil || st.State != provisioner.JobRunning {
		t.Fatalf("within the grace: %+v %v", st, err)
	}
	// Past the hard deadline, and alive: terminated, timed out.
	w.now.Add(UploadGrace + 2*time.Minute)
	w.calls.Reset()
	st, err := w.r.Poll(bg, j)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Poll of an overdue job: %d calls %v", w.calls.Total(), w.calls.Calls())
	if st.State != provisioner.JobTimedOut || !strings.Contains(st.Reason, "did not end by its deadline") {
		t.Fatalf("status %s %q", st.State, st.Reason)
	}
	if in := w.describe(t, id); alive(&in) {
		t.Fatalf("the overdue machine is %s", in.State.Name)
	}
}

func TestCancel(t *testing.T) {
	t.Parallel()
	w := newWorld(t, nil)
	j := newJob(provisioner.JobRelease, w.now.Now())
	id, err := w.r.Start(bg, j)
	if err != nil {
		t.Fatal(err)
	}
	j.Instance = id
	w.calls.Reset()
	if err := w.r.Cancel(bg, j); err != nil {
		t.Fatal(err)
	}
	t.Logf("Cancel: %d calls %v", w.calls.Total(), w.calls.Calls())
	if in := w.describe(t, id); alive(&in) {
		t.Fatalf("the cancelled machine is %s", in.State.Name)
	}
	if err := w.r.Cancel(bg, j); err != nil {
		t.Fatalf("second Cancel: %v", err)
	}
	st, err := w.r.Poll(bg, j)
	if err != nil || st.State != provisioner.JobCancelled {
		t.Fatalf("Poll after Cancel: %+v %v", st, err)
	}
	// Cancelling a job whose Start never recorded its machine finds it.
	j2 := newJob(provisioner.JobTest, w.now.Now())
	id2, err := w.r.Start(bg, j2)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.r.Cancel(bg, j2); err != nil {
		t.Fatal(err)
	}
	if in := w.describe(t, id2); alive(&in) {
		t.Fatalf("the cancelled machine is %s", in.State.Name)
	}
	// A job that never started: nothing to do.
	if err := w.r.Cancel(bg, newJob(provisioner.JobTest, w.now.Now())); err != nil {
		t.Fatal(err)
	}
}

func TestReap(t *testing.T) {
	t.Parallel()
	w := newWorld(t, nil)
	now := w.now.Now()
	live := newJob(provisioner.JobTest, now)
	overdue := newJob(provisioner.JobTest, now.Add(-3*time.Hour))
	overdue.Deadline = now.Add(-2 * time.Hour).Truncate(time.Second)
	finished := newJob(provisioner.JobRelease, now)
	unknown := newJob(provisioner.JobTest, now)
	jobs := map[string]*provisioner.Job{}
	for _, j := range []*provisioner.Job{&live, &overdue, &finished, &unknown} {
		id, err := w.r.Start(bg, *j)
		if err != nil {
			t.Fatal(err)
		}
		j.Instance, j.State = id, provisioner.JobRunning
		jobs[j.ID] = j
	}
	finished.State = provisioner.JobPassed
	delete(jobs, unknown.ID)
	lookup := func(ctx context.Context, id string) (provisioner.Job, error) {
		if j, ok := jobs[id]; ok {
			return *j, nil
		}
		return provisioner.Job{}, provisioner.Errorf(provisioner.ENOTFOUND, "job %s does not exist", id)
	}
	w.calls.Reset()
	reaped, err := w.r.Reap(bg, lookup)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Reap: %d calls %v; reaped %+v", w.calls.Total(), w.calls.Calls(), reaped)
	got := map[string]string{}
	for _, x := range reaped {
		got[x.JobID] = x.Reason
	}
	if len(reaped) != 2 || !strings.Contains(got[overdue.ID], "past the job's deadline") || got[finished.ID] != "the job is passed" {
		t.Fatalf("reaped %+v", reaped)
	}
	for _, j := range []provisioner.Job{live, unknown} {
		if in := w.describe(t, j.Instance); !alive(&in) {
			t.Errorf("job %s: its machine was reaped", j.ID)
		}
	}
	for _, j := range []provisioner.Job{overdue, finished} {
		if in := w.describe(t, j.Instance); alive(&in) {
			t.Errorf("job %s: machine still %s", j.ID, in.State.Name)
		}
	}
	// An unknown job's machine goes once it is older than ReapGrace; a
	// lookup that fails spares it.
	w.now.Add(ReapGrace + time.Minute)
	failing := func(ctx context.Context, id string) (provisioner.Job, error) {
		if id == unknown.ID {
			return provisioner.Job{}, fmt.Errorf("store down")
		}
		return lookup(ctx, id)
	}
	if reaped, err := w.r.Reap(bg, failing); err == nil || len(reaped) != 0 {
		t.Fatalf("Reap with a failing lookup: %+v %v", reaped, err)
	}
	reaped, err = w.r.Reap(bg, lookup)
	if err != nil || len(reaped) != 1 || reaped[0].JobID != unknown.ID || reaped[0].Reason != "the job does not exist" {
		t.Fatalf("reaped %+v %v", reaped, err)
	}
	if in := w.describe(t, live.Instance); !alive(&in) {
		t.Error("the live job's machine was reaped")
	}
}

func TestSpotFallback(t *testing.T) {
	t.Parallel()
	var capture captureRun
	w := newWorld(t, nil, capture.option, failSpot("InsufficientInstanceCapacity"))
	j := newJob(provisioner.JobTest, w.now.Now())
	id, err := w.r.Start(bg, j)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Start with a spot fallback: %d calls %v", w.calls.Total(), w.calls.Calls())
	in := w.describe(t, id)
	if in.InstanceLifecycle == types.InstanceLifecycleTypeSpot || tag(&in, TagMarket) != "on-demand" {
		t.Fatalf("lifecycle %q, market tag %q", in.InstanceLifecycle, tag(&in, TagMarket))
	}
	if aws.ToString(in.ClientToken) != w.r.clientToken(j.ID, "on-demand") {
		t.Errorf("client token %q", aws.ToString(in.ClientToken))
	}
	if len(capture.reqs) != 2 || capture.reqs[0].InstanceMarketOptions == nil || capture.reqs[1].InstanceMarketOptions != nil {
		t.Fatalf("requests %d", len(capture.reqs))
	}
	if n := len(w.jobInstances(t, j.ID)); n != 1 {
		t.Fatalf("%d instances", n)
	}

	// Without the fallback: unavailable, and no machine; other errors do
	// not fall back.
	for _, tc := range []struct {
		code     string
		fallback bool
		want     string
	}{
		{"InsufficientInstanceCapacity", false, provisioner.EUNAVAILABLE},
		{"SpotMaxPriceTooLow", false, provisioner.EUNAVAILABLE},
		{"MaxSpotInstanceCountExceeded", false, provisioner.EUNAVAILABLE},
		{"UnauthorizedOperation", true, provisioner.EINTERNAL},
	} {
		t.Run(tc.code, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, func(c *Config) { c.OnDemandFallback = tc.fallback }, failSpot(tc.code))
			j := newJob(provisioner.JobTest, w.now.Now())
			if _, err := w.r.Start(bg, j); provisioner.ErrorCode(err) != tc.want {
				t.Fatalf("Start: %v, want %s", err, tc.want)
			}
			if n := len(w.jobInstances(t, j.ID)); n != 0 {
				t.Fatalf("%d instances", n)
			}
		})
	}
}
