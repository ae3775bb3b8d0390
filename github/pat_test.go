package github_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"provisioner"
	"provisioner/github"
	"provisioner/github/githubtest"
)

func TestLoginTokenLevels(t *testing.T) {
	type setup func(s *githubtest.Server)
	member := func(state, role string) setup {
		return func(s *githubtest.Server) { s.SetOrgMembership("alice", org, state, role) }
	}
	team := func(name string) setup {
		return func(s *githubtest.Server) { s.AddTeamMember(org, name, "alice") }
	}
	tests := []struct {
		name      string
		cfg       func(*github.Config)
		setup     []setup
		level     provisioner.Level
		org       string
		teams     []string
		teamCalls int // team membership lookups expected
	}{
		{name: "no org configured", cfg: func(c *github.Config) { c.Org, c.ActionsAudience = "", "" }, level: provisioner.LevelMember},
		{name: "not a member", level: provisioner.LevelMember},
		{name: "pending member", setup: []setup{member("pending", "member")}, level: provisioner.LevelMember},
		{name: "active member", setup: []setup{member("active", "member")}, level: provisioner.LevelOrgMember, org: org},
		{name: "org owner", setup: []setup{member("active", "admin")}, level: provisioner.LevelAdmin, org: org,
			cfg: func(c *github.Config) { c.AdminTeam, c.AllowedTeams = "admins", []string{"devs"} }},
		{name: "pending owner", setup: []setup{member("pending", "admin")}, level: provisioner.LevelMember,
			cfg: func(c *github.Config) { c.AdminTeam = "admins" }},
		{name: "admin team", setup: []setup{member("active", "member"), team("admins")}, level: provisioner.LevelAdmin, org: org,
			// Teams are looked up at once: the allowed team too, one round trip.
			cfg: func(c *github.Config) { c.AdminTeam, c.AllowedTeams = "admins", []string{"devs"} }, teamCalls: 2},
		{name: "pending in admin team", level: provisioner.LevelOrgMember, org: org,
			setup: []setup{member("active", "member"), func(s *githubtest.Server) { s.SetTeamMembership(org, "admins", "alice", "pending") }},
			cfg:   func(c *github.Config) { c.AdminTeam = "admins" }, teamCalls: 1},
		{name: "member of another team only", setup: []setup{member("active", "member"), team("others")}, level: provisioner.LevelOrgMember, org: org,
			cfg: func(c *github.Config) { c.AdminTeam = "admins" }, teamCalls: 1},
		{name: "in an allowed team", setup: []setup{member("active", "member"), team("ops")}, level: provisioner.LevelOrgMember, org: org,
			cfg: func(c *github.Config) { c.AllowedTeams = []string{"devs", "ops"} }, teams: []string{"ops"}, teamCalls: 2},
		{name: "in two allowed teams", setup: []setup{member("active", "member"), team("ops"), team("devs")}, level: provisioner.LevelOrgMember, org: org,
			cfg: func(c *github.Config) { c.AllowedTeams = []string{"devs", "ops"} }, teams: []string{"devs", "ops"}, teamCalls: 2},
		{name: "in no allowed team", setup: []setup{member("active", "member"), team("others")}, level: provisioner.LevelMember, org: org,
			cfg: func(c *github.Config) { c.AllowedTeams = []string{"devs", "ops"} }, teamCalls: 2},
		{name: "allowed teams but not in org", setup: []setup{team("devs")}, level: provisioner.LevelMember,
			cfg: func(c *github.Config) { c.AllowedTeams = []string{"devs"} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := githubtest.New(t)
			srv.AddUser("tok-alice", "alice", 42)
			for _, f := range tt.setup {
				f(srv)
			}
			p := newProvider(t, srv, tt.cfg)
			u, err := p.LoginToken(t.Context(), "tok-alice")
			if err != nil {
				t.Fatalf("LoginToken: %v", err)
			}
			if u.Login != "alice" || u.ID != 42 || u.Via != "pat" {
				t.Errorf("user = %+v, want alice/42 via pat", u)
			}
			if u.Level != tt.level || u.Org != tt.org || !slices.Equal(u.Teams, tt.teams) {
				t.Errorf("level, org, teams = %v, %q, %v; want %v, %q, %v", u.Level, u.Org, u.Teams, tt.level, tt.org, tt.teams)
			}
			calls := 0
			for _, team := range []string{"admins", "devs", "ops"} {
				calls += srv.Requests("/orgs/" + org + "/teams/" + team + "/memberships/alice")
			}
			if calls != tt.teamCalls {
				t.Errorf("team membership lookups = %d, want %d", calls, tt.teamCalls)
			}
		})
	}
}

