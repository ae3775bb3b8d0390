package app

import (
	"context"
	"slices"
	"testing"
	"time"

	"provisioner"
	"provisioner/affiliates"
)

// affList is an in-memory affiliates list.
type affList map[string]*provisioner.Affiliation

func (l affList) Affiliation(_ context.Context, login string) (*provisioner.Affiliation, error) {
	if a := l[login]; a != nil {
		c := *a
		return &c, nil
	}
	return nil, nil
}

var fullScopes = []string{provisioner.ScopeSlideRule, provisioner.ScopeMonitor, provisioner.ScopeProvisioner, provisioner.ScopeRunner}

// affFixture: "lab" (a GitHub user outside the organization) is an
// affiliate granted lab-a and lab-b with 3 nodes and 2 hours; "otto" (an
// org member) is one too, granted lab-a with 6 nodes and 12 hours; "scoped"
// keeps only the cluster scope.
func affFixture(t *testing.T) (*fixture, Caller, Caller) {
	f := newFixture(t)
	list := affList{
		"lab":    {Clusters: []string{"lab-a", "lab-b"}, MaxNodes: 3, MaxTTL: 2 * time.Hour, AllowedScopes: fullScopes},
		"otto":   {Clusters: []string{"lab-a"}, MaxNodes: 6, MaxTTL: 12 * time.Hour, AllowedScopes: []string{provisioner.ScopeSlideRule}},
		"scoped": {Clusters: []string{"lab-a"}, MaxNodes: 3, MaxTTL: time.Hour, AllowedScopes: []string{provisioner.ScopeSlideRule}},
	}
	f.app.affil = list
	now := f.clock.Now()
	for _, c := range []provisioner.Cluster{{Name: "lab-a"}, {Name: "other"}, {Name: "pub", IsPublic: true}} {
		c.State, c.CreatedAt, c.UpdatedAt = provisioner.StateRunning, now, now
		if _, err := f.store.PutCluster(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	lab := Caller{User: provisioner.User{Login: "lab", ID: 7, Level: provisioner.LevelMember, Affiliation: list["lab"]}, Source: "test"}
	scoped := Caller{User: provisioner.User{Login: "scoped", ID: 8, Level: provisioner.LevelMember, Affiliation: list["scoped"]}, Source: "test"}
	return f, lab, scoped
}

// TestAffiliateLogin: the login token of an affiliate lists "affiliate" in
// org_roles and its clusters in aud (with the runner and monitor only if
// its allowed scopes keep them), as production's authorize_user; an org
// member who is listed keeps its rights and gains the clusters; a user not
// listed, or listed without the role in its token, is no affiliate.
func TestAffiliateLogin(t *testing.T) {
	ctx := context.Background()
	f, _, _ := affFixture(t)
	for _, tc := range []struct {
		user  provisioner.User
		aud   []string
		roles []string
	}{
		{provisioner.User{Login: "lab", ID: 7, Level: provisioner.LevelMember}, []string{"provisioner", "runner", "monitor", "lab-a", "lab-b", "pub"}, []string{"affiliate"}},
		{provisioner.User{Login: "scoped", ID: 8, Level: provisioner.LevelMember}, []string{"provisioner", "lab-a", "pub"}, []string{"affiliate"}},
		{orgMem.User, []string{"provisioner", "runner", "monitor", "lab-a", "*"}, []string{"affiliate", "member"}},
		{member.User, []string{"provisioner", "pub"}, []string{}},
	} {
		l, err := f.app.issue(ctx, tc.user)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(l.Claims.Audience, tc.aud) || !slices.Equal(l.Claims.OrgRoles, tc.roles) {
			t.Errorf("%s: aud %v org_roles %v; want %v %v", tc.user.Login, l.Claims.Audience, l.Claims.OrgRoles, tc.aud, tc.roles)
		}
		u, err := f.app.Authenticate(ctx, l.Token)
		if err != nil {
			t.Fatal(err)
		}
		if (u.Affiliation != nil) != slices.Contains(tc.roles, "affiliate") {
			t.Errorf("%s: Authenticate affiliation %+v", tc.user.Login, u.Affiliation)
		}
	}

	// The grant is read from the list on each request: taken off the
	// list, a token that still says "affiliate" grants nothing.
	l, err := f.app.issue(ctx, provisioner.User{Login: "lab", ID: 7, Level: provisioner.LevelMember})
	if err != nil {
		t.Fatal(err)
	}
	list := f.app.affil.(affList)
	saved := list["lab"]
	delete(list, "lab")
	if u, err := f.app.Authenticate(ctx, l.Token); err != nil || u.Affiliation != nil {
		t.Fatalf("removed affiliate: %+v, %v", u, err)
	}
	_, err = f.app.Access(ctx, Caller{User: provisioner.User{Login: "lab", Level: provisioner.LevelMember}}, "lab-a")
	wantCode(t, err, provisioner.ENOTFOUND) // a private cluster it may not see: as a missing one
	// Added to the list after login: the token lacks the role, as in production.
	list["mia"] = saved
	ml, err := f.app.issue(ctx, provisioner.User{Login: "mia", ID: 3, Level: provisioner.LevelMember})
	if err != nil {
		t.Fatal(err)
	}
	delete(list, "mia")
	nl, err := f.app.issue(ctx, member.User)
	if err != nil {
		t.Fatal(err)
	}
	list["mia"] = saved
	if u, err := f.app.Authenticate(ctx, nl.Token); err != nil || u.Affiliation != nil {
		t.Fatalf("token without the role: %+v, %v", u, err)
	}
	if u, err := f.app.Authenticate(ctx, ml.Token); err != nil || u.Affiliation == nil {
		t.Fatalf("token with the role: %+v, %v", u, err)
	}
}

// TestAffiliateUnreadableList: a list that cannot be read grants nothing
// (production's get_affiliation returns None), and logging in still works.
func TestAffiliateUnreadableList(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.app.affil = affiliates.NewLazy("test", func(context.Context, string) ([]byte, string, error) {
		return nil, "", provisioner.Errorf(provisioner.EUNAVAILABLE, "down")
	}, affiliates.Options{Logger: f.app.log})
	l, err := f.app.issue(ctx, member.User)
	if err != nil || len(l.Claims.OrgRoles) != 0 {
		t.Fatalf("%+v, %v", l.Claims, err)
	}
}

// TestAffiliateAccess: ACCESS to a private cluster granted to the
// affiliate, and only to those; the jwt_cluster carries the affiliate role
// the gateway lets through.
func TestAffiliateAccess(t *testing.T) {
	ctx := context.Background()
	f, lab, scoped := affFixture(t)
	for _, c := range []Caller{lab, scoped} {
		acc, err := f.app.Access(ctx, c, "lab-a")
		if err != nil {
			t.Fatalf("%s: %v", c.User.Login, err)
		}
		if !slices.Equal(acc.Claims.Audience, []string{"lab-a"}) || !slices.Contains(acc.Claims.OrgRoles, "affiliate") {
			t.Errorf("%s: claims %+v", c.User.Login, acc.Claims)
		}
		_, err = f.app.Access(ctx, c, "other")
		wantCode(t, err, provisioner.ENOTFOUND) // not named to it: answered as missing
		if _, err := f.app.Access(ctx, c, "pub"); err != nil {
			t.Errorf("%s: public cluster: %v", c.User.Login, err)
		}
	}
	// Not deployed: not found, as for anyone.
	_, err := f.app.Access(ctx, lab, "lab-b")
	wantCode(t, err, provisioner.ENOTFOUND)
	// Without the cluster scope the clusters are not reached.
	noScope := lab
	af := *lab.User.Affiliation
	af.AllowedScopes = []string{provisioner.ScopeProvisioner}
	noScope.User.Affiliation = &af
	_, err = f.app.Access(ctx, noScope, "lab-a")
	wantCode(t, err, provisioner.EFORBIDDEN)
	// The affiliate sees its clusters, not the organization's others.
	list, err := f.app.ListClusters(ctx, lab)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, cl := range list {
		names = append(names, cl.Name)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"lab-a", "pub"}) {
		t.Errorf("ListClusters: %v", names)
	}
	if _, err := f.app.Status(ctx, lab, "lab-a"); err != nil {
		t.Errorf("status of its cluster: %v", err)
	}
	// Others' private clusters look as missing ones do.
	if st, err := f.app.Status(ctx, lab, "other"); err != nil || st.State != provisioner.StateAbsent {
		t.Errorf("status of another private cluster: %+v, %v; want absent", st, err)
	}
}

// TestAffiliateDeploy: an affiliate deploys, extends and destroys its own
// clusters within its own limits (production's validate_request), private
// only; never another cluster, and its clusters do not count against the
// org member's cluster quota. An org member who is an affiliate too has
// the larger limits on the affiliate's clusters, the member's elsewhere.
func TestAffiliateDeploy(t *testing.T) {
	ctx := context.Background()
	f, lab, scoped := affFixture(t)
	req := func(name string, nodes int, ttl time.Duration) DeployRequest {
		return DeployRequest{Cluster: name, NodeCapacity: nodes, TTL: ttl}
	}
	_, err := f.app.Deploy(ctx, lab, req("lab-b", 4, time.Hour))
	wantCode(t, err, provisioner.ELIMIT)
	_, err = f.app.Deploy(ctx, lab, req("lab-b", 3, 3*time.Hour))
	wantCode(t, err, provisioner.ELIMIT)
	_, err = f.app.Deploy(ctx, lab, req("elsewhere", 1, time.Hour))
	wantCode(t, err, provisioner.EFORBIDDEN)
	_, err = f.app.Deploy(ctx, lab, DeployRequest{Cluster: "lab-b", NodeCapacity: 1, TTL: time.Hour, IsPublic: true})
	wantCode(t, err, provisioner.EFORBIDDEN)
	// Without the provisioner scope, no DEPLOY at all.
	_, err = f.app.Deploy(ctx, scoped, req("lab-a", 1, time.Hour))
	wantCode(t, err, provisioner.EFORBIDDEN)

	res, err := f.app.Deploy(ctx, lab, req("lab-b", 3, 2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if op := f.wait(t, res.Operation.ID); op.State != provisioner.OpSuccess {
		t.Fatalf("deploy: %+v", op)
	}
	if _, err := f.app.Extend(ctx, lab, "lab-b", 2*time.Hour); err != nil {
		t.Fatal(err)
	}
	_, err = f.app.Extend(ctx, lab, "lab-b", 3*time.Hour)
	wantCode(t, err, provisioner.ELIMIT)
	_, err = f.app.ScheduleDestroy(ctx, lab, "lab-b", f.clock.Now().Add(3*time.Hour))
	wantCode(t, err, provisioner.ELIMIT)
	if _, err := f.app.ScheduleDestroy(ctx, lab, "lab-b", f.clock.Now().Add(90*time.Minute)); err != nil {
		t.Fatal(err)
	}
	_, err = f.app.Extend(ctx, lab, "other", time.Hour)
	wantCode(t, err, provisioner.EFORBIDDEN)
	_, err = f.app.Destroy(ctx, lab, "other")
	wantCode(t, err, provisioner.EFORBIDDEN)
	if _, err := f.app.Destroy(ctx, lab, "lab-b"); err != nil {
		t.Fatal(err)
	}

	// otto: member limits are 4 nodes and 8h; its affiliation 6 and 12h on lab-a.
	otto := orgMem
	otto.User.Affiliation = f.app.affil.(affList)["otto"]
	_, err = f.app.Deploy(ctx, otto, req("otto-x", 5, time.Hour))
	wantCode(t, err, provisioner.ELIMIT)
	if _, err := f.app.Destroy(ctx, admin, "lab-a"); err != nil {
		t.Fatal(err)
	}
	// The provisioner scope is not needed by an org member: member rights stay.
	otto.User.Affiliation.AllowedScopes = append(otto.User.Affiliation.AllowedScopes, provisioner.ScopeProvisioner)
	if _, err := f.app.Deploy(ctx, otto, req("lab-a", 6, 12*time.Hour)); err != nil {
		t.Fatalf("org member on its affiliate cluster: %v", err)
	}
}

// TestAffiliateInfo: /info for an affiliate: the role, its clusters known
// and deployable, its limits; for an org member who is one too, "*" and the
// larger limits.
func TestAffiliateInfo(t *testing.T) {
	ctx := context.Background()
	f, lab, scoped := affFixture(t)
	in, err := f.app.Info(ctx, lab)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(in.KnownClusters)
	if !slices.Equal(in.OrgRoles, []string{"affiliate"}) || !slices.Equal(in.KnownClusters, []string{"lab-a", "lab-b", "pub"}) ||
		!slices.Equal(in.DeployableClusters, []string{"lab-a", "lab-b"}) || in.MaxNodes != 3 || in.MaxTTL != 2*time.Hour {
		t.Errorf("affiliate: %+v", in)
	}
	in, err = f.app.Info(ctx, scoped)
	if err != nil {
		t.Fatal(err)
	}
	if len(in.DeployableClusters) != 0 || in.MaxNodes != 0 || !slices.Contains(in.KnownClusters, "lab-a") {
		t.Errorf("affiliate without the provisioner scope: %+v", in)
	}
	otto := orgMem
	otto.User.Affiliation = &provisioner.Affiliation{Clusters: []string{"lab-a"}, MaxNodes: 6, MaxTTL: 12 * time.Hour, AllowedScopes: fullScopes}
	in, err = f.app.Info(ctx, otto)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(in.OrgRoles, []string{"affiliate", "member"}) || !slices.Equal(in.DeployableClusters, []string{"*"}) ||
		in.MaxNodes != 6 || in.MaxTTL != 12*time.Hour {
		t.Errorf("org member and affiliate: %+v", in)
	}
}
