package http_test

import (
	"testing"
	"time"

	"provisioner"
)

// TestLifecycleAPI walks DEPLOY, STATUS, EXTEND, SCHEDULE_DESTROY, EVENTS
// and DESTROY through the HTTP API, every answer checked against the spec.
func TestLifecycleAPI(t *testing.T) {
	e := newEnv(t)
	tok := e.login("tok-org")
	guest := e.login("tok-member")

	// The Python client's DEPLOY: ttl in minutes, no Content-Type.
	r := e.do("POST", "/deploy", tok, `{"cluster":"c1","is_public":false,"node_capacity":2,"ttl":30,"version":"v4.5.1"}`, "Content-Type", "")
	var opID string
	switch r.status {
	case 202:
		op := r.body["operation"].(map[string]any)
		opID = op["id"].(string)
		w := e.do("GET", "/operations/"+opID+"?wait=5s", tok, nil)
		if w.status != 200 || w.str("status") != "success" {
			t.Fatalf("operation: %d %s", w.status, w.raw)
		}
	case 200:
	default:
		t.Fatalf("deploy: %d %s", r.status, r.raw)
	}
	r = e.do("POST", "/deploy", tok, map[string]any{"cluster": "c1", "node_capacity": 2})
	if r.status != 200 || r.str("state") != "running" {
		t.Fatalf("deploy of a running cluster: %d %s", r.status, r.raw)
	}
	r = e.do("POST", "/status", tok, map[string]string{"cluster": "c1"})
	if r.status != 200 || r.str("state") != "running" || r.str("endpoint") == "" || r.str("created_by") != "otto" ||
		r.str("expires_at") == "" || r.str("destroy_at") == "" || r.body["node_capacity"] != "2" || r.body["current_nodes"] != 2.0 || r.str("auto_shutdown") == "" || r.str("version") != "v4.5.1" {
		t.Fatalf("status: %d %s", r.status, r.raw)
	}
	// A private cluster looks absent to a member outside the organization.
	if r = e.do("POST", "/status", guest, map[string]string{"cluster": "c1"}); r.status != 200 || r.str("state") != "absent" || r.str("created_by") != "" {
		t.Fatalf("private cluster to a member: %d %s", r.status, r.raw)
	}
	if r = e.do("POST", "/status", tok, map[string]string{"cluster": "nothing"}); r.status != 200 || r.str("state") != "absent" {
		t.Fatalf("absent: %d %s", r.status, r.raw)
	}

	r = e.do("POST", "/extend", tok, map[string]any{"cluster": "c1", "ttl": 120})
	if r.status != 200 {
		t.Fatalf("extend: %d %s", r.status, r.raw)
	}
	at := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	r = e.do("POST", "/schedule_destroy", tok, map[string]string{"cluster": "c1", "time": at})
	if r.status != 200 || r.str("destroy_at") != at {
		t.Fatalf("schedule_destroy: %d %s", r.status, r.raw)
	}
	wantError(t, e.do("POST", "/schedule_destroy", tok, map[string]string{"cluster": "c1", "time": "tomorrow"}), 400, provisioner.EINVALID)
	wantError(t, e.do("POST", "/schedule_destroy", tok, map[string]string{"cluster": "c1", "time": "2001-01-01T00:00:00Z"}), 400, provisioner.EINVALID)
	wantError(t, e.do("POST", "/extend", tok, map[string]any{"cluster": "c1", "ttl": 0}), 400, provisioner.EINVALID)
	wantError(t, e.do("POST", "/deploy", tok, map[string]any{"cluster": "c2", "node_capacity": 1, "version": "--upload-pack=x"}), 400, provisioner.EINVALID)
	wantError(t, e.do("POST", "/deploy", tok, map[string]any{"cluster": "c2", "node_capacity": 1, "ttl": -5}), 400, provisioner.EINVALID)
	wantError(t, e.do("POST", "/deploy", tok, map[string]any{"cluster": "c2", "node_capacity": 50}), 403, provisioner.ELIMIT)
	wantError(t, e.do("POST", "/deploy", tok, map[string]any{"cluster": "pub", "node_capacity": 1, "is_public": true}), 403, provisioner.EFORBIDDEN)
	wantError(t, e.do("POST", "/deploy", "", map[string]any{"cluster": "c2", "node_capacity": 1}), 401, provisioner.EUNAUTHORIZED)
	wantError(t, e.do("GET", "/operations/nope", tok, nil), 404, provisioner.ENOTFOUND)
	if opID != "" {
		wantError(t, e.do("GET", "/operations/"+opID+"?wait=forever", tok, nil), 400, provisioner.EINVALID)
		wantError(t, e.do("GET", "/operations/"+opID+"?wait=10m", tok, nil), 400, provisioner.EINVALID)
	}

	r = e.do("POST", "/destroy", tok, map[string]string{"cluster": "c1"})
	if r.status == 202 {
		id := r.body["operation"].(map[string]any)["id"].(string)
		r = e.do("GET", "/operations/"+id+"?wait=5s", tok, nil)
	}
	if r.status != 200 {
		t.Fatalf("destroy: %d %s", r.status, r.raw)
	}
	if r = e.do("POST", "/status", tok, map[string]string{"cluster": "c1"}); r.str("state") != "absent" {
		t.Fatalf("after destroy: %s", r.raw)
	}
	r = e.do("POST", "/events", tok, map[string]string{"cluster": "c1"})
	if evs, _ := r.body["events"].([]any); r.status != 200 || len(evs) < 5 {
		t.Fatalf("events: %d %s", r.status, r.raw)
	}
	if r = e.do("POST", "/destroy", tok, map[string]string{"cluster": "c1"}); r.status != 200 || r.str("state") != "absent" {
		t.Fatalf("destroy of an absent cluster: %d %s", r.status, r.raw)
	}
}
