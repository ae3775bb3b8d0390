package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	schedsdk "github.com/aws/aws-sdk-go-v2/service/scheduler"

	"provisioner"
	"provisioner/aws/scheduler"
	"provisioner/notify/webhook"
)

// TestAWSNotices: on the AWS backend, through the Lambda handler on the
// emulator, a deploy sets one EventBridge schedule per notice lead beside
// its destroy; the schedule's own input, invoked as EventBridge would,
// sends the signed notice once, whichever and however many instances get
// it; STATUS shows the next notice; a destroy removes the schedules.
func TestAWSNotices(t *testing.T) {
	const secret = "aws-notice-secret-0123456789"
	var mu sync.Mutex
	var got []provisioner.Notice
	var bad []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if err := webhook.Verify([]byte(secret), r.Header, body, time.Now(), 0); err != nil {
			bad = append(bad, err.Error())
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var n provisioner.Notice
		_ = json.Unmarshal(body, &n)
		got = append(got, n)
	}))
	defer hook.Close()
	notices := func() []provisioner.Notice {
		mu.Lock()
		defer mu.Unlock()
		if len(bad) > 0 {
			t.Fatalf("deliveries that do not verify: %v", bad)
		}
		return append([]provisioner.Notice(nil), got...)
	}
	b := newAWSBackendWith(t, map[string]string{"PROVISIONER_NOTICE_WEBHOOK_URL": hook.URL,
		"PROVISIONER_NOTICE_WEBHOOK_SECRET": secret, "PROVISIONER_DASHBOARD_URL": "https://provisioner.example.org"})
	status, body := b.api("POST", "/auth/github/pat", `{"pat":"tok-admin"}`)
	if status != 200 {
		t.Fatalf("login: %d %v", status, body)
	}
	b.token = body["token"].(string)
	b.calls.Reset()
	status, body = b.api("POST", "/deploy", `{"cluster":"ntc1","node_capacity":1,"ttl":120}`)
	b.wait(status, body)
	// Notices cost a DEPLOY EventBridge calls, no DynamoDB write.
	if calls := b.calls.Calls(); dynamoDBWrites(calls) > maxDynamoDBWrites {
		t.Errorf("DEPLOY with notices made %d DynamoDB write calls: %v", dynamoDBWrites(calls), calls)
	} else {
		t.Logf("AWS calls per DEPLOY with notices: %v", calls)
	}

	status, st := b.api("POST", "/status", `{"cluster":"ntc1"}`)
	destroyAt, _ := time.Parse(time.RFC3339, st["destroy_at"].(string))
	next, err := time.Parse(time.RFC3339, st["next_notice"].(string))
	if status != 200 || err != nil || !next.Equal(destroyAt.Add(-time.Hour)) || st["auto_shutdown"] == nil {
		t.Fatalf("status: next_notice %v, destroy_at %v: %v", st["next_notice"], destroyAt, st)
	}

	names, err := scheduler.NewFromClient(schedsdk.NewFromConfig(b.cfg), scheduler.Config{Group: b.group, Prefix: b.prefix,
		TargetARN: "arn:aws:lambda:us-west-2:123456789012:function:x", RoleARN: "arn:aws:iam::123456789012:role/x"})
	if err != nil {
		t.Fatal(err)
	}
	input := func(key string) (string, bool) {
		out, err := schedsdk.NewFromConfig(b.cfg).GetSchedule(context.Background(), &schedsdk.GetScheduleInput{
			Name: aws.String(names.DestroyName(key)), GroupName: aws.String(b.group)})
		if err != nil {
			return "", false
		}
		return aws.ToString(out.Target.Input), true
	}
	hourKey, tenKey := provisioner.NoticeKey("ntc1", time.Hour), provisioner.NoticeKey("ntc1", 10*time.Minute)
	in, ok := input(hourKey)
	if _, ok10 := input(tenKey); !ok || !ok10 {
		t.Fatalf("notice schedules: 60m %v, 10m %v", ok, ok10)
	}

	// An hour on, EventBridge invokes the 60m schedule: on this instance,
	// again (a retry), on a second one, and the sweep on a third.
	b.clock.Add(time.Hour)
	b.scheduled(in)
	b.scheduled(in)
	for range 2 {
		other, err := b.handler()
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range []string{in, scheduler.ReconcileInput()} {
			if _, err := other.Invoke(context.Background(), []byte(ev)); err != nil {
				t.Fatal(err)
			}
		}
	}
	ns := notices()
	if len(ns) != 1 || ns[0].Cluster != "ntc1" || ns[0].LeadMinutes != 60 || ns[0].Owner != "ada" ||
		ns[0].URL != "https://provisioner.example.org/#/clusters/ntc1" || ns[0].ExtendCommand == "" {
		t.Fatalf("notices: %+v", ns)
	}
	status, st = b.api("POST", "/status", `{"cluster":"ntc1"}`)
	if next, _ := time.Parse(time.RFC3339, st["next_notice"].(string)); status != 200 || !next.Equal(destroyAt.Add(-10*time.Minute)) {
		t.Fatalf("next_notice after the first: %v", st["next_notice"])
	}
	_, evs := b.api("POST", "/events", `{"cluster":"ntc1"}`)
	sent := 0
	for _, e := range evs["events"].([]any) {
		if e.(map[string]any)["type"] == "notice.sent" {
			sent++
		}
	}
	if sent != 1 {
		t.Errorf("%d notice.sent events", sent)
	}

	// The 10m notice, fired twice at once on each of three instances: one
	// delivery.
	in10, _ := input(tenKey)
	b.clock.Add(50 * time.Minute)
	var wg sync.WaitGroup
	for range 3 {
		h, err := b.handler()
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			wg.Go(func() {
				if _, err := h.Invoke(context.Background(), []byte(in10)); err != nil {
					t.Error(err)
				}
			})
		}
	}
	wg.Wait()
	if ns := notices(); len(ns) != 2 || ns[1].LeadMinutes != 10 {
		t.Fatalf("after the 10m fires: %+v", ns)
	}

	status, body = b.api("POST", "/destroy", `{"cluster":"ntc1"}`)
	b.wait(status, body)
	if _, ok := input(tenKey); ok {
		t.Error("the 10m notice schedule outlived the destroy")
	}
	if len(notices()) != 2 {
		t.Error("a destroy sent a notice")
	}
}
