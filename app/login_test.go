package app

import (
	"context"
	"reflect"
	"slices"
	"testing"
	"time"

	"provisioner"
)

// TestUserAudience: the jwt_user's "aud" as production's
// generate_audience_list makes it. Organization members and admins get the
// services and "*"; other users "provisioner" and the public clusters that
// exist at login, never a private one.
func TestUserAudience(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	now := f.clock.Now()
	for _, c := range []provisioner.Cluster{
		{Name: "pub-a", IsPublic: true},
		{Name: "priv-b"},
		{Name: "pub-c", IsPublic: true, Deployment: provisioner.Deployment{State: provisioner.StateDeploying}},
	} {
		if c.State == "" {
			c.State = provisioner.StateRunning
		}
		c.CreatedAt, c.UpdatedAt = now, now
		if _, err := f.store.PutCluster(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	everything := []string{"provisioner", "runner", "monitor", "*"}
	for _, tc := range []struct {
		who   Caller
		aud   []string
		roles []string
	}{
		{admin, everything, []string{"owner", "member"}},
		{orgMem, everything, []string{"member"}},
		{member, []string{"provisioner", "pub-a", "pub-c"}, []string{}},
	} {
		t.Run(tc.who.User.Level.String(), func(t *testing.T) {
			l, err := f.app.issue(ctx, tc.who.User)
			if err != nil {
				t.Fatal(err)
			}
			got := slices.Clone(l.Claims.Audience)
			if len(got) == 0 || got[0] != "provisioner" {
				t.Fatalf("aud %v does not begin with provisioner", got)
			}
			want := slices.Clone(tc.aud)
			if tc.who.User.Level < provisioner.LevelOrgMember {
				// Cluster names come in the store's order.
				slices.Sort(got[1:])
				slices.Sort(want[1:])
			}
			if !slices.Equal(got, want) {
				t.Errorf("aud %v, want %v", l.Claims.Audience, tc.aud)
			}
			if !slices.Equal(l.Claims.OrgRoles, tc.roles) {
				t.Errorf("org_roles %v, want %v", l.Claims.OrgRoles, tc.roles)
			}
			// The token says the same, and still opens the API.
			c, err := f.app.Whoami(ctx, l.Token)
			if err != nil || !slices.Equal(c.Audience, l.Claims.Audience) {
				t.Fatalf("Whoami: %+v, %v", c, err)
			}
			u, err := f.app.Authenticate(ctx, l.Token)
			if u.Session != l.Claims.ID {
				t.Errorf("Authenticate: session %q, want the token's jti %q", u.Session, l.Claims.ID)
			}
			u.Session = ""
			if err != nil || !reflect.DeepEqual(u, tc.who.User) {
				t.Errorf("Authenticate = %+v, %v; want %+v", u, err, tc.who.User)
			}
		})
	}

	// A public cluster deployed after a member's login is not in that
	// login's token; the next login names it.
	first, err := f.app.issue(ctx, member.User)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.PutCluster(ctx, provisioner.Cluster{
		Name:     "pub-new",
		IsPublic: true,
		Deployment: provisioner.Deployment{
			State:     provisioner.StateRunning,
			CreatedAt: now.Add(time.Minute),
			UpdatedAt: now.Add(time.Minute),
		},
	}); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(first.Claims.Audience, "pub-new") {
		t.Fatal("a login named a cluster that did not exist yet")
	}
	again, err := f.app.issue(ctx, member.User)
	if err != nil || !slices.Contains(again.Claims.Audience, "pub-new") {
		t.Fatalf("next login: %v, %v", again.Claims.Audience, err)
	}
}

// TestAccessReusesClusterToken: ACCESS twice in a row answers the same
// jwt_cluster (no new signature), and another cluster gets its own.
func TestAccessReusesClusterToken(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	now := f.clock.Now()
	for _, name := range []string{"demo", "demo2"} {
		if _, err := f.store.PutCluster(ctx, provisioner.Cluster{Name: name, Deployment: provisioner.Deployment{State: provisioner.StateRunning, CreatedAt: now, UpdatedAt: now}}); err != nil {
			t.Fatal(err)
		}
	}
	a1, err := f.app.Access(ctx, orgMem, "demo")
	if err != nil {
		t.Fatal(err)
	}
	a2, err := f.app.Access(ctx, orgMem, "demo")
	if err != nil || a2.Token != a1.Token {
		t.Fatalf("second ACCESS: new token or %v", err)
	}
	b, err := f.app.Access(ctx, orgMem, "demo2")
	if err != nil || b.Token == a1.Token || !slices.Equal(b.Claims.Audience, []string{"demo2"}) {
		t.Fatalf("ACCESS to another cluster: %+v, %v", b.Claims, err)
	}
	c, err := f.app.Access(ctx, admin, "demo")
	if err != nil || c.Token == a1.Token || c.Claims.Subject != "ada" {
		t.Fatalf("ACCESS by another user: %+v, %v", c.Claims, err)
	}
}

// TestSignersAreDevelopers: under a signature policy that requires a user
// to sign, the login token's org_roles also holds "developer" (the released
// client signs only then); the level claim is unchanged.
func TestSignersAreDevelopers(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		policy provisioner.SignaturePolicy
		who    Caller
		roles  []string
	}{
		{provisioner.SignaturesOff, admin, []string{"owner", "member"}},
		{provisioner.SignaturesOwners, admin, []string{"owner", "member", "developer"}},
		{provisioner.SignaturesOwners, orgMem, []string{"member"}},
		{provisioner.SignaturesEveryone, orgMem, []string{"member", "developer"}},
		{provisioner.SignaturesEveryone, member, []string{"developer"}},
	} {
		f := newFixture(t)
		f.app.signing = tc.policy
		l, err := f.app.issue(ctx, tc.who.User)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(l.Claims.OrgRoles, tc.roles) || l.Claims.Level != tc.who.User.Level {
			t.Errorf("%s, %s: org_roles %v level %s, want %v", tc.policy, tc.who.User.Level, l.Claims.OrgRoles, l.Claims.Level, tc.roles)
		}
	}
}
