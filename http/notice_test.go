package http_test

import (
	"context"
	"testing"
	"time"

	"provisioner"
	"provisioner/app"
	phttp "provisioner/http"
)

type nopSink struct{}

func (nopSink) Name() string                                   { return "nop" }
func (nopSink) Send(context.Context, provisioner.Notice) error { return nil }

// TestNextNoticeInStatus: with notice sinks, STATUS, the cluster list and
// EXTEND's answer carry next_notice (checked against the spec), beside an
// auto_shutdown that stays the destroy time; without sinks there is none.
func TestNextNoticeInStatus(t *testing.T) {
	e := newEnv(t, func(a *app.Config, _ *phttp.Config) {
		a.Notices = app.NoticeConfig{Sinks: []provisioner.NoticeSink{nopSink{}}, Leads: []time.Duration{time.Hour, 10 * time.Minute}}
	})
	tok := e.login("tok-org")
	r := e.do("POST", "/deploy", tok, map[string]any{"cluster": "c1", "node_capacity": 1, "ttl": 120})
	if r.status == 202 {
		r = e.do("GET", "/operations/"+r.body["operation"].(map[string]any)["id"].(string)+"?wait=5s", tok, nil)
	}
	if r.status != 200 {
		t.Fatalf("deploy: %d %s", r.status, r.raw)
	}
	check := func(r resp, lead time.Duration) {
		t.Helper()
		destroy, err1 := time.Parse(time.RFC3339, r.str("destroy_at"))
		next, err2 := time.Parse(time.RFC3339, r.str("next_notice"))
		auto, err3 := time.Parse(time.RFC3339, r.str("auto_shutdown"))
		if err1 != nil || err2 != nil || err3 != nil || !next.Equal(destroy.Add(-lead)) || !auto.Equal(destroy.Truncate(time.Second)) {
			t.Fatalf("next_notice %q, destroy_at %q, auto_shutdown %q", r.str("next_notice"), r.str("destroy_at"), r.str("auto_shutdown"))
		}
	}
	check(e.do("POST", "/status", tok, map[string]string{"cluster": "c1"}), time.Hour)
	list := e.do("GET", "/clusters", tok, nil)
	cls, _ := list.body["clusters"].([]any)
	if len(cls) != 1 || cls[0].(map[string]any)["next_notice"] == nil {
		t.Fatalf("list: %s", list.raw)
	}
	// 30 minutes from now: the 60m notice is past, the 10m one next.
	r = e.do("POST", "/extend", tok, map[string]any{"cluster": "c1", "ttl": 30})
	if r.status != 200 {
		t.Fatalf("extend: %d %s", r.status, r.raw)
	}
	check(r, 10*time.Minute)

	plain := newEnv(t)
	tok = plain.login("tok-org")
	if r = plain.do("POST", "/deploy", tok, map[string]any{"cluster": "c1", "node_capacity": 1, "ttl": 120}); r.status == 202 {
		plain.do("GET", "/operations/"+r.body["operation"].(map[string]any)["id"].(string)+"?wait=5s", tok, nil)
	}
	if r = plain.do("POST", "/status", tok, map[string]string{"cluster": "c1"}); r.status != 200 || r.body["next_notice"] != nil {
		t.Fatalf("without sinks: %s", r.raw)
	}
}
