// Package scheduler keeps the provisioner's destroy schedules in Amazon
// EventBridge Scheduler: one one-time at() schedule per cluster (and per
// user node group), named
// deterministically so that replacing or removing it is exact, plus one
// rate() schedule for the reconcile sweep. Every schedule invokes the
// provisioner Lambda with a small JSON input (see Event) and deletes itself
// after it fired (ActionAfterCompletion=DELETE).
//
// EventBridge Scheduler invokes a Lambda asynchronously: the schedule's retry
// policy and dead-letter queue cover delivery to Lambda, and the function's
// own asynchronous-invocation settings (retries, on-failure destination; see
// deploy/provisioner.yaml) cover a destroy that fails inside the function.
// Whatever both miss, the reconcile sweep catches, since the cluster is then
// past its destroy time.
package scheduler

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/scheduler/types"

	"provisioner"
)

// The actions of an Event.
const (
	ActionDestroy   = "destroy"
	ActionReconcile = "reconcile"
)

// Event is the input every schedule passes to the provisioner Lambda.
type Event struct {
	Action string `json:"action"` // ActionDestroy or ActionReconcile
	// Cluster is, for a destroy, the schedule's key: a cluster's name, or
	// a node group's provisioner.GroupKey ("cluster/user"), which
	// App.FireDestroy takes for the group alone. A function that predates
	// groups finds no cluster of that name and does nothing.
	Cluster string `json:"cluster,omitempty"`
	At      string `json:"at,omitempty"` // destroy: the destroy time asked for, RFC 3339 UTC
}

// DestroyInput is the JSON input of a destroy schedule: key is a
// cluster's name or a node group's GroupKey.
func DestroyInput(key string, at time.Time) string {
	return mustJSON(Event{Action: ActionDestroy, Cluster: key, At: at.UTC().Format(time.RFC3339)})
}

// ReconcileInput is the JSON input of the reconcile schedule.
func ReconcileInput() string { return mustJSON(Event{Action: ActionReconcile}) }

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // Event always marshals
	}
	return string(b)
}

// Defaults of Config.
const (
	DefaultMaxEventAge   = 24 * time.Hour // the most EventBridge Scheduler allows
	DefaultMaxRetries    = 185            // the most EventBridge Scheduler allows
	DefaultReconcileRate = 5 * time.Minute
)

