package cloudformation_test

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"

	"provisioner"
	"provisioner/aws/cloudformation"
)

func (w *runnerWorld) named(t *testing.T, name string) *types.Stack {
	t.Helper()
	out, err := w.c.DescribeStacks(bg, &cfn.DescribeStacksInput{StackName: aws.String(name)})
	if err != nil || len(out.Stacks) == 0 {
		return nil
	}
	return &out.Stacks[0]
}

const capacityReason = "Instance i-0 failed: We currently do not have sufficient c7g.2xlarge capacity in the Availability Zone you requested. (Service: Ec2, Status Code: 500, Error Code: InsufficientInstanceCapacity)"

func TestSpotCapacityReasons(t *testing.T) {
	for reason, want := range map[string]bool{
		capacityReason:                               true,
		"Error Code: SpotMaxPriceTooLow":             true,
		"Error Code: MaxSpotInstanceCountExceeded":   true,
		"status capacity-not-available":              true,
		"Error Code: UnfulfillableCapacity":          true,
		"Error Code: InvalidAMIID.NotFound":          false,
		"Error Code: UnauthorizedOperation":          false,
		"Error Code: InstanceLimitExceeded":          false,
		"The following resource(s) failed to create": false,
	} {
		if got := cloudformation.IsSpotCapacityFailure(reason); got != want {
			t.Errorf("%q: %v, want %v", reason, got, want)
		}
	}
}

// failedJob starts a job whose stack then rolls back, the stack's status
// reason replaced by reason unless it is "", and an instance event failing
// with instanceFailure.
func failedJob(t *testing.T, w *runnerWorld, reason, instanceFailure string) provisioner.Job {
	t.Helper()
	j := provisioner.Job{ID: newJobID(), Kind: provisioner.JobTest, Cluster: "c1", Version: "v4.5.1", CreatedAt: w.Now(), Deadline: w.Now().Add(time.Hour)}
	name, err := w.r.Start(bg, j)
	if err != nil {
		t.Fatal(err)
	}
	j.Instance = name
	w.inj.mu.Lock()
	w.inj.reason, w.inj.instanceFailure = reason, instanceFailure
	w.inj.mu.Unlock()
	w.inj.set(name, types.StackStatusRollbackComplete, 1, 0)
	w.calls.Reset()
	return j
}

func TestRunnerOnDemandFallback(t *testing.T) {
	w := newRunnerWorld(t, false)
	// The spot stack failed: the instance's event says no capacity.
	j := failedJob(t, w, "The following resource(s) failed to create: [Instance]. Rollback requested by user.", capacityReason)
	od := w.r.OnDemandStackName(j.ID)
	s, err := w.r.Poll(bg, j)
	if err != nil || s.State != provisioner.JobProvisioning {
		t.Fatalf("poll after a capacity failure: %+v %v", s, err)
	}
	if n := creates(w.calls); n != 1 {
		t.Fatalf("CreateStack %d times", n)
	}
	if !gone(w.stack(t, j.ID)) {
		t.Fatal("the failed spot stack was not deleted")
	}
	st := w.named(t, od)
	if st == nil || gone(st) {
		t.Fatal("no on-demand stack")
	}
	if p, tg := params(st), tags(st); p["Market"] != "on-demand" || tg["provisioner:market"] != "on-demand" ||
		tg["provisioner:deadline"] != j.Deadline.UTC().Truncate(time.Second).Format(time.RFC3339) || tg["provisioner:job-id"] != j.ID {
		t.Fatalf("on-demand stack: market %q, tags %v", p["Market"], tg)
	}
	// Repeated Polls and Starts make nothing more.
	w.calls.Reset()
	for range 2 {
		if s, err := w.r.Poll(bg, j); err != nil || s.State != provisioner.JobRunning {
			t.Fatalf("poll of the on-demand stack: %+v %v", s, err)
		}
		if _, err := w.r.Start(bg, j); err != nil {
			t.Fatal(err)
		}
	}
	if n := creates(w.calls); n != 0 {
		t.Fatalf("repeated Poll/Start sent CreateStack %d times", n)
	}
	// The on-demand stack fails for capacity too: the job ends, no third stack.
	w.inj.set(od, types.StackStatusRollbackComplete, 1, 0)
	w.calls.Reset()
	s, err = w.r.Poll(bg, j)
	if err != nil || s.State != provisioner.JobError || !strings.Contains(s.Reason, od) || !strings.Contains(s.Reason, "no further fallback") {
		t.Fatalf("poll after a second capacity failure: %+v %v", s, err)
	}
	if n := creates(w.calls); n != 0 {
		t.Fatalf("a second failure sent CreateStack %d times", n)
	}
	if !gone(w.named(t, od)) {
		t.Fatal("the failed on-demand stack was not deleted")
	}
	w.add(cloudformation.VisibilityGrace + time.Second)
	if s, err := w.r.Poll(bg, j); err != nil || s.State != provisioner.JobError || creates(w.calls) != 0 {
		t.Fatalf("poll after the end: %+v %v", s, err)
	}
}

func TestRunnerOtherFailureNoFallback(t *testing.T) {
	w := newRunnerWorld(t, false)
	j := failedJob(t, w, "", "The image id '[ami-0]' does not exist (Error Code: InvalidAMIID.NotFound)")
	s, err := w.r.Poll(bg, j)
	if err != nil || s.State != provisioner.JobError || !strings.Contains(s.Reason, "injected by the test") {
		t.Fatalf("poll: %+v %v", s, err)
	}
	if n := creates(w.calls); n != 0 || w.named(t, w.r.OnDemandStackName(j.ID)) != nil {
		t.Fatalf("fell back on a non-capacity failure (CreateStack %d)", n)
	}
}

// An on-demand job's stack never falls back (it is not spot).
func TestRunnerOnDemandNoFallback(t *testing.T) {
	w := newRunnerWorld(t, true)
	j := failedJob(t, w, "", capacityReason)
	if s, err := w.r.Poll(bg, j); err != nil || s.State != provisioner.JobError || creates(w.calls) != 0 {
		t.Fatalf("poll: %+v %v (CreateStack %d)", s, err, creates(w.calls))
	}
}
