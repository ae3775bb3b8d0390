package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/scheduler/types"

	"provisioner"
)

// Get returns key's destroy schedule as the embedded scheduler reports
// one: At is the destroy time asked for (from the schedule's input),
// NextAttempt when EventBridge will fire (FireTime). ENOTFOUND when there
// is none.
func (s *Scheduler) Get(ctx context.Context, key string) (provisioner.Schedule, error) {
	if err := checkKey(key); err != nil {
		return provisioner.Schedule{}, err
	}
	name := s.DestroyName(key)
	out, err := s.c.GetSchedule(ctx, &scheduler.GetScheduleInput{Name: aws.String(name), GroupName: aws.String(s.cfg.Group)})
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) {
		return provisioner.Schedule{}, provisioner.Errorf(provisioner.ENOTFOUND, "%q has no destroy schedule", key)
	}
	if err != nil {
		return provisioner.Schedule{}, provisioner.Wrap(provisioner.EUNAVAILABLE, fmt.Errorf("get schedule %s/%s: %w", s.cfg.Group, name, err),
			"cannot read the schedule %s", name)
	}
	sc := provisioner.Schedule{Cluster: key}
	if out.Target != nil {
		var ev Event
		if json.Unmarshal([]byte(aws.ToString(out.Target.Input)), &ev) == nil && ev.Cluster == key {
			sc.At, _ = time.Parse(time.RFC3339, ev.At)
		}
	}
	expr := strings.TrimSuffix(strings.TrimPrefix(aws.ToString(out.ScheduleExpression), "at("), ")")
	if t, err := time.Parse("2006-01-02T15:04:05", expr); err == nil {
		sc.NextAttempt = t.UTC()
	}
	if sc.At.IsZero() || sc.NextAttempt.IsZero() {
		return sc, provisioner.Errorf(provisioner.EINTERNAL, "schedule %s is not a destroy schedule of %q", name, key)
	}
	return sc, nil
}
