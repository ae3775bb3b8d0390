package scheduler_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/scheduler/types"
	"github.com/aws/smithy-go/middleware"

	"provisioner/aws/awstest"
	"provisioner/aws/scheduler"
)

const (
	targetARN = "arn:aws:lambda:us-west-2:123456789012:function:sliderule-provisioner"
	roleARN   = "arn:aws:iam::123456789012:role/sliderule-provisioner-scheduler"
	dlqARN    = "arn:aws:sqs:us-west-2:123456789012:sliderule-provisioner-dlq"
)

var bg = context.Background()

// recorder keeps the input of every UpdateSchedule call, to show what is
// sent: the emulator keeps ActionAfterCompletion from the create whatever
// an update says, so GetSchedule alone cannot prove an update carries it.
type recorder struct {
	mu      sync.Mutex
	updates []*sdk.UpdateScheduleInput
	calls   []string
}

func (r *recorder) install(cfg *aws.Config) {
	cfg.APIOptions = append(cfg.APIOptions, func(s *middleware.Stack) error {
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("record",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				r.mu.Lock()
				r.calls = append(r.calls, middleware.GetOperationName(ctx))
				if u, ok := in.Parameters.(*sdk.UpdateScheduleInput); ok {
					r.updates = append(r.updates, u)
				}
				r.mu.Unlock()
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
	})
}

func (r *recorder) lastUpdate() *sdk.UpdateScheduleInput {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.updates) == 0 {
		return nil
	}
	return r.updates[len(r.updates)-1]
}

