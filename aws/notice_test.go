package aws_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"provisioner/aws"
)

// TestNoticeEnv: the notice variables, their defaults, and what Open
// builds of them (SES for email).
func TestNoticeEnv(t *testing.T) {
	env := required()
	c, err := aws.FromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Notify.Leads, []time.Duration{time.Hour, 10 * time.Minute}) {
		t.Errorf("default leads %v", c.Notify.Leads)
	}
	env["PROVISIONER_NOTICE_LEADS"] = "none"
	if c, err = aws.FromEnv(func(k string) string { return env[k] }); err != nil || c.Notify.Leads != nil {
		t.Errorf("none: %v %v", c.Notify.Leads, err)
	}
	for k, v := range map[string]string{
		"PROVISIONER_NOTICE_LEADS":          "120m, 15m",
		"PROVISIONER_NOTICE_WEBHOOK_URL":    "https://hooks.example.org/provisioner",
		"PROVISIONER_NOTICE_WEBHOOK_SECRET": "0123456789abcdef",
		"PROVISIONER_NOTICE_SLACK_URL":      "https://hooks.slack.example/services/T/B/X",
		"PROVISIONER_NOTICE_EMAIL_FROM":     "provisioner@example.org",
		"PROVISIONER_NOTICE_EMAIL_TO":       "ops@example.org, oncall@example.org",
		"PROVISIONER_DASHBOARD_URL":         "https://provisioner.example.org",
	} {
		env[k] = v
	}
	if c, err = aws.FromEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Notify.Leads, []time.Duration{2 * time.Hour, 15 * time.Minute}) || len(c.Notify.EmailTo) != 2 {
		t.Errorf("%+v", c.Notify)
	}
	env["PROVISIONER_NOTICE_LEADS"] = "15s"
	if _, err := aws.FromEnv(func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "PROVISIONER_NOTICE_LEADS") {
		t.Errorf("bad leads: %v", err)
	}
}
