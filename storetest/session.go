package storetest

import (
	"context"
	"testing"
	"time"

	"provisioner"
	"provisioner/testkit"
)

func testSessions(t *testing.T, open func(t *testing.T) provisioner.Store) {
	ctx := context.Background()
	s := fresh(t, open)
	mk := func(login, id string, created time.Time) provisioner.Session {
		return provisioner.Session{ID: id, Login: login, UID: 7, Level: provisioner.LevelOrgMember, Via: "pat",
			Created: created, Expires: created.Add(24 * time.Hour), CheckedAt: created}
	}
	a1, a2, b1 := mk("alice", "a1", base), mk("alice", "a2", base.Add(time.Minute)), mk("bob", "b1", base)
	for _, ss := range []provisioner.Session{a1, a2, b1} {
		ok(t, s.CreateSession(ctx, ss))
	}
	testkit.WantCode(t, s.CreateSession(ctx, a1), provisioner.ECONFLICT)
	testkit.WantCode(t, s.CreateSession(ctx, provisioner.Session{Login: "x", Created: base, Expires: base}), provisioner.EINVALID)
	testkit.WantCode(t, s.CreateSession(ctx, provisioner.Session{Login: "x", ID: "y"}), provisioner.EINVALID)

	got, err := s.GetSession(ctx, "alice", "a1")
	ok(t, err)
	if !sameSession(got, a1) {
		t.Fatalf("GetSession = %+v, want %+v", got, a1)
	}
	_, err = s.GetSession(ctx, "bob", "a1")
	testkit.WantCode(t, err, provisioner.ENOTFOUND)

	list, err := s.ListSessions(ctx, "alice")
	ok(t, err)
	if len(list) != 2 || list[0].ID != "a2" || list[1].ID != "a1" {
		t.Fatalf("ListSessions = %+v, want a2, a1", list)
	}
	if list, err := s.ListSessions(ctx, "nobody"); err != nil || len(list) != 0 {
		t.Fatalf("ListSessions(nobody) = %v, %v", list, err)
	}

	check := base.Add(10 * time.Minute)
	ok(t, s.CheckSession(ctx, "alice", "a1", check))
	if got, _ := s.GetSession(ctx, "alice", "a1"); !got.CheckedAt.Equal(check) {
		t.Fatalf("CheckedAt = %v, want %v", got.CheckedAt, check)
	}

	// Revoking one session leaves the others live.
	at := base.Add(time.Hour)
	rev, err := s.RevokeSessions(ctx, "alice", "a1", at, "logout")
	ok(t, err)
	if len(rev) != 1 || rev[0].ID != "a1" || !rev[0].RevokedAt.Equal(at) || rev[0].Reason != "logout" {
		t.Fatalf("RevokeSessions(a1) = %+v", rev)
	}
	if got, _ := s.GetSession(ctx, "alice", "a1"); got.Live(at) || !got.RevokedAt.Equal(at) || got.Reason != "logout" {
		t.Fatalf("a1 after revoke = %+v", got)
	}
	if got, _ := s.GetSession(ctx, "alice", "a2"); !got.Live(at) {
		t.Fatalf("a2 after revoking a1 = %+v", got)
	}
	// A check does not bring a revoked session back.
	ok(t, s.CheckSession(ctx, "alice", "a1", at.Add(time.Minute)))
	if got, _ := s.GetSession(ctx, "alice", "a1"); got.RevokedAt.IsZero() {
		t.Fatal("CheckSession un-revoked a session")
	}
	_, err = s.RevokeSessions(ctx, "alice", "nope", at, "logout")
	testkit.WantCode(t, err, provisioner.ENOTFOUND)
	// Again: nothing more to revoke, and the first revocation stays.
	rev, err = s.RevokeSessions(ctx, "alice", "a1", at.Add(time.Minute), "again")
	ok(t, err)
	if len(rev) != 0 {
		t.Fatalf("revoking a revoked session = %+v", rev)
	}

	// Revoking a user revokes every live session, and only the user's.
	at2 := at.Add(time.Minute)
	rev, err = s.RevokeSessions(ctx, "alice", "", at2, "revoked by admin")
	ok(t, err)
	if len(rev) != 1 || rev[0].ID != "a2" {
		t.Fatalf("RevokeSessions(alice) = %+v, want a2 only", rev)
	}
	if got, _ := s.GetSession(ctx, "bob", "b1"); !got.Live(at2) {
		t.Fatal("revoking alice revoked bob")
	}

	// The feed: revocations at or after since, unexpired at now, oldest first.
	feed, err := s.ListRevoked(ctx, base, at2, 0)
	ok(t, err)
	if len(feed) != 2 || feed[0].ID != "a1" || feed[1].ID != "a2" || feed[0].Login != "alice" || !feed[1].Expires.Equal(a2.Expires) {
		t.Fatalf("ListRevoked = %+v, want a1, a2", feed)
	}
	if feed, _ := s.ListRevoked(ctx, at2, at2, 0); len(feed) != 1 || feed[0].ID != "a2" {
		t.Fatalf("ListRevoked(since the second) = %+v", feed)
	}
	if feed, _ := s.ListRevoked(ctx, base, at2, 1); len(feed) != 1 {
		t.Fatalf("ListRevoked limit 1 = %+v", feed)
	}
	// a1 expires at base+24h, a2 a minute later.
	if feed, _ := s.ListRevoked(ctx, base, a1.Expires, 0); len(feed) != 1 || feed[0].ID != "a2" {
		t.Fatalf("ListRevoked after a1 expired = %+v", feed)
	}
	// An expired session is not revoked again.
	if rev, err := s.RevokeSessions(ctx, "bob", "", b1.Expires, "late"); err != nil || len(rev) != 0 {
		t.Fatalf("revoking an expired session = %+v, %v", rev, err)
	}
}

func sameSession(a, b provisioner.Session) bool {
	return a.ID == b.ID && a.Login == b.Login && a.UID == b.UID && a.Level == b.Level && a.Via == b.Via &&
		a.Reason == b.Reason && a.Created.Equal(b.Created) && a.Expires.Equal(b.Expires) &&
		a.RevokedAt.Equal(b.RevokedAt) && a.CheckedAt.Equal(b.CheckedAt)
}
