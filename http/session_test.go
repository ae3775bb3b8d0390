package http_test

import (
	"net/url"
	"testing"
	"time"

	"provisioner"
)

// Security: POST /auth/logout ends the login token at once; an admin's
// POST /users/{login}/revoke ends every session of the user; the public
// feed lists both, and the keys that verify.
func TestLogoutAndRevokeOverHTTP(t *testing.T) {
	e := newEnv(t)
	e.register("priv", false)
	otto1, otto2, otto3 := e.login("tok-org"), e.login("tok-org"), e.login("tok-org")
	ada := e.login("tok-admin")
	start := time.Now().Add(-time.Minute).UTC()

	if r := e.do("POST", "/auth/logout", otto1, nil); r.status != 200 {
		t.Fatalf("logout: %d %s", r.status, r.raw)
	}
	wantError(t, e.do("GET", "/auth/whoami", otto1, nil), 401, provisioner.EUNAUTHORIZED)
	wantError(t, e.do("POST", "/access", otto1, map[string]string{"cluster": "priv"}), 401, provisioner.EUNAUTHORIZED)
	wantError(t, e.do("POST", "/auth/logout", otto1, nil), 401, provisioner.EUNAUTHORIZED)
	wantError(t, e.do("POST", "/auth/logout", "", nil), 401, provisioner.EUNAUTHORIZED)
	if r := e.do("POST", "/access", otto2, map[string]string{"cluster": "priv"}); r.status != 200 {
		t.Fatalf("the other session: %d %s", r.status, r.raw)
	}

	wantError(t, e.do("POST", "/users/ada/revoke", otto2, nil), 403, provisioner.EFORBIDDEN)
	r := e.do("POST", "/users/otto/revoke", ada, nil)
	if r.status != 200 || r.body["revoked"] != float64(2) {
		t.Fatalf("revoke: %d %s", r.status, r.raw)
	}
	for _, tok := range []string{otto2, otto3} {
		wantError(t, e.do("POST", "/access", tok, map[string]string{"cluster": "priv"}), 401, provisioner.EUNAUTHORIZED)
	}
	if r := e.do("GET", "/users/otto/sessions", ada, nil); r.status != 200 || len(r.body["sessions"].([]any)) != 3 {
		t.Fatalf("sessions: %d %s", r.status, r.raw)
	}

	r = e.do("GET", "/auth/revocations?since="+url.QueryEscape(start.Format(time.RFC3339Nano)), "", nil)
	if r.status != 200 || len(r.body["sessions"].([]any)) != 3 || r.str("cursor") == "" {
		t.Fatalf("feed: %d %s", r.status, r.raw)
	}
	wantError(t, e.do("GET", "/auth/revocations?since=yesterday", "", nil), 400, provisioner.EINVALID)
}
