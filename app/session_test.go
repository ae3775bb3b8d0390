package app

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"provisioner"
)

// login issues a jwt_user through LOGIN's path (issue), as a PAT login.
func (f *fixture) login(t *testing.T, u provisioner.User) Login {
	t.Helper()
	u.Via = "pat"
	l, err := f.app.issue(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func wantUnauthorized(t *testing.T, a *App, tok string) {
	t.Helper()
	_, err := a.Authenticate(context.Background(), tok)
	wantCode(t, err, provisioner.EUNAUTHORIZED)
}

// Security: logout ends the session at the provisioner at once; the
// user's other sessions stay.
func TestLogoutRevokesSession(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	l1, l2 := f.login(t, orgMem.User), f.login(t, orgMem.User)
	u, err := f.app.Authenticate(ctx, l1.Token)
	if err != nil || u.Session != l1.Claims.ID {
		t.Fatalf("Authenticate = %+v, %v", u, err)
	}
	if err := f.app.Logout(ctx, Caller{User: u}); err != nil {
		t.Fatal(err)
	}
	wantUnauthorized(t, f.app, l1.Token)
	if _, err := f.app.Authenticate(ctx, l2.Token); err != nil {
		t.Fatalf("the other session: %v", err)
	}
	wantCode(t, f.app.Logout(ctx, anon), provisioner.EUNAUTHORIZED)
	if e, _ := f.store.ListAudit(ctx, provisioner.AuditFilter{Action: "logout"}); len(e) != 2 || e[1].Result != "success" {
		t.Fatalf("audit = %+v", e)
	}
}

// Security: a token whose session the store does not know (issued before
// sessions, or by another provisioner with the key) is refused.
func TestUnknownSessionRefused(t *testing.T) {
	f := newFixture(t)
	tok, _, err := f.app.tokens.IssueUser(context.Background(), orgMem.User, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantUnauthorized(t, f.app, tok)
}

// Security: an admin revokes every session of a user, in this process at
// once and in another sharing the store within the session cache time;
// the user's reused jwt_cluster tokens are dropped.
func TestAdminRevokesUser(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	other := New(Config{Store: f.store, Tokens: f.app.tokens, Now: f.clock.Now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	f.deployed(t, admin, "c1", false)
	l1, l2 := f.login(t, orgMem.User), f.login(t, orgMem.User)
	keep := f.login(t, member.User)
	u, err := f.app.Authenticate(ctx, l1.Token)
	if err != nil {
		t.Fatal(err)
	}
	acc, err := f.app.Access(ctx, Caller{User: u}, "c1")
	if err != nil || acc.Claims.Session != l1.Claims.ID {
		t.Fatalf("Access = %+v, %v; want sid %s", acc.Claims, err, l1.Claims.ID)
	}
	if _, err := other.Authenticate(ctx, l2.Token); err != nil { // now cached there
		t.Fatal(err)
	}
	_, err = f.app.RevokeUser(ctx, orgMem, "otto")
	wantCode(t, err, provisioner.EFORBIDDEN)
	_, err = f.app.RevokeUser(ctx, admin, "../x")
	wantCode(t, err, provisioner.EINVALID)
	n, err := f.app.RevokeUser(ctx, admin, "otto")
	if err != nil || n != 2 {
		t.Fatalf("RevokeUser = %d, %v; want 2", n, err)
	}
	wantUnauthorized(t, f.app, l1.Token)
	wantUnauthorized(t, f.app, l2.Token)
	if _, err := f.app.Authenticate(ctx, keep.Token); err != nil {
		t.Fatalf("another user's session: %v", err)
	}
	f.clock.Add(DefaultSessionCacheTTL)
	wantUnauthorized(t, other, l2.Token)
	// A new login works, and gets no jwt_cluster of the revoked session.
	l3 := f.login(t, orgMem.User)
	u3, err := f.app.Authenticate(ctx, l3.Token)
	if err != nil {
		t.Fatal(err)
	}
	acc3, err := f.app.Access(ctx, Caller{User: u3}, "c1")
	if err != nil || acc3.Token == acc.Token || acc3.Claims.Session != l3.Claims.ID {
		t.Fatalf("Access after revocation = %+v, %v", acc3.Claims, err)
	}
	list, err := f.app.Sessions(ctx, Caller{User: u3}, "otto")
	// The three logins may share a second: check them by id, not order.
	if err != nil || len(list) != 3 {
		t.Fatalf("Sessions = %+v, %v", list, err)
	}
	for _, s := range list {
		live := s.ID == l3.Claims.ID
		if s.Live(f.clock.Now()) != live || !live && s.Reason != "revoked by ada" {
			t.Fatalf("Sessions = %+v: session %s live %t, reason %q", list, s.ID, s.Live(f.clock.Now()), s.Reason)
		}
	}
	_, err = f.app.Sessions(ctx, Caller{User: u3}, "ada")
	wantCode(t, err, provisioner.EFORBIDDEN)

	// The feed lists both, with a cursor past them; the keys that verify.
	feed, err := f.app.RevocationFeed(ctx, time.Time{})
	if err != nil || len(feed.Sessions) != 2 || feed.Cursor.IsZero() {
		t.Fatalf("RevocationFeed = %+v, %v", feed, err)
	}
	if again, _ := f.app.RevocationFeed(ctx, feed.Cursor.Add(time.Nanosecond)); len(again.Sessions) != 0 {
		t.Fatalf("feed after the cursor = %+v", again)
	}
}

type fakeMembership struct {
	mu    sync.Mutex
	level provisioner.Level
	err   error
	calls int
}

func (m *fakeMembership) CheckMembership(_ context.Context, u provisioner.User) (provisioner.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	u.Level = m.level
	return u, m.err
}

// Security: a user removed from the organization (or an admin demoted)
// loses its sessions at the next membership re-check, at most
// MembershipRecheck after the last; a failing re-check keeps them;
// workflow sessions are not re-checked.
func TestMembershipRecheck(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	m := &fakeMembership{level: provisioner.LevelAdmin}
	f.app.membership, f.app.membershipEvery = m, 10*time.Minute
	ada := f.login(t, admin.User)
	wf := admin.User
	wf.Via = "actions"
	flow, err := f.app.issue(ctx, wf)
	if err != nil {
		t.Fatal(err)
	}
	ok := func(tok string) {
		t.Helper()
		if _, err := f.app.Authenticate(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	ok(ada.Token)
	if m.calls != 0 {
		t.Fatalf("re-checked before it was due: %d calls", m.calls)
	}
	f.clock.Add(10 * time.Minute)
	ok(ada.Token) // due: still an admin
	ok(ada.Token) // checked just now
	if m.calls != 1 {
		t.Fatalf("calls = %d, want 1", m.calls)
	}
	f.clock.Add(10 * time.Minute)
	m.err = provisioner.Errorf(provisioner.EUNAVAILABLE, "GitHub is down")
	ok(ada.Token) // a failed re-check keeps the session
	ok(ada.Token) // and is not retried at once
	if m.calls != 2 {
		t.Fatalf("calls = %d, want 2", m.calls)
	}
	f.clock.Add(recheckRetry)
	m.err, m.level = nil, provisioner.LevelOrgMember // demoted
	wantUnauthorized(t, f.app, ada.Token)
	wantUnauthorized(t, f.app, ada.Token)
	ok(flow.Token) // a workflow's level is configuration, not membership
	if m.calls != 3 {
		t.Fatalf("calls = %d, want 3", m.calls)
	}
	if e, _ := f.store.ListAudit(ctx, provisioner.AuditFilter{Action: "session.recheck"}); len(e) != 1 || e[0].Target != "ada" {
		t.Fatalf("audit = %+v", e)
	}
}
