package provisioner

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// NoticeKind says what a notice is about.
type NoticeKind string

// The notice kinds. NoticeBudget is raised by whoever watches spending
// (App.Notify), not by the provisioner itself.
const (
	NoticeDestroySoon   NoticeKind = "destroy.upcoming" // a scheduled destroy comes within a lead time
	NoticeDeployFailed  NoticeKind = "deploy.failed"    // a DEPLOY ended failed
	NoticeDestroyFailed NoticeKind = "destroy.failed"   // a DESTROY did not remove the cluster
	NoticeTestFailed    NoticeKind = "test.failed"      // a TEST ended failed, in error or timed out
	NoticeBudget        NoticeKind = "budget.threshold" // spending crossed a budget threshold
)

// Notice is a message to people about a cluster (or a job, or a budget):
// what will happen or went wrong, and what they can do. Every sink gets
// the same Notice; each renders it its own way (JSON, a chat line, an
// email).
type Notice struct {
	// ID is stable: the same notice has the same ID on every attempt, in
	// every process, so it is delivered once and receivers can drop a
	// repeat.
	ID   string     `json:"id"`
	Kind NoticeKind `json:"kind"`
	// Time is when the notice was raised.
	Time    time.Time `json:"time"`
	Cluster string    `json:"cluster,omitempty"`
	// Owner is the login the notice concerns: the cluster's owner, or who
	// asked for the job.
	Owner string `json:"owner,omitempty"`
	// DestroyAt is when the cluster is destroyed (NoticeDestroySoon), as
	// STATUS's destroy_at.
	DestroyAt time.Time `json:"destroy_at,omitzero"`
	// Lead is how long before DestroyAt the notice was due, in minutes.
	LeadMinutes int `json:"lead_minutes,omitempty"`
	// Operation, Job and Reason say which DEPLOY, DESTROY or TEST failed,
	// and why.
	Operation string `json:"operation,omitempty"`
	Job       string `json:"job,omitempty"`
	Reason    string `json:"reason,omitempty"`
	// Subject is one line; Text says it all in plain text, with how to
	// act on it (ExtendCommand, URL).
	Subject string `json:"subject"`
	Text    string `json:"text"`
	// ExtendCommand is the CLI command that keeps the cluster longer.
	ExtendCommand string `json:"extend_command,omitempty"`
	// URL is the cluster's page on the dashboard, when one is configured.
	URL string `json:"url,omitempty"`
	// To lists addresses beyond the sink's own that an email sink also
	// sends to (the cluster owner's, when known); other sinks ignore it.
	To []string `json:"-"`
}

// NoticeSink delivers notices somewhere: a webhook, a chat, email. Send
// makes one attempt and honours ctx's deadline; the caller retries. An
// error whose code is EINVALID, EFORBIDDEN, EUNAUTHORIZED or ENOTFOUND is
// permanent (the receiver refused the notice itself) and not retried.
type NoticeSink interface {
	// Name names the sink in events and logs ("webhook", "slack", "smtp",
	// "ses").
	Name() string
	Send(ctx context.Context, n Notice) error
}

// PermanentNoticeError reports whether a sink's error is not worth a retry.
func PermanentNoticeError(err error) bool {
	switch ErrorCode(err) {
	case EINVALID, EFORBIDDEN, EUNAUTHORIZED, ENOTFOUND:
		return true
	}
	return false
}

// Contacts finds the email address of a login, for notices to a cluster's
// owner. ENOTFOUND when the address is not known (a GitHub user may
// publish none).
type Contacts interface {
	Email(ctx context.Context, login string) (string, error)
}

// noticeKeyPart separates a cluster's name from the lead in a notice's
// schedule key: neither a cluster's name nor a login has an '@'.
const noticeKeyPart = "@notice-"

// NoticeKey is the schedule key of the notice lead before the destroy of
// cluster: "<cluster>@notice-<minutes>m". The Scheduler keeps it beside the
// cluster's destroy schedule and fires it as it fires destroys; App.FireDestroy
// sends the notice instead of destroying anything. lead is whole minutes.
func NoticeKey(cluster string, lead time.Duration) string {
	return cluster + noticeKeyPart + strconv.FormatInt(int64(lead/time.Minute), 10) + "m"
}

// ParseNoticeKey splits a notice's schedule key; ok is false for any other
// key.
func ParseNoticeKey(key string) (cluster string, lead time.Duration, ok bool) {
	cluster, rest, ok := strings.Cut(key, noticeKeyPart)
	if !ok {
		return "", 0, false
	}
	digits, ok := strings.CutSuffix(rest, "m")
	if !ok || digits == "" || len(digits) > 5 || digits[0] == '0' {
		return "", 0, false
	}
	n, err := strconv.Atoi(digits)
	if err != nil || n < 1 {
		return "", 0, false
	}
	return cluster, time.Duration(n) * time.Minute, true
}

// MaxNoticeLeads bounds how many notices go out before one destroy.
const MaxNoticeLeads = 5

// ParseNoticeLeads reads lead times such as "60m,10m": whole minutes
// from 1m to 7 days, at most MaxNoticeLeads, no repeats; returned longest
// first. "" or "none" is no notices before a destroy.
func ParseNoticeLeads(s string) ([]time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "none" {
		return nil, nil
	}
	var out []time.Duration
	for part := range strings.SplitSeq(s, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(part))
		if err != nil {
			return nil, Errorf(EINVALID, "notice lead %q is not a duration such as 60m", strings.TrimSpace(part))
		}
		out = append(out, d)
	}
	return out, CheckNoticeLeads(out)
}

// CheckNoticeLeads checks lead times as ParseNoticeLeads does and sorts
// them longest first.
func CheckNoticeLeads(leads []time.Duration) error {
	if len(leads) > MaxNoticeLeads {
		return Errorf(EINVALID, "at most %d notice lead times, not %d", MaxNoticeLeads, len(leads))
	}
	seen := map[time.Duration]bool{}
	for _, d := range leads {
		switch {
		case d < time.Minute || d > 7*24*time.Hour:
			return Errorf(EINVALID, "notice lead %s is outside 1m..168h", d)
		case d%time.Minute != 0:
			return Errorf(EINVALID, "notice lead %s is not whole minutes", d)
		case seen[d]:
			return Errorf(EINVALID, "notice lead %s is given twice", d)
		}
		seen[d] = true
	}
	for i := 1; i < len(leads); i++ { // a handful: insertion sort, longest first
		for j := i; j > 0 && leads[j] > leads[j-1]; j-- {
			leads[j], leads[j-1] = leads[j-1], leads[j]
		}
	}
	return nil
}

// FormatLead writes a lead time the way people say it: 10m, 1h, 1h30m, 2d.
func FormatLead(d time.Duration) string {
	m := int64(d / time.Minute)
	switch {
	case m%(24*60) == 0:
		return fmt.Sprintf("%dd", m/(24*60))
	case m%60 == 0:
		return fmt.Sprintf("%dh", m/60)
	case m > 60:
		return fmt.Sprintf("%dh%dm", m/60, m%60)
	}
	return fmt.Sprintf("%dm", m)
}
