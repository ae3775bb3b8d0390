package scheduler_test

import (
	"testing"

	"provisioner/aws/awstest"
	"provisioner/aws/scheduler"
	"provisioner/conformance"
)

func TestConformance(t *testing.T) {
	conformance.Scheduler(t, func(t *testing.T) conformance.ReadableScheduler {
		cfg := awstest.Config(t)
		s, err := scheduler.New(cfg, scheduler.Config{Group: awstest.Name("conf"), Prefix: "sliderule",
			TargetARN: targetARN, RoleARN: roleARN, DeadLetterARN: dlqARN})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.EnsureGroup(t.Context()); err != nil {
			t.Fatal(err)
		}
		return s
	})
}
