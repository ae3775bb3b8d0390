package github_test

import (
	"context"
	"testing"

	"provisioner"
	"provisioner/github"
	"provisioner/github/githubtest"
)

// A removed or demoted user is found out with the operator's token, not
// the user's own.
func TestCheckMembership(t *testing.T) {
	ctx := context.Background()
	srv := githubtest.New(t)
	srv.AddUser("op-token", "operator", 1)
	srv.SetOrgMembership("operator", org, "active", "member")
	srv.SetOrgMembership("alice", org, "active", "admin")
	p := newProvider(t, srv, func(c *github.Config) { c.MemberToken, c.AdminTeam = "op-token", "admins" })
	alice := provisioner.User{Login: "alice", ID: 2, Level: provisioner.LevelAdmin, Via: "pat"}

	check := func(want provisioner.Level) {
		t.Helper()
		u, err := p.CheckMembership(ctx, alice)
		if err != nil || u.Level != want || u.Login != "alice" || u.ID != 2 {
			t.Fatalf("CheckMembership = %+v, %v; want level %s", u, err, want)
		}
	}
	check(provisioner.LevelAdmin)
	srv.SetOrgMembership("alice", org, "active", "member") // demoted
	check(provisioner.LevelOrgMember)
	srv.AddTeamMember(org, "admins", "alice")
	check(provisioner.LevelAdmin)
	srv.SetOrgMembership("alice", org, "", "") // removed
	check(provisioner.LevelMember)

	// No operator token: no re-check, said so.
	q := newProvider(t, srv, nil)
	if _, err := q.CheckMembership(ctx, alice); provisioner.ErrorCode(err) != provisioner.ENOTFOUND {
		t.Fatalf("without a member token: %v, want ENOTFOUND", err)
	}
	if _, err := p.CheckMembership(ctx, provisioner.User{Login: "../x"}); provisioner.ErrorCode(err) != provisioner.EINVALID {
		t.Fatalf("bad login: %v, want EINVALID", err)
	}
	// A revoked operator token is GitHub refusing, not "not a member".
	srv.SetOrgMembership("alice", org, "active", "admin")
	srv.RevokeToken("op-token")
	if _, err := p.CheckMembership(ctx, alice); err == nil {
		t.Fatal("a revoked operator token answered")
	}
}
