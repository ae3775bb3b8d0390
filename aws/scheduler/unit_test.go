package scheduler_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"provisioner/aws/scheduler"
)

func offline(t *testing.T, c scheduler.Config) (*scheduler.Scheduler, error) {
	t.Helper()
	return scheduler.New(aws.Config{Region: "us-west-2"}, c)
}

func validConfig() scheduler.Config {
	return scheduler.Config{Group: "g", Prefix: "sliderule", TargetARN: targetARN, RoleARN: roleARN}
}

func TestFireTime(t *testing.T) {
	now := time.Date(2030, 5, 1, 12, 0, 30, 0, time.UTC)
	c := validConfig()
	c.Now = func() time.Time { return now }
	s, err := offline(t, c)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ at, want time.Time }{
		// On the minute: as is.
		{time.Date(2030, 5, 1, 14, 0, 0, 0, time.UTC), time.Date(2030, 5, 1, 14, 0, 0, 0, time.UTC)},
		// Within a minute: rounded up, never early.
		{time.Date(2030, 5, 1, 14, 0, 0, 1, time.UTC), time.Date(2030, 5, 1, 14, 1, 0, 0, time.UTC)},
		{time.Date(2030, 5, 1, 14, 0, 59, 0, time.UTC), time.Date(2030, 5, 1, 14, 1, 0, 0, time.UTC)},
		// Other zones become UTC.
		{time.Date(2030, 5, 1, 7, 0, 10, 0, time.FixedZone("PDT", -7*3600)), time.Date(2030, 5, 1, 14, 1, 0, 0, time.UTC)},
		// Past or too soon: the next whole minute at least a minute ahead.
		{now.Add(-48 * time.Hour), time.Date(2030, 5, 1, 12, 2, 0, 0, time.UTC)},
		{now.Add(10 * time.Second), time.Date(2030, 5, 1, 12, 2, 0, 0, time.UTC)},
	} {
		got := s.FireTime(tc.at)
		if !got.Equal(tc.want) || got.Location() != time.UTC {
			t.Errorf("FireTime(%s) = %s, want %s", tc.at, got, tc.want)
		}
		if got.Before(tc.at) {
			t.Errorf("FireTime(%s) = %s fires early", tc.at, got)
		}
	}
	if got := scheduler.AtExpression(time.Date(2030, 5, 1, 14, 1, 0, 0, time.UTC)); got != "at(2030-05-01T14:01:00)" {
		t.Errorf("AtExpression = %q", got)
	}
}

func TestExpressionsAndInputs(t *testing.T) {
	if got := scheduler.RateExpression(5 * time.Minute); got != "rate(5 minutes)" {
		t.Errorf("RateExpression(5m) = %q", got)
	}
	if got := scheduler.RateExpression(time.Minute); got != "rate(1 minute)" {
		t.Errorf("RateExpression(1m) = %q", got)
	}
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.FixedZone("X", 3600))
	if got := scheduler.DestroyInput("abc", at); got != `{"action":"destroy","cluster":"abc","at":"2030-01-02T02:04:05Z"}` {
		t.Errorf("DestroyInput = %s", got)
	}
	var ev scheduler.Event
	if err := json.Unmarshal([]byte(scheduler.ReconcileInput()), &ev); err != nil || ev != (scheduler.Event{Action: "reconcile"}) {
		t.Errorf("ReconcileInput = %s (%v)", scheduler.ReconcileInput(), err)
	}
	s, err := offline(t, validConfig())
	if err != nil {
		t.Fatal(err)
	}
	longest := strings.Repeat("a", 40)
	if n := s.DestroyName(longest); len(n) > 64 {
		t.Errorf("DestroyName of a 40-character cluster is %d characters", len(n))
	}
	if s.ReconcileName() != "sliderule-reconcile" {
		t.Errorf("ReconcileName = %q", s.ReconcileName())
	}
}

func TestNewValidates(t *testing.T) {
	for name, mut := range map[string]func(*scheduler.Config){
		"no group":        func(c *scheduler.Config) { c.Group = "" },
		"bad group":       func(c *scheduler.Config) { c.Group = "a/b" },
		"no prefix":       func(c *scheduler.Config) { c.Prefix = "" },
		"long prefix":     func(c *scheduler.Config) { c.Prefix = strings.Repeat("p", 16) },
		"no target":       func(c *scheduler.Config) { c.TargetARN = "" },
		"no role":         func(c *scheduler.Config) { c.RoleARN = "" },
		"short event age": func(c *scheduler.Config) { c.MaxEventAge = 30 * time.Second },
		"long event age":  func(c *scheduler.Config) { c.MaxEventAge = 25 * time.Hour },
		"many retries":    func(c *scheduler.Config) { c.MaxRetries = 186 },
		"odd rate":        func(c *scheduler.Config) { c.ReconcileRate = 90 * time.Second },
	} {
		c := validConfig()
		mut(&c)
		if _, err := offline(t, c); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
	if _, err := offline(t, validConfig()); err != nil {
		t.Errorf("valid config: %v", err)
	}
}
