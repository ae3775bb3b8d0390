package http_test

import (
	"testing"

	"provisioner"
)

// settle waits on a 202's operation and returns the final answer.
func (e *env) settle(r resp, tok string) resp {
	e.t.Helper()
	if r.status != 202 {
		return r
	}
	id := r.body["operation"].(map[string]any)["id"].(string)
	w := e.do("GET", "/operations/"+id+"?wait=5s", tok, nil)
	if w.status != 200 || w.str("status") != "success" {
		e.t.Fatalf("operation: %d %s", w.status, w.raw)
	}
	return w
}

// TestGroupsAPI walks production's user node group paths, every answer
// checked against the spec: the caller's own group on the public cluster
// through the alias, another user's refused, the report's users, the
// parent's DESTROY refused, and the group destroyed with its cluster.
func TestGroupsAPI(t *testing.T) {
	e := newEnv(t)
	admin := e.login("tok-admin")
	org := e.login("tok-org")
	guest := e.login("tok-member")
	e.settle(e.do("POST", "/deploy", admin, map[string]any{"cluster": "earth", "is_public": true, "node_capacity": 2, "ttl": 120}), admin)

	// 5.7.0's user_service deploy: the alias, its own login in the path.
	r := e.settle(e.do("POST", "/deploy/mia", guest, `{"cluster":"sliderule","is_public":false,"node_capacity":2,"ttl":30,"version":"latest"}`, "Content-Type", ""), guest)
	r = e.do("POST", "/status/mia", guest, map[string]string{"cluster": "sliderule"})
	if r.status != 200 || r.str("state") != "running" || r.str("cluster") != "earth" || r.str("user") != "mia" ||
		r.body["current_nodes"] != 2.0 || r.str("auto_shutdown") == "" {
		t.Fatalf("status: %d %s", r.status, r.raw)
	}
	if stack, _ := r.body["response"].(map[string]any); stack["StackName"] != "earth-cluster-mia-asg" {
		t.Fatalf("stack name: %s", r.raw)
	}
	if r = e.do("POST", "/extend/mia", guest, map[string]any{"cluster": "sliderule", "ttl": 60}); r.status != 200 {
		t.Fatalf("extend: %d %s", r.status, r.raw)
	}
	if r = e.do("POST", "/events/mia", guest, map[string]string{"cluster": "earth"}); r.status != 200 || len(r.body["events"].([]any)) < 3 {
		t.Fatalf("events: %d %s", r.status, r.raw)
	}
	// Another user's group, and limits.
	wantError(t, e.do("POST", "/deploy/otto", guest, map[string]any{"cluster": "earth", "node_capacity": 1}), 403, provisioner.EFORBIDDEN)
	wantError(t, e.do("POST", "/status/otto", guest, map[string]any{"cluster": "earth"}), 403, provisioner.EFORBIDDEN)
	wantError(t, e.do("POST", "/destroy/otto", guest, map[string]any{"cluster": "earth"}), 403, provisioner.EFORBIDDEN)
	wantError(t, e.do("POST", "/deploy/otto", org, map[string]any{"cluster": "earth", "node_capacity": 50}), 403, provisioner.ELIMIT)
	wantError(t, e.do("POST", "/deploy/otto", "", map[string]any{"cluster": "earth", "node_capacity": 1}), 401, provisioner.EUNAUTHORIZED)
	e.settle(e.do("POST", "/deploy/otto", org, map[string]any{"cluster": "earth", "node_capacity": 1, "ttl": 60}), org)

	// The report's users: production's {auto_shutdown, current_nodes}.
	r = e.do("POST", "/report/clusters", guest, nil)
	users, _ := r.body["earth"].(map[string]any)["users"].(map[string]any)
	if r.status != 200 || len(users) != 2 || users["mia"].(map[string]any)["current_nodes"] != 2.0 {
		t.Fatalf("report: %d %s", r.status, r.raw)
	}

	// 5.7.0's destroy() in user_service mode posts the parent: refused.
	wantError(t, e.do("POST", "/destroy", org, map[string]string{"cluster": "sliderule"}), 403, provisioner.EFORBIDDEN)
	wantError(t, e.do("POST", "/destroy", org, map[string]string{"cluster": "earth"}), 403, provisioner.EFORBIDDEN)
	if r = e.do("POST", "/status", org, map[string]string{"cluster": "earth"}); r.str("state") != "running" {
		t.Fatalf("parent after refused destroy: %s", r.raw)
	}
	r = e.settle(e.do("POST", "/destroy/otto", org, map[string]string{"cluster": "earth"}), org)
	if r = e.do("POST", "/status/otto", org, map[string]string{"cluster": "earth"}); r.str("state") != "absent" {
		t.Fatalf("group after its destroy: %s", r.raw)
	}

	// The cluster's DESTROY takes its groups with it.
	e.settle(e.do("POST", "/destroy", admin, map[string]string{"cluster": "earth"}), admin)
	if r = e.do("POST", "/status/mia", admin, map[string]string{"cluster": "earth"}); r.str("state") != "absent" {
		t.Fatalf("group after its cluster's destroy: %s", r.raw)
	}
	wantError(t, e.do("POST", "/deploy/mia", guest, map[string]any{"cluster": "sliderule", "node_capacity": 1}), 404, provisioner.ENOTFOUND)
}