type fixture struct {
	s   *scheduler.Scheduler
	c   *sdk.Client
	rec *recorder
	now time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	cfg := awstest.Config(t)
	f := &fixture{rec: &recorder{}, now: time.Now().UTC()}
	f.rec.install(&cfg)
	s, err := scheduler.New(cfg, scheduler.Config{
		Group: awstest.Name("sched"), Prefix: "sliderule",
		TargetARN: targetARN, RoleARN: roleARN, DeadLetterARN: dlqARN,
		MaxEventAge: 6 * time.Hour, MaxRetries: 50,
		Now: func() time.Time { return f.now },
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureGroup(bg); err != nil {
		t.Fatal(err)
	}
	f.s, f.c = s, s.Client()
	return f
}

func (f *fixture) get(t *testing.T, name string) *sdk.GetScheduleOutput {
	t.Helper()
	out, err := f.c.GetSchedule(bg, &sdk.GetScheduleInput{Name: aws.String(name), GroupName: aws.String(f.s.Group())})
	if err != nil {
		t.Fatalf("GetSchedule %s: %v", name, err)
	}
	return out
}

func (f *fixture) absent(t *testing.T, name string) {
	t.Helper()
	_, err := f.c.GetSchedule(bg, &sdk.GetScheduleInput{Name: aws.String(name), GroupName: aws.String(f.s.Group())})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("GetSchedule %s: got %v, want ResourceNotFoundException", name, err)
	}
}

// checkDestroy checks every field of cluster's destroy schedule.
func (f *fixture) checkDestroy(t *testing.T, cluster string, at time.Time) {
	t.Helper()
	name := "sliderule-destroy-" + cluster
	if got := f.s.DestroyName(cluster); got != name {
		t.Fatalf("DestroyName(%q) = %q, want %q", cluster, got, name)
	}
	out := f.get(t, name)
	if want := scheduler.AtExpression(f.s.FireTime(at)); aws.ToString(out.ScheduleExpression) != want {
		t.Errorf("expression = %q, want %q", aws.ToString(out.ScheduleExpression), want)
	}
	if tz := aws.ToString(out.ScheduleExpressionTimezone); tz != "UTC" {
		t.Errorf("timezone = %q, want UTC", tz)
	}
	if out.ActionAfterCompletion != types.ActionAfterCompletionDelete {
		t.Errorf("ActionAfterCompletion = %q, want DELETE", out.ActionAfterCompletion)
	}
	if out.State != types.ScheduleStateEnabled {
		t.Errorf("State = %q, want ENABLED", out.State)
	}
	if out.FlexibleTimeWindow == nil || out.FlexibleTimeWindow.Mode != types.FlexibleTimeWindowModeOff {
		t.Errorf("FlexibleTimeWindow = %+v, want OFF", out.FlexibleTimeWindow)
	}
	tg := out.Target
	if tg == nil {
		t.Fatal("no target")
	}
	if aws.ToString(tg.Arn) != targetARN || aws.ToString(tg.RoleArn) != roleARN {
		t.Errorf("target %s role %s, want %s and %s", aws.ToString(tg.Arn), aws.ToString(tg.RoleArn), targetARN, roleARN)
	}
	if tg.DeadLetterConfig == nil || aws.ToString(tg.DeadLetterConfig.Arn) != dlqARN {
		t.Errorf("dead-letter config = %+v, want %s", tg.DeadLetterConfig, dlqARN)
	}
	if rp := tg.RetryPolicy; rp == nil || aws.ToInt32(rp.MaximumEventAgeInSeconds) != 6*3600 || aws.ToInt32(rp.MaximumRetryAttempts) != 50 {
		t.Errorf("retry policy = %+v, want 21600s / 50 attempts", rp)
	}
	var ev map[string]any
	if err := json.Unmarshal([]byte(aws.ToString(tg.Input)), &ev); err != nil {
		t.Fatalf("input %q: %v", aws.ToString(tg.Input), err)
	}
	want := map[string]any{"action": "destroy", "cluster": cluster, "at": at.UTC().Format(time.RFC3339)}
	if len(ev) != len(want) || ev["action"] != want["action"] || ev["cluster"] != want["cluster"] || ev["at"] != want["at"] {
		t.Errorf("input = %v, want %v", ev, want)
	}
}

func TestSetDestroyCreates(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	at := f.now.Add(2 * time.Hour).Truncate(time.Second)
	if err := f.s.SetDestroy(bg, "alpha", at); err != nil {
		t.Fatal(err)
	}
	f.checkDestroy(t, "alpha", at)
	if u := f.rec.lastUpdate(); u != nil {
		t.Errorf("a first SetDestroy updated instead of creating: %+v", u)
	}
}

func TestSetDestroyReplaces(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	first := f.now.Add(time.Hour).Truncate(time.Second)
	second := f.now.Add(3*time.Hour + 17*time.Second)
	if err := f.s.SetDestroy(bg, "beta", first); err != nil {
		t.Fatal(err)
	}
	if err := f.s.SetDestroy(bg, "beta", second); err != nil {
		t.Fatal(err)
	}
	f.checkDestroy(t, "beta", second)

	// The update carried every field (AWS resets omitted ones).
	u := f.rec.lastUpdate()
	if u == nil {
		t.Fatal("the second SetDestroy made no UpdateSchedule call")
	}
	if u.ActionAfterCompletion != types.ActionAfterCompletionDelete || u.State != types.ScheduleStateEnabled ||
		u.FlexibleTimeWindow == nil || u.Target == nil || u.Target.DeadLetterConfig == nil || u.Target.RetryPolicy == nil ||
		aws.ToString(u.ScheduleExpressionTimezone) != "UTC" || aws.ToString(u.Description) == "" {
		t.Errorf("UpdateSchedule left fields out: %+v (target %+v)", u, u.Target)
	}

	// Replacing with the same time again is harmless.
	if err := f.s.SetDestroy(bg, "beta", second); err != nil {
		t.Fatal(err)
	}
	f.checkDestroy(t, "beta", second)
}

func TestRemoveDestroy(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	if err := f.s.SetDestroy(bg, "gamma", f.now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := f.s.RemoveDestroy(bg, "gamma"); err != nil {
		t.Fatal(err)
	}
	f.absent(t, "sliderule-destroy-gamma")
	// Absent schedules: removing again, or one never set, is fine.
	if err := f.s.RemoveDestroy(bg, "gamma"); err != nil {
		t.Fatalf("second remove: %v", err)
	}
	if err := f.s.RemoveDestroy(bg, "never-set"); err != nil {
		t.Fatalf("remove of a schedule never set: %v", err)
	}
	// And it can be set again after a remove.
	at := f.now.Add(30 * time.Minute)
	if err := f.s.SetDestroy(bg, "gamma", at); err != nil {
		t.Fatal(err)
	}
	f.checkDestroy(t, "gamma", at)
}

// Cluster names that are prefixes of each other have separate schedules:
// setting, replacing or removing one never touches the other.
func TestPrefixNamedClustersAreIndependent(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	atShort, atLong := f.now.Add(time.Hour), f.now.Add(2*time.Hour)
	if err := f.s.SetDestroy(bg, "abc", atShort); err != nil {
		t.Fatal(err)
	}
	if err := f.s.SetDestroy(bg, "abc-1", atLong); err != nil {
		t.Fatal(err)
	}
	f.checkDestroy(t, "abc", atShort)
	f.checkDestroy(t, "abc-1", atLong)

	moved := f.now.Add(5 * time.Hour)
	if err := f.s.SetDestroy(bg, "abc-1", moved); err != nil {
		t.Fatal(err)
	}
	f.checkDestroy(t, "abc", atShort)
	f.checkDestroy(t, "abc-1", moved)

	if err := f.s.RemoveDestroy(bg, "abc"); err != nil {
		t.Fatal(err)
	}
	f.absent(t, "sliderule-destroy-abc")
	f.checkDestroy(t, "abc-1", moved)
}

func TestEnsureReconcile(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for i := range 2 { // create, then update in place
		if err := f.s.EnsureReconcile(bg); err != nil {
			t.Fatalf("EnsureReconcile #%d: %v", i+1, err)
		}
	}
	out := f.get(t, "sliderule-reconcile")
	if got := aws.ToString(out.ScheduleExpression); got != "rate(5 minutes)" {
		t.Errorf("expression = %q, want rate(5 minutes)", got)
	}
	if got := aws.ToString(out.Target.Input); got != `{"action":"reconcile"}` {
		t.Errorf("input = %s", got)
	}
	if out.ActionAfterCompletion == types.ActionAfterCompletionDelete {
		t.Error("the recurring reconcile schedule must not delete itself")
	}
	if out.State != types.ScheduleStateEnabled || aws.ToString(out.Target.Arn) != targetARN || aws.ToString(out.Target.RoleArn) != roleARN {
		t.Errorf("schedule = %+v, target %+v", out, out.Target)
	}
	if out.Target.DeadLetterConfig == nil || aws.ToString(out.Target.DeadLetterConfig.Arn) != dlqARN {
		t.Errorf("dead-letter config = %+v", out.Target.DeadLetterConfig)
	}
	if rp := out.Target.RetryPolicy; rp == nil || aws.ToInt32(rp.MaximumEventAgeInSeconds) != 300 {
		t.Errorf("retry policy = %+v, want events no older than one period (300s)", rp)
	}
	if u := f.rec.lastUpdate(); u == nil || u.ActionAfterCompletion != types.ActionAfterCompletionNone || u.State != types.ScheduleStateEnabled {
		t.Errorf("update = %+v, want every field sent", u)
	}
	if err := f.s.RemoveReconcile(bg); err != nil {
		t.Fatal(err)
	}
	f.absent(t, "sliderule-reconcile")
}

// EnsureGroup on an existing group keeps its schedules (the emulator would
// replace the group, schedules and all, on a second CreateScheduleGroup).
func TestEnsureGroupKeepsSchedules(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	at := f.now.Add(time.Hour)
	if err := f.s.SetDestroy(bg, "delta", at); err != nil {
		t.Fatal(err)
	}
	if err := f.s.EnsureGroup(bg); err != nil {
		t.Fatal(err)
	}
	f.checkDestroy(t, "delta", at)
}

// A destroy time in the past still gets a schedule, one that fires soon.
func TestSetDestroyPastTime(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	at := f.now.Add(-time.Hour)
	if err := f.s.SetDestroy(bg, "epsilon", at); err != nil {
		t.Fatal(err)
	}
	f.checkDestroy(t, "epsilon", at)
}

func TestSetDestroyCallCount(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.rec.mu.Lock()
	f.rec.calls = nil
	f.rec.mu.Unlock()
	if err := f.s.SetDestroy(bg, "zeta", f.now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := f.s.SetDestroy(bg, "zeta", f.now.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := f.s.RemoveDestroy(bg, "zeta"); err != nil {
		t.Fatal(err)
	}
	f.rec.mu.Lock()
	defer f.rec.mu.Unlock()
	want := []string{"CreateSchedule", "CreateSchedule", "UpdateSchedule", "DeleteSchedule"}
	if len(f.rec.calls) != len(want) {
		t.Fatalf("calls = %v, want %v", f.rec.calls, want)
	}
	for i := range want {
		if f.rec.calls[i] != want[i] {
			t.Fatalf("calls = %v, want %v", f.rec.calls, want)
		}
	}
}

func TestInvalidClusterNames(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, name := range []string{"", "A", "a_b", "-ab", "ab-", "x/y", "a b", "abcdefghijabcdefghijabcdefghijabcdefghijk"} {
		if err := f.s.SetDestroy(bg, name, f.now.Add(time.Hour)); err == nil {
			t.Errorf("SetDestroy(%q) succeeded", name)
		}
		if err := f.s.RemoveDestroy(bg, name); err == nil {
			t.Errorf("RemoveDestroy(%q) succeeded", name)
		}
	}
	if err := f.s.SetDestroy(bg, "ok-name", time.Time{}); err == nil {
		t.Error("SetDestroy with a zero time succeeded")
	}
}

// A missing group is an error, not a silent success.
func TestMissingGroup(t *testing.T) {
	t.Parallel()
	cfg := awstest.Config(t)
	cfg.RetryMaxAttempts = 1 // the emulator answers 500 here; do not retry it
	s, err := scheduler.New(cfg, scheduler.Config{Group: awstest.Name("nogroup"), Prefix: "p", TargetARN: targetARN, RoleARN: roleARN})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetDestroy(bg, "eta", time.Now().Add(time.Hour)); err == nil {
		t.Fatal("SetDestroy into a missing group succeeded")
	}
	if err := s.RemoveDestroy(bg, "eta"); err != nil {
		t.Fatalf("RemoveDestroy in a missing group: %v", err)
	}
}
