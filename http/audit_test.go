package http_test

import (
	"testing"

	"provisioner"
)

func TestAuditTrail(t *testing.T) {
	e := newEnv(t)
	e.register("priv", false)
	admin := e.login("tok-admin")
	member := e.login("tok-member")
	e.do("POST", "/auth/github/pat", "", map[string]string{"pat": "wrong"})
	e.do("POST", "/access", member, map[string]string{"cluster": "priv"})
	e.do("POST", "/access", admin, map[string]string{"cluster": "priv"})

	wantError(t, e.do("GET", "/audit", member, nil), 403, provisioner.EFORBIDDEN)
	wantError(t, e.do("GET", "/audit?limit=abc", admin, nil), 400, provisioner.EINVALID)
	wantError(t, e.do("GET", "/audit?since=yesterday", admin, nil), 400, provisioner.EINVALID)

	r := e.do("GET", "/audit?action=access", admin, nil)
	entries := r.body["entries"].([]any)
	if r.status != 200 || len(entries) != 2 {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	got := map[string]string{}
	for _, x := range entries {
		m := x.(map[string]any)
		got[m["actor"].(string)] = m["result"].(string)
		if m["target"] != "priv" || m["source"] == "" || m["time"] == "" {
			t.Errorf("entry %v", m)
		}
	}
	if got["ada"] != "success" || got["mia"] != provisioner.ENOTFOUND {
		t.Errorf("access results %v", got)
	}
	r = e.do("GET", "/audit?action=login.pat", admin, nil)
	var failed int
	for _, x := range r.body["entries"].([]any) {
		if m := x.(map[string]any); m["result"] == provisioner.EUNAUTHORIZED && m["actor"] == "" {
			failed++
		}
	}
	if failed != 1 {
		t.Errorf("the failed login is not in the audit log: %s", r.raw)
	}
}