func TestLoginTokenNoOrgSkipsMembership(t *testing.T) {
	srv := githubtest.New(t)
	srv.AddUser("tok", "bob", 7)
	p := newProvider(t, srv, func(c *github.Config) { c.Org, c.ActionsAudience = "", "" })
	if _, err := p.LoginToken(t.Context(), "tok"); err != nil {
		t.Fatal(err)
	}
	if n := srv.TotalRequests(); n != 1 {
		t.Errorf("requests = %d, want only GET /user", n)
	}
}

func TestLoginTokenBadTokens(t *testing.T) {
	srv := githubtest.New(t)
	srv.AddUser("tok", "alice", 42)
	p := newProvider(t, srv, nil)
	for _, tok := range []string{"", "   ", "tok\r\nX-Evil: 1", "tok en", "tök", strings.Repeat("a", 513)} {
		_, err := p.LoginToken(t.Context(), tok)
		wantCode(t, err, provisioner.EUNAUTHORIZED)
	}
	if n := srv.TotalRequests(); n != 0 {
		t.Errorf("malformed tokens reached GitHub: %d requests", n)
	}
	// Surrounding blanks (a pasted token) are forgiven.
	if _, err := p.LoginToken(t.Context(), " tok\n"); err != nil {
		t.Errorf("token with blanks: %v", err)
	}
	e := wantCode(t, func() error { _, err := p.LoginToken(t.Context(), "unknown"); return err }(), provisioner.EUNAUTHORIZED)
	if e.Message != "GitHub rejected the token" {
		t.Errorf("message = %q", e.Message)
	}
}

func TestLoginTokenRevoked(t *testing.T) {
	srv := githubtest.New(t)
	srv.AddUser("tok", "alice", 42)
	srv.SetOrgMembership("alice", org, "active", "member")
	p := newProvider(t, srv, nil)
	if _, err := p.LoginToken(t.Context(), "tok"); err != nil {
		t.Fatal(err)
	}
	srv.RevokeToken("tok")
	_, err := p.LoginToken(t.Context(), "tok")
	wantCode(t, err, provisioner.EUNAUTHORIZED)
}

func TestLoginTokenGitHubDown(t *testing.T) {
	srv := githubtest.New(t)
	srv.AddUser("tok", "alice", 42)
	p := newProvider(t, srv, nil)
	srv.Fail(http.StatusInternalServerError)
	_, err := p.LoginToken(t.Context(), "tok")
	if e := wantCode(t, err, provisioner.EUNAVAILABLE); e.Message != "GitHub is unreachable" {
		t.Errorf("message = %q", e.Message)
	}
	srv.Fail(http.StatusBadGateway)
	_, err = p.LoginToken(t.Context(), "tok")
	wantCode(t, err, provisioner.EUNAVAILABLE)

	srv.Fail(0)
	srv.Close()
	_, err = p.LoginToken(t.Context(), "tok")
	wantCode(t, err, provisioner.EUNAVAILABLE)
}

func TestLoginTokenSlowGitHub(t *testing.T) {
	srv := githubtest.New(t)
	srv.AddUser("tok", "alice", 42)
	srv.SetDelay(10 * time.Second)
	p := newProvider(t, srv, func(c *github.Config) { c.Timeout = 200 * time.Millisecond })
	start := time.Now()
	_, err := p.LoginToken(t.Context(), "tok")
	wantCode(t, err, provisioner.EUNAVAILABLE)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("LoginToken took %v with a 200ms timeout", d)
	}

	// The caller's own deadline is honoured too.
	p = newProvider(t, srv, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, err = p.LoginToken(ctx, "tok")
	wantCode(t, err, provisioner.EUNAVAILABLE)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("LoginToken took %v with a 100ms context", d)
	}
}

