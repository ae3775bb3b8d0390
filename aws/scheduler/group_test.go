package scheduler_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"provisioner"
	"provisioner/aws/scheduler"
)

// TestGroupScheduleNames: a node group's schedule name fits EventBridge's
// 64 characters with the longest prefix, cluster and user, starts with
// <prefix>-destroy-, is never a cluster's, and differs per group.
func TestGroupScheduleNames(t *testing.T) {
	c := validConfig()
	c.Prefix = strings.Repeat("p", 15)
	s, err := offline(t, c)
	if err != nil {
		t.Fatal(err)
	}
	nameRE := regexp.MustCompile(`^[0-9a-zA-Z_.-]{1,64}$`)
	seen := map[string]string{}
	long := strings.Repeat("c", 40)
	for _, key := range []string{
		provisioner.GroupKey("demo", "alice"), provisioner.GroupKey("demo", "Alice"),
		provisioner.GroupKey("a-b", "c"), provisioner.GroupKey("a", "b-c"),
		provisioner.GroupKey(long, strings.Repeat("u", 39)), provisioner.GroupKey(long, strings.Repeat("u", 38)+"v"),
		"demo", long,
		provisioner.NoticeKey("demo", time.Hour), provisioner.NoticeKey("demo", 10*time.Minute),
		provisioner.NoticeKey(long, 7*24*time.Hour), provisioner.GroupKey("demo", "notice-60m"),
	} {
		n := s.DestroyName(key)
		if !nameRE.MatchString(n) || !strings.HasPrefix(n, c.Prefix+"-destroy-") {
			t.Errorf("DestroyName(%q) = %q (%d characters)", key, n, len(n))
		}
		_, _, group := provisioner.ParseScheduleKey(key)
		_, _, notice := provisioner.ParseNoticeKey(key)
		if (group || notice) != strings.Contains(n, "_") {
			t.Errorf("DestroyName(%q) = %q: a group's name has a '_', a cluster's none", key, n)
		}
		if other, dup := seen[n]; dup {
			t.Errorf("%q and %q share the schedule name %q", other, key, n)
		}
		seen[n] = key
	}
	if got := s.DestroyName("demo/alice"); !strings.HasPrefix(got, c.Prefix+"-destroy-demo.alice_") {
		t.Errorf("DestroyName(demo/alice) = %q", got)
	}
	if got := s.DestroyName("demo@notice-60m"); !strings.HasPrefix(got, c.Prefix+"-destroy-demo.notice.60m_") {
		t.Errorf("DestroyName(demo@notice-60m) = %q", got)
	}
}

// TestGroupSchedule: a group's destroy schedule on the emulator, its
// input carrying the group's key; refused keys; removal.
func TestGroupSchedule(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	key := provisioner.GroupKey("demo", "alice")
	at := f.now.Add(90 * time.Minute)
	if err := f.s.SetDestroy(bg, key, at); err != nil {
		t.Fatal(err)
	}
	out := f.get(t, f.s.DestroyName(key))
	var ev scheduler.Event
	if err := json.Unmarshal([]byte(aws.ToString(out.Target.Input)), &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Action != scheduler.ActionDestroy || ev.Cluster != key || ev.At != at.UTC().Format(time.RFC3339) {
		t.Errorf("input %+v", ev)
	}
	if aws.ToString(out.ScheduleExpression) != scheduler.AtExpression(f.s.FireTime(at)) {
		t.Errorf("expression %q", aws.ToString(out.ScheduleExpression))
	}
	if !strings.Contains(aws.ToString(out.Description), "node group of alice on cluster demo") {
		t.Errorf("description %q", aws.ToString(out.Description))
	}
	// The cluster's own schedule is another.
	if err := f.s.SetDestroy(bg, "demo", at.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := f.s.RemoveDestroy(bg, key); err != nil {
		t.Fatal(err)
	}
	f.absent(t, f.s.DestroyName(key))
	f.get(t, f.s.DestroyName("demo"))
	if err := f.s.RemoveDestroy(bg, key); err != nil {
		t.Fatalf("removing an absent group schedule: %v", err)
	}
	for _, bad := range []string{"demo/", "demo/a b", "demo/-x", "Demo/alice", "/alice", "demo/alice/x", "demo/a_b"} {
		if err := f.s.SetDestroy(bg, bad, at); provisioner.ErrorCode(err) != provisioner.EINVALID {
			t.Errorf("SetDestroy(%q): %v", bad, err)
		}
		if err := f.s.RemoveDestroy(bg, bad); provisioner.ErrorCode(err) != provisioner.EINVALID {
			t.Errorf("RemoveDestroy(%q): %v", bad, err)
		}
	}
}
