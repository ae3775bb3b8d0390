package github_test

import (
	"testing"

	"provisioner"
	"provisioner/conformance"
	"provisioner/github"
	"provisioner/github/githubtest"
)

func TestConformance(t *testing.T) {
	conformance.IdentityProvider(t, func(t *testing.T) conformance.Identity {
		srv := githubtest.New(t)
		srv.AddUser("tok-ada", "ada", 1)
		srv.SetOrgMembership("ada", org, "active", "admin")
		srv.AddUser("tok-bob", "bob", 2) // not in the organization
		srv.AddUser("tok-cy", "cy", 3)
		srv.SetOrgMembership("cy", org, "active", "member")
		p := newProvider(t, srv, func(c *github.Config) { c.AdminTeam = "admins" })
		return conformance.Identity{Provider: p, Revoke: srv.RevokeToken, Users: map[string]provisioner.User{
			"tok-ada": {Login: "ada", ID: 1, Level: provisioner.LevelAdmin, Org: org},
			"tok-bob": {Login: "bob", ID: 2, Level: provisioner.LevelMember},
			"tok-cy":  {Login: "cy", ID: 3, Level: provisioner.LevelOrgMember, Org: org},
		}}
	})
}