func TestLoginTokenRateLimited(t *testing.T) {
	srv := githubtest.New(t)
	srv.AddUser("tok", "alice", 42)
	p := newProvider(t, srv, nil)

	srv.RateLimit(time.Now().Add(90 * time.Second))
	_, err := p.LoginToken(t.Context(), "tok")
	e := wantCode(t, err, provisioner.ERATELIMITED)
	if e.RetryAfter < 80*time.Second || e.RetryAfter > 91*time.Second {
		t.Errorf("primary RetryAfter = %v, want about 90s", e.RetryAfter)
	}

	srv.RateLimit(time.Time{})
	srv.SecondaryRateLimit(30 * time.Second)
	_, err = p.LoginToken(t.Context(), "tok")
	e = wantCode(t, err, provisioner.ERATELIMITED)
	if e.RetryAfter != 30*time.Second {
		t.Errorf("secondary RetryAfter = %v, want 30s", e.RetryAfter)
	}

	srv.SecondaryRateLimit(0)
	if _, err := p.LoginToken(t.Context(), "tok"); err != nil {
		t.Errorf("after the rate limit: %v", err)
	}
}

func TestLoginTokenEnterprise(t *testing.T) {
	srv := githubtest.New(t)
	srv.AddUser("tok", "alice", 42)
	srv.SetOrgMembership("alice", org, "active", "member")
	srv.AddTeamMember(org, "admins", "alice")
	p := newProvider(t, srv, func(c *github.Config) {
		c.APIURL = srv.EnterpriseAPIURL() + "/" // a trailing slash is fine
		c.AdminTeam = "admins"
	})
	u, err := p.LoginToken(t.Context(), "tok")
	if err != nil {
		t.Fatal(err)
	}
	if u.Level != provisioner.LevelAdmin {
		t.Errorf("level = %v, want admin", u.Level)
	}
	for _, path := range []string{"/api/v3/user", "/api/v3/user/memberships/orgs/" + org, "/api/v3/orgs/" + org + "/teams/admins/memberships/alice"} {
		if n := srv.RawRequests(path); n != 1 {
			t.Errorf("requests to %s = %d, want 1", path, n)
		}
	}
	if n := srv.RawRequests("/user"); n != 0 {
		t.Errorf("requests outside /api/v3: %d", n)
	}
}

func TestLoginTokenConcurrent(t *testing.T) {
	srv := githubtest.New(t)
	srv.AddUser("tok-a", "alice", 1)
	srv.AddUser("tok-b", "bob", 2)
	srv.SetOrgMembership("alice", org, "active", "admin")
	p := newProvider(t, srv, func(c *github.Config) { c.AllowedTeams = []string{"devs"} })
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			tok, want := "tok-a", provisioner.LevelAdmin
			if i%2 == 1 {
				tok, want = "tok-b", provisioner.LevelMember
			}
			u, err := p.LoginToken(t.Context(), tok)
			if err != nil || u.Level != want {
				t.Errorf("LoginToken(%s) = %v, %v; want level %v", tok, u.Level, err, want)
			}
		})
	}
	wg.Wait()
}