// Config configures a Scheduler. Group, Prefix, TargetARN and RoleARN are
// required; deploy/provisioner.yaml creates all of them.
type Config struct {
	// Group is the schedule group every schedule lives in.
	Group string
	// Prefix starts every schedule name: <Prefix>-destroy-<cluster> and
	// <Prefix>-reconcile. At most 15 characters, so that the longest
	// cluster name still fits EventBridge's 64.
	Prefix string
	// TargetARN is the provisioner Lambda the schedules invoke.
	TargetARN string
	// RoleARN is the role EventBridge Scheduler assumes to invoke TargetARN
	// (lambda:InvokeFunction on it, sqs:SendMessage on DeadLetterARN).
	RoleARN string
	// DeadLetterARN is the SQS queue for events that could not be delivered
	// after all retries; empty for none (not recommended).
	DeadLetterARN string
	// MaxEventAge bounds how long delivery is retried: 1m to 24h, 0 for
	// DefaultMaxEventAge.
	MaxEventAge time.Duration
	// MaxRetries bounds the delivery attempts after the first: 0 to 185;
	// 0 means DefaultMaxRetries, a negative value no retries.
	MaxRetries int
	// ReconcileRate is how often the reconcile schedule fires: whole
	// minutes, 0 for DefaultReconcileRate.
	ReconcileRate time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Scheduler implements provisioner.Scheduler on EventBridge Scheduler. It
// makes no AWS call until a method is called.
type Scheduler struct {
	c      *scheduler.Client
	cfg    Config
	retry  *types.RetryPolicy
	window *types.FlexibleTimeWindow
}

var _ provisioner.Scheduler = (*Scheduler)(nil)

var (
	// EventBridge Scheduler names: 1-64 of [0-9a-zA-Z-_.].
	nameRE   = regexp.MustCompile(`^[0-9a-zA-Z_.-]{1,64}$`)
	prefixRE = regexp.MustCompile(`^[0-9a-zA-Z_.-]{1,15}$`)
)

// New returns a Scheduler using an EventBridge Scheduler client made from
// cfg. It makes no network call.
func New(cfg aws.Config, c Config, optFns ...func(*scheduler.Options)) (*Scheduler, error) {
	return NewFromClient(scheduler.NewFromConfig(cfg, optFns...), c)
}

// NewFromClient returns a Scheduler using client.
func NewFromClient(client *scheduler.Client, c Config) (*Scheduler, error) {
	switch {
	case client == nil:
		return nil, errors.New("scheduler: nil client")
	case !nameRE.MatchString(c.Group):
		return nil, fmt.Errorf("scheduler: invalid schedule group name %q", c.Group)
	case !prefixRE.MatchString(c.Prefix):
		return nil, fmt.Errorf("scheduler: invalid prefix %q: 1-15 letters, digits, '-', '_' or '.'", c.Prefix)
	case c.TargetARN == "":
		return nil, errors.New("scheduler: the target (provisioner Lambda) ARN is required")
	case c.RoleARN == "":
		return nil, errors.New("scheduler: the scheduler role ARN is required")
	}
	if c.MaxEventAge == 0 {
		c.MaxEventAge = DefaultMaxEventAge
	}
	if c.MaxEventAge < time.Minute || c.MaxEventAge > 24*time.Hour {
		return nil, fmt.Errorf("scheduler: MaxEventAge %s is outside 1m..24h", c.MaxEventAge)
	}
	switch {
	case c.MaxRetries == 0:
		c.MaxRetries = DefaultMaxRetries
	case c.MaxRetries < 0:
		c.MaxRetries = 0
	case c.MaxRetries > 185:
		return nil, fmt.Errorf("scheduler: MaxRetries %d is above 185", c.MaxRetries)
	}
	if c.ReconcileRate == 0 {
		c.ReconcileRate = DefaultReconcileRate
	}
	if c.ReconcileRate < time.Minute || c.ReconcileRate%time.Minute != 0 {
		return nil, fmt.Errorf("scheduler: ReconcileRate %s must be whole minutes", c.ReconcileRate)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return &Scheduler{c: client, cfg: c,
		retry: &types.RetryPolicy{
			MaximumEventAgeInSeconds: aws.Int32(int32(c.MaxEventAge / time.Second)),
			MaximumRetryAttempts:     aws.Int32(int32(c.MaxRetries)),
		},
		window: &types.FlexibleTimeWindow{Mode: types.FlexibleTimeWindowModeOff},
	}, nil
}

// Client is the EventBridge Scheduler client in use.
func (s *Scheduler) Client() *scheduler.Client { return s.c }

// Group is the schedule group.
func (s *Scheduler) Group() string { return s.cfg.Group }

// DestroyName is the name of a destroy schedule: <Prefix>-destroy-<cluster>
// for a cluster; for a node group's key (cluster/user), which may be
// longer than EventBridge's 64 characters allow,
// <Prefix>-destroy-<cluster.user, cut to fit>_<12 hex of its SHA-256>:
// the "_", which no cluster name has, keeps it apart from every cluster's,
// and the hash apart from every other group's. A notice's key
// (cluster@notice-<minutes>m) is named as a group's, its readable part
// <cluster>.notice.<minutes>m. All start with <Prefix>-destroy-, the names
// the provisioner's role may manage.
func (s *Scheduler) DestroyName(key string) string {
	cluster, user, group := provisioner.ParseScheduleKey(key)
	base := s.cfg.Prefix + "-destroy-"
	readable := cluster + "." + user
	if c, lead, ok := provisioner.ParseNoticeKey(key); ok {
		readable = fmt.Sprintf("%s.notice.%dm", c, lead/time.Minute)
	} else if !group {
		return base + cluster
	}
	sum := sha256.Sum256([]byte(key))
	suffix := "_" + hex.EncodeToString(sum[:])[:12]
	if room := 64 - len(base) - len(suffix); len(readable) > room {
		readable = readable[:room]
	}
	return base + readable + suffix
}

// checkKey is provisioner.ValidateScheduleKey.
func checkKey(key string) error { return provisioner.ValidateScheduleKey(key) }

// ReconcileName is the name of the reconcile schedule.
func (s *Scheduler) ReconcileName() string { return s.cfg.Prefix + "-reconcile" }

// FireTime is when EventBridge Scheduler is asked to fire a destroy due at
// at. It invokes targets with one-minute precision (anywhere in hh:mm:00 to
// hh:mm:59), so the time is rounded up to a whole minute: a schedule must
// never fire before the cluster's destroy time, or the destroy would find
// the cluster not yet due and do nothing. A time in the past, or less than a
// minute ahead, becomes the next whole minute at least a minute from now.
func (s *Scheduler) FireTime(at time.Time) time.Time {
	earliest := s.cfg.Now().Add(time.Minute)
	if at.Before(earliest) {
		at = earliest
	}
	at = at.UTC()
	if t := at.Truncate(time.Minute); !t.Equal(at) {
		return t.Add(time.Minute)
	}
	return at
}

// AtExpression is the schedule expression for a one-time schedule at t (UTC).
func AtExpression(t time.Time) string { return "at(" + t.UTC().Format("2006-01-02T15:04:05") + ")" }

func (s *Scheduler) target(input string) *types.Target {
	t := &types.Target{
		Arn:         aws.String(s.cfg.TargetARN),
		RoleArn:     aws.String(s.cfg.RoleARN),
		Input:       aws.String(input),
		RetryPolicy: s.retry,
	}
	if s.cfg.DeadLetterARN != "" {
		t.DeadLetterConfig = &types.DeadLetterConfig{Arn: aws.String(s.cfg.DeadLetterARN)}
	}
	return t
}

// schedule is every field of a schedule. Create and update send all of
// them: UpdateSchedule replaces the whole schedule, and an omitted field is
// reset to its default rather than kept.
type schedule struct {
	name, description, expression string
	target                        *types.Target
	after                         types.ActionAfterCompletion
}

// SetDestroy creates or replaces the destroy schedule of key, a
// cluster's name or a node group's GroupKey; the schedule's input carries
// the key, so a group's schedule destroys the group alone.
func (s *Scheduler) SetDestroy(ctx context.Context, key string, at time.Time) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if at.IsZero() {
		return provisioner.Errorf(provisioner.EINVALID, "destroy schedule of %s: no time", key)
	}
	what := "cluster " + key
	if cluster, lead, ok := provisioner.ParseNoticeKey(key); ok {
		what = fmt.Sprintf("cluster %s: the notice %s before it", cluster, provisioner.FormatLead(lead))
	} else if cluster, user, group := provisioner.ParseScheduleKey(key); group {
		what = "the node group of " + user + " on cluster " + cluster
	}
	fire := s.FireTime(at)
	return s.put(ctx, schedule{
		name:        s.DestroyName(key),
		description: "Destroy SlideRule " + what + " at " + at.UTC().Format(time.RFC3339),
		expression:  AtExpression(fire),
		target:      s.target(DestroyInput(key, at)),
		after:       types.ActionAfterCompletionDelete,
	})
}

// RemoveDestroy deletes the destroy schedule of key; an absent one is fine.
func (s *Scheduler) RemoveDestroy(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	return s.delete(ctx, s.DestroyName(key))
}

// EnsureReconcile creates or updates the recurring reconcile schedule.
func (s *Scheduler) EnsureReconcile(ctx context.Context) error {
	// A sweep that could not be delivered within one period is superseded
	// by the next one: retry no longer than that.
	age := s.cfg.ReconcileRate
	if age > s.cfg.MaxEventAge {
		age = s.cfg.MaxEventAge
	}
	t := s.target(ReconcileInput())
	t.RetryPolicy = &types.RetryPolicy{
		MaximumEventAgeInSeconds: aws.Int32(int32(age / time.Second)),
		MaximumRetryAttempts:     s.retry.MaximumRetryAttempts,
	}
	return s.put(ctx, schedule{
		name:        s.ReconcileName(),
		description: "SlideRule provisioner reconcile sweep",
		expression:  RateExpression(s.cfg.ReconcileRate),
		target:      t,
		after:       types.ActionAfterCompletionNone,
	})
}

// RemoveReconcile deletes the reconcile schedule; an absent one is fine.
func (s *Scheduler) RemoveReconcile(ctx context.Context) error {
	return s.delete(ctx, s.ReconcileName())
}

// RateExpression is the schedule expression for every d (whole minutes).
func RateExpression(d time.Duration) string {
	m := int(d / time.Minute)
	if m == 1 {
		return "rate(1 minute)"
	}
	return fmt.Sprintf("rate(%d minutes)", m)
}

// EnsureGroup creates the schedule group unless it exists. It looks first:
// creating an existing group is a ConflictException on AWS, but the moto
// emulator replaces the group and with it every schedule it held.
func (s *Scheduler) EnsureGroup(ctx context.Context) error {
	_, err := s.c.GetScheduleGroup(ctx, &scheduler.GetScheduleGroupInput{Name: aws.String(s.cfg.Group)})
	if err == nil {
		return nil
	}
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		return fmt.Errorf("scheduler: get schedule group %s: %w", s.cfg.Group, err)
	}
	_, err = s.c.CreateScheduleGroup(ctx, &scheduler.CreateScheduleGroupInput{Name: aws.String(s.cfg.Group)})
	var conflict *types.ConflictException
	if err != nil && !errors.As(err, &conflict) {
		return fmt.Errorf("scheduler: create schedule group %s: %w", s.cfg.Group, err)
	}
	return nil
}

