package app

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"provisioner"
)

// patIdentity answers PAT logins from a table and counts them.
type patIdentity struct {
	users map[string]provisioner.User
	calls atomic.Int32
}

func (p *patIdentity) LoginToken(_ context.Context, token string) (provisioner.User, error) {
	p.calls.Add(1)
	u, ok := p.users[token]
	if !ok {
		return provisioner.User{}, provisioner.Errorf(provisioner.EUNAUTHORIZED, "bad credentials")
	}
	u.Via = "pat"
	return u, nil
}

// TestLoginReuse: within the window, the same PAT gets the same jwt_user
// (no signature, no new session) while its session is live; a logout, the
// end of the window or another PAT gets a new one; a user whose audience
// names clusters (not "*") always gets a new one.
func TestLoginReuse(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	id := &patIdentity{users: map[string]provisioner.User{"pat-otto": orgMem.User, "pat-otto2": orgMem.User, "pat-mia": member.User}}
	f.app.identity = id
	f.app.reuse = newLoginReuse(10 * time.Second)
	login := func(pat string) Login {
		t.Helper()
		l, err := f.app.LoginToken(ctx, "10.0.0.1", pat)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	sessions := func() int {
		t.Helper()
		s, err := f.store.ListSessions(ctx, orgMem.User.Login)
		if err != nil {
			t.Fatal(err)
		}
		return len(s)
	}

	first := login("pat-otto")
	if again := login("pat-otto"); again.Token != first.Token {
		t.Fatal("a repeated login within the window issued a new token")
	}
	if n := sessions(); n != 1 {
		t.Fatalf("sessions after a reused login = %d, want 1", n)
	}
	if other := login("pat-otto2"); other.Token == first.Token {
		t.Fatal("another PAT of the same user got the first PAT's token")
	}
	if logins, _ := f.store.ListAudit(ctx, provisioner.AuditFilter{Action: "login.pat"}); len(logins) != 3 {
		t.Fatalf("audited logins = %d, want 3 (a reused login is audited too)", len(logins))
	}

	// Logout ends the reuse at once.
	u, err := f.app.Authenticate(ctx, first.Token)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.app.Logout(ctx, Caller{User: u}); err != nil {
		t.Fatal(err)
	}
	afterLogout := login("pat-otto")
	if afterLogout.Token == first.Token {
		t.Fatal("a login after logout answered the revoked token")
	}
	if _, err := f.app.Authenticate(ctx, afterLogout.Token); err != nil {
		t.Fatalf("the new token: %v", err)
	}

	// The window ends.
	f.clock.Add(11 * time.Second)
	if late := login("pat-otto"); late.Token == afterLogout.Token {
		t.Fatal("a login after the window answered the old token")
	}

	// A non-member's token names public clusters: never reused.
	m1, m2 := login("pat-mia"), login("pat-mia")
	if m1.Token == m2.Token {
		t.Fatal("a member's login (audience of named clusters) was reused")
	}

	// Off: every login issues.
	f.app.reuse = newLoginReuse(0)
	if a, b := login("pat-otto"), login("pat-otto"); a.Token == b.Token {
		t.Fatal("reuse off, yet the same token twice")
	}
}