func TestLoginTokenFailsHalfWay(t *testing.T) {
	const membership = "/user/memberships/orgs/" + org
	const adminTeam = "/orgs/" + org + "/teams/admins/memberships/alice"
	for _, tt := range []struct {
		path   string
		status int
		code   string // "" for success
		level  provisioner.Level
	}{
		{"/user", http.StatusForbidden, provisioner.EUNAUTHORIZED, 0},
		{"/user", http.StatusNotFound, provisioner.EUNAVAILABLE, 0},
		{membership, http.StatusInternalServerError, provisioner.EUNAVAILABLE, 0},
		{membership, http.StatusForbidden, "", provisioner.LevelMember}, // token without read:org, or SSO
		{membership, http.StatusUnauthorized, provisioner.EUNAUTHORIZED, 0},
		{membership, http.StatusTeapot, provisioner.EUNAVAILABLE, 0},
		{adminTeam, http.StatusBadGateway, provisioner.EUNAVAILABLE, 0},
		{adminTeam, http.StatusForbidden, "", provisioner.LevelOrgMember},
	} {
		t.Run(fmt.Sprint(tt.path, tt.status), func(t *testing.T) {
			srv := githubtest.New(t)
			srv.AddUser("tok", "alice", 42)
			srv.SetOrgMembership("alice", org, "active", "member")
			srv.AddTeamMember(org, "admins", "alice")
			srv.FailPath(tt.path, tt.status)
			p := newProvider(t, srv, func(c *github.Config) { c.AdminTeam = "admins" })
			u, err := p.LoginToken(t.Context(), "tok")
			if tt.code != "" {
				wantCode(t, err, tt.code)
				return
			}
			if err != nil || u.Level != tt.level {
				t.Errorf("LoginToken = %v, %v; want level %v", u.Level, err, tt.level)
			}
		})
	}
}

// TestLoginTokenCache: with a login cache a repeated PAT login asks GitHub
// nothing until the entry expires; other tokens and bad tokens are not
// served from it.
func TestLoginTokenCache(t *testing.T) {
	srv := githubtest.New(t)
	srv.AddUser("tok", "alice", 42)
	srv.SetOrgMembership("alice", org, "active", "member")
	srv.AddUser("tok2", "bob", 43)
	p := newProvider(t, srv, func(c *github.Config) { c.LoginCache = 150 * time.Millisecond })
	for range 3 {
		u, err := p.LoginToken(t.Context(), "tok")
		if err != nil || u.Login != "alice" || u.Level != provisioner.LevelOrgMember {
			t.Fatalf("login: %+v %v", u, err)
		}
	}
	if n := srv.TotalRequests(); n != 2 {
		t.Errorf("three logins made %d requests to GitHub, want 2 (one login, at once)", n)
	}
	if u, err := p.LoginToken(t.Context(), "tok2"); err != nil || u.Login != "bob" {
		t.Fatalf("another token: %+v %v", u, err)
	}
	_, err := p.LoginToken(t.Context(), "tok-unknown")
	wantCode(t, err, provisioner.EUNAUTHORIZED)
	// Past the cache, a revoked token is refused.
	srv.RevokeToken("tok")
	time.Sleep(200 * time.Millisecond)
	_, err = p.LoginToken(t.Context(), "tok")
	wantCode(t, err, provisioner.EUNAUTHORIZED)
	if _, err := github.New(github.Config{LoginCache: time.Hour}); err == nil {
		t.Error("an hour-long login cache was accepted")
	}
}

// TestLoginTokenAdminDespiteTeamFailure: an admin team member logs in as
// admin though an allowed team's lookup fails at the same time; a member
// of no admin team gets the failure.
func TestLoginTokenAdminDespiteTeamFailure(t *testing.T) {
	srv := githubtest.New(t)
	srv.AddUser("tok", "alice", 42)
	srv.SetOrgMembership("alice", org, "active", "member")
	srv.AddTeamMember(org, "admins", "alice")
	srv.AddUser("tok2", "bob", 43)
	srv.SetOrgMembership("bob", org, "active", "member")
	srv.FailPath("/orgs/"+org+"/teams/devs/memberships/alice", 502)
	srv.FailPath("/orgs/"+org+"/teams/devs/memberships/bob", 502)
	p := newProvider(t, srv, func(c *github.Config) { c.AdminTeam, c.AllowedTeams = "admins", []string{"devs"} })
	if u, err := p.LoginToken(t.Context(), "tok"); err != nil || u.Level != provisioner.LevelAdmin {
		t.Fatalf("admin with a failing allowed team: %+v %v", u, err)
	}
	_, err := p.LoginToken(t.Context(), "tok2")
	wantCode(t, err, provisioner.EUNAVAILABLE)
}