// put creates the schedule, or replaces it when it exists. A schedule that
// disappears between the two (it fired and deleted itself, or a remove
// raced) is created again.
func (s *Scheduler) put(ctx context.Context, sc schedule) error {
	in := scheduler.CreateScheduleInput{
		Name:                       aws.String(sc.name),
		GroupName:                  aws.String(s.cfg.Group),
		Description:                aws.String(sc.description),
		ScheduleExpression:         aws.String(sc.expression),
		ScheduleExpressionTimezone: aws.String("UTC"),
		FlexibleTimeWindow:         s.window,
		Target:                     sc.target,
		ActionAfterCompletion:      sc.after,
		State:                      types.ScheduleStateEnabled,
	}
	var err error
	for range 3 {
		// Each call gets a copy: the SDK fills in the copy's idempotency
		// token, which a later call must not reuse.
		create := in
		_, err = s.c.CreateSchedule(ctx, &create)
		var conflict *types.ConflictException
		if !errors.As(err, &conflict) {
			break
		}
		// A replace sends the same fields (the two inputs are one struct).
		update := scheduler.UpdateScheduleInput(in)
		_, err = s.c.UpdateSchedule(ctx, &update)
		var nf *types.ResourceNotFoundException
		if !errors.As(err, &nf) {
			break
		}
	}
	if err != nil {
		return provisioner.Wrap(provisioner.EUNAVAILABLE, fmt.Errorf("schedule %s/%s: %w", s.cfg.Group, sc.name, err),
			"cannot set the schedule %s", sc.name)
	}
	return nil
}

func (s *Scheduler) delete(ctx context.Context, name string) error {
	_, err := s.c.DeleteSchedule(ctx, &scheduler.DeleteScheduleInput{Name: aws.String(name), GroupName: aws.String(s.cfg.Group)})
	var nf *types.ResourceNotFoundException
	if err != nil && !errors.As(err, &nf) {
		return provisioner.Wrap(provisioner.EUNAVAILABLE, fmt.Errorf("delete schedule %s/%s: %w", s.cfg.Group, name, err),
			"cannot remove the schedule %s", name)
	}
	return nil
}
