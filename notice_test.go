package provisioner

import (
	"slices"
	"testing"
	"time"
)

func TestNoticeKeys(t *testing.T) {
	for _, lead := range []time.Duration{time.Minute, 10 * time.Minute, time.Hour, 7 * 24 * time.Hour} {
		key := NoticeKey("demo-1", lead)
		c, l, ok := ParseNoticeKey(key)
		if !ok || c != "demo-1" || l != lead || ValidateScheduleKey(key) != nil {
			t.Errorf("%s: %q %s %v %v", lead, c, l, ok, ValidateScheduleKey(key))
		}
		if _, _, group := ParseScheduleKey(key); group {
			t.Errorf("%q reads as a node group's key", key)
		}
	}
	for _, key := range []string{"demo", "demo/ada", "demo@notice-", "demo@notice-0m", "demo@notice-01m", "demo@notice-5", "demo@notice-x m",
		"demo@notice-999999m", "demo@notice--5m"} {
		if _, _, ok := ParseNoticeKey(key); ok {
			t.Errorf("ParseNoticeKey(%q) accepted", key)
		}
	}
	for _, key := range []string{"Demo@notice-5m", "demo/ada@notice-5m", "@notice-5m", "demo@notice-5m\n"} {
		if ValidateScheduleKey(key) == nil {
			t.Errorf("ValidateScheduleKey(%q) accepted", key)
		}
	}
}

func TestParseNoticeLeads(t *testing.T) {
	got, err := ParseNoticeLeads(" 10m, 1h ,1440m")
	if err != nil || !slices.Equal(got, []time.Duration{24 * time.Hour, time.Hour, 10 * time.Minute}) {
		t.Fatalf("%v %v", got, err)
	}
	for _, s := range []string{"", "none"} {
		if got, err := ParseNoticeLeads(s); err != nil || got != nil {
			t.Errorf("%q: %v %v", s, got, err)
		}
	}
	for _, s := range []string{"10", "10m,10m", "30s", "90s", "0m", "-5m", "169h", "1m,2m,3m,4m,5m,6m", "10m,,5m"} {
		if _, err := ParseNoticeLeads(s); ErrorCode(err) != EINVALID {
			t.Errorf("ParseNoticeLeads(%q) = %v", s, err)
		}
	}
}

func TestFormatLead(t *testing.T) {
	for d, want := range map[time.Duration]string{time.Minute: "1m", 10 * time.Minute: "10m", time.Hour: "1h", 90 * time.Minute: "1h30m",
		48 * time.Hour: "2d", 25 * time.Hour: "25h"} {
		if got := FormatLead(d); got != want {
			t.Errorf("FormatLead(%s) = %q, want %q", d, got, want)
		}
	}
}

func TestPermanentNoticeError(t *testing.T) {
	for code, want := range map[string]bool{EINVALID: true, EFORBIDDEN: true, EUNAUTHORIZED: true, ENOTFOUND: true,
		EUNAVAILABLE: false, EINTERNAL: false} {
		if got := PermanentNoticeError(Errorf(code, "x")); got != want {
			t.Errorf("%s: %v", code, got)
		}
	}
}
