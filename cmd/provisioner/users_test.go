package main

import (
	"strings"
	"testing"
)

// Security: `logout` revokes the session at the server (a copy of the
// token stops working), and an admin's `users revoke LOGIN` ends every
// session of the user.
func TestLogoutAndUsersRevoke(t *testing.T) {
	srv := startServe(t, nil, "--identity", "static:"+writeIdentity(t))
	t.Setenv("PROVISIONER_TOKEN", "")
	login := func(pat string) string {
		t.Helper()
		t.Setenv("PROVISIONER_CONFIG_DIR", t.TempDir())
		if code, out, errs := cli(t, pat, "login", "--server", srv.URL, "--with-token"); code != 0 {
			t.Fatalf("login: exit %d\n%s%s", code, out, errs)
		}
		tok, err := cachedToken(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	otto := login("member-token-1")
	mustCLI(t, "logout", "--server", srv.URL)
	if code, _ := apiCall(t, srv.URL, "GET", "/auth/whoami", otto, nil); code != 401 {
		t.Fatalf("whoami with a logged-out token: %d, want 401", code)
	}

	// After the logout a new session; a repeated login within the login
	// cache window answers that session's token again (one session).
	otto2 := login("member-token-1")
	if otto2 == otto {
		t.Fatal("a login after logout answered the revoked token")
	}
	otto3 := login("member-token-1")
	if otto3 != otto2 {
		t.Fatal("a repeated login within the window opened another session")
	}
	ada := login("admin-token-1")
	if out := mustCLI(t, "users", "revoke", "otto", "--server", srv.URL); !strings.Contains(out, "revoked 1 session(s) of otto") {
		t.Fatalf("users revoke: %q", out)
	}
	for _, tok := range []string{otto2, otto3} {
		if code, _ := apiCall(t, srv.URL, "POST", "/access", tok, map[string]string{"cluster": "x"}); code != 401 {
			t.Fatalf("access with a revoked session: %d, want 401", code)
		}
	}
	// Not an admin: refused. A logout whose token the server already
	// refuses still forgets it.
	login("member-token-1")
	if code, _, _ := cli(t, "", "users", "revoke", "ada", "--server", srv.URL); code == 0 {
		t.Fatal("a member revoked an admin's sessions")
	}
	if code, _ := apiCall(t, srv.URL, "POST", "/users/otto/revoke", ada, nil); code != 200 {
		t.Fatalf("admin revoke: %d", code)
	}
	mustCLI(t, "logout", "--server", srv.URL)
	if tok, _ := cachedToken(srv.URL); tok != "" {
		t.Fatal("logout kept a revoked token")
	}
}
