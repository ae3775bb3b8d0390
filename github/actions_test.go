package github_test

import (
	"encoding/base64"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"provisioner"
	"provisioner/github"
	"provisioner/github/githubtest"
)

const (
	repo        = org + "/sliderule"
	nightlyRef  = repo + "/.github/workflows/nightly.yml@refs/heads/main"
	discoveryP  = "/_services/token/.well-known/openid-configuration"
	jwksP       = "/_services/token/.well-known/jwks"
	nightlyFile = "nightly.yml"
)

func actionsProvider(t *testing.T, srv *githubtest.Server, edit func(*github.Config)) *github.Provider {
	t.Helper()
	return newProvider(t, srv, func(c *github.Config) {
		c.ActionsRules = []github.ActionsRule{{Repository: repo, Workflow: nightlyRef, Level: provisioner.LevelAdmin}}
		if edit != nil {
			edit(c)
		}
	})
}

func claims(ref, workflow string, edits map[string]any) map[string]any {
	c := githubtest.ActionsClaims(audience, repo, ref, workflow)
	for k, v := range edits {
		c[k] = v
	}
	return c
}

func TestLoginActionsGood(t *testing.T) {
	srv := githubtest.New(t)
	p := actionsProvider(t, srv, nil)

	u, err := p.LoginActions(t.Context(), srv.IssueActionsToken(claims("refs/heads/main", "ci.yml", nil)))
	if err != nil {
		t.Fatalf("LoginActions: %v", err)
	}
	want := provisioner.User{Login: "actions:" + repo, ID: 123456789, Level: provisioner.LevelMember, Org: org, Via: "actions"}
	if u.Login != want.Login || u.ID != want.ID || u.Level != want.Level || u.Org != want.Org || u.Via != want.Via {
		t.Errorf("user = %+v, want %+v", u, want)
	}

	u, err = p.LoginActions(t.Context(), srv.IssueActionsToken(claims("refs/heads/main", nightlyFile, nil)))
	if err != nil || u.Level != provisioner.LevelAdmin {
		t.Errorf("nightly on main = %v, %v; want admin", u.Level, err)
	}
	// The same workflow on another branch matches no rule.
	u, err = p.LoginActions(t.Context(), srv.IssueActionsToken(claims("refs/heads/dev", nightlyFile, nil)))
	if err != nil || u.Level != provisioner.LevelMember {
		t.Errorf("nightly on dev = %v, %v; want member", u.Level, err)
	}
	// repository_id as a JSON number, or missing.
	u, _ = p.LoginActions(t.Context(), srv.IssueActionsToken(claims("refs/heads/main", "ci.yml", map[string]any{"repository_id": 77})))
	if u.ID != 77 {
		t.Errorf("numeric repository_id: ID = %d", u.ID)
	}
	u, _ = p.LoginActions(t.Context(), srv.IssueActionsToken(claims("refs/heads/main", "ci.yml", map[string]any{"repository_id": nil})))
	if u.ID != 0 || u.Login != "actions:"+repo {
		t.Errorf("no repository_id: %+v", u)
	}

	// Discovery and the JWKS are fetched once and cached.
	if d, k := srv.Requests(discoveryP), srv.Requests(jwksP); d != 1 || k != 1 {
		t.Errorf("discovery, JWKS requests = %d, %d; want 1, 1", d, k)
	}
}

func TestLoginActionsRefused(t *testing.T) {
	srv := githubtest.New(t)
	other := githubtest.New(t)
	p := actionsProvider(t, srv, nil)
	good := claims("refs/heads/main", nightlyFile, nil)
	hour := time.Hour
	tests := []struct {
		name  string
		token string
		code  string
		msg   string
	}{
		{"wrong audience", srv.IssueActionsToken(claims("refs/heads/main", nightlyFile, map[string]any{"aud": "someone-else"})), provisioner.EUNAUTHORIZED, "audience"},
		{"audience as a prefix", srv.IssueActionsToken(claims("refs/heads/main", nightlyFile, map[string]any{"aud": audience + "x"})), provisioner.EUNAUTHORIZED, "audience"},
		{"no audience", srv.IssueActionsToken(claims("refs/heads/main", nightlyFile, map[string]any{"aud": nil})), provisioner.EUNAUTHORIZED, ""},
		{"wrong owner", srv.IssueActionsToken(githubtest.ActionsClaims(audience, "evil/sliderule", "refs/heads/main", nightlyFile)), provisioner.EFORBIDDEN, "evil"},
		{"owner claim missing", srv.IssueActionsToken(claims("refs/heads/main", nightlyFile, map[string]any{"repository_owner": nil})), provisioner.EFORBIDDEN, ""},
		{"repository of another owner", srv.IssueActionsToken(claims("refs/heads/main", nightlyFile, map[string]any{"repository": "evil/sliderule"})), provisioner.EUNAUTHORIZED, "repository"},
		{"expired", srv.IssueActionsToken(claims("refs/heads/main", nightlyFile, map[string]any{"exp": time.Now().Add(-hour).Unix(), "iat": time.Now().Add(-2 * hour).Unix()})), provisioner.EUNAUTHORIZED, "expired"},
		{"no exp", srv.IssueActionsToken(claims("refs/heads/main", nightlyFile, map[string]any{"exp": nil})), provisioner.EUNAUTHORIZED, ""},
		{"not yet valid", srv.IssueActionsToken(claims("refs/heads/main", nightlyFile, map[string]any{"nbf": time.Now().Add(hour).Unix()})), provisioner.EUNAUTHORIZED, ""},
		{"forged signature", srv.ForgeActionsToken(good), provisioner.EUNAUTHORIZED, ""},
		{"wrong issuer", srv.IssueActionsToken(claims("refs/heads/main", nightlyFile, map[string]any{"iss": "https://token.actions.example"})), provisioner.EUNAUTHORIZED, "issuer"},
		{"another issuer's token", other.IssueActionsToken(good), provisioner.EUNAUTHORIZED, "issuer"},
		{"alg none", unsigned(srv, good), provisioner.EUNAUTHORIZED, ""},
		{"HS256", hs256(srv, good), provisioner.EUNAUTHORIZED, ""},
		{"garbage", "not.a.jwt", provisioner.EUNAUTHORIZED, ""},
		{"empty", "", provisioner.EUNAUTHORIZED, ""},
		{"huge", strings.Repeat("a", 20000), provisioner.EUNAUTHORIZED, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := p.LoginActions(t.Context(), tt.token)
			e := wantCode(t, err, tt.code)
			if !strings.Contains(e.Message, tt.msg) {
				t.Errorf("message %q does not mention %q", e.Message, tt.msg)
			}
		})
	}
}

// unsigned returns the claims as an "alg: none" token.
func unsigned(srv *githubtest.Server, c map[string]any) string {
	tok := srv.IssueActionsToken(c)
	parts := strings.Split(tok, ".")
	hdr := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT","kid":"` + githubtest.KeyID + `"}`))
	return hdr + "." + parts[1] + "."
}

// hs256 re-labels a token as HS256, the key-confusion attack.
func hs256(srv *githubtest.Server, c map[string]any) string {
	tok := srv.IssueActionsToken(c)
	parts := strings.Split(tok, ".")
	hdr := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT","kid":"` + githubtest.KeyID + `"}`))
	return hdr + "." + parts[1] + "." + parts[2]
}

func TestLoginActionsNotConfigured(t *testing.T) {
	srv := githubtest.New(t)
	p := newProvider(t, srv, func(c *github.Config) { c.ActionsAudience = "" })
	_, err := p.LoginActions(t.Context(), srv.IssueActionsToken(claims("refs/heads/main", nightlyFile, nil)))
	if e := wantCode(t, err, provisioner.EINVALID); !strings.Contains(e.Message, "--actions-audience") {
		t.Errorf("message = %q", e.Message)
	}
	if n := srv.TotalRequests(); n != 0 {
		t.Errorf("requests = %d, want none", n)
	}
}

func TestLoginActionsIssuerUnreachable(t *testing.T) {
	srv := githubtest.New(t)
	p := actionsProvider(t, srv, nil)
	tok := srv.IssueActionsToken(claims("refs/heads/main", nightlyFile, nil))

	srv.FailIssuer(http.StatusServiceUnavailable)
	_, err := p.LoginActions(t.Context(), tok)
	wantCode(t, err, provisioner.EUNAVAILABLE)

	// A failed discovery is retried on the next login.
	srv.FailIssuer(0)
	if _, err := p.LoginActions(t.Context(), tok); err != nil {
		t.Fatalf("after the issuer came back: %v", err)
	}
	if n := srv.Requests(discoveryP); n != 2 {
		t.Errorf("discovery requests = %d, want 2", n)
	}

	// Once the keys are cached, good tokens verify while the issuer is down.
	// A token the cached keys do not verify makes go-oidc refetch the JWKS:
	// that fails ("unavailable"), or, if it races with the previous fetch,
	// go-oidc reuses that fetch's keys ("unauthorized"). Never a success.
	srv.FailIssuer(http.StatusBadGateway)
	if _, err := p.LoginActions(t.Context(), tok); err != nil {
		t.Errorf("cached keys: %v", err)
	}
	_, err = p.LoginActions(t.Context(), srv.ForgeActionsToken(claims("refs/heads/main", nightlyFile, nil)))
	if c := provisioner.ErrorCode(err); c != provisioner.EUNAVAILABLE && c != provisioner.EUNAUTHORIZED {
		t.Errorf("forged token while the issuer is down: %v", err)
	}
}

func TestLoginActionsIssuerSlowOrGone(t *testing.T) {
	srv := githubtest.New(t)
	tok := srv.IssueActionsToken(claims("refs/heads/main", nightlyFile, nil))
	p := actionsProvider(t, srv, func(c *github.Config) { c.Timeout = 200 * time.Millisecond })
	srv.SetDelay(5 * time.Second)
	start := time.Now()
	_, err := p.LoginActions(t.Context(), tok)
	wantCode(t, err, provisioner.EUNAVAILABLE)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("LoginActions took %v with a 200ms timeout", d)
	}

	srv.SetDelay(0)
	srv.Close()
	_, err = p.LoginActions(t.Context(), tok)
	wantCode(t, err, provisioner.EUNAVAILABLE)
}

func TestLoginActionsConcurrentDiscovery(t *testing.T) {
	srv := githubtest.New(t)
	p := actionsProvider(t, srv, nil)
	tok := srv.IssueActionsToken(claims("refs/heads/main", nightlyFile, nil))
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if u, err := p.LoginActions(t.Context(), tok); err != nil || u.Level != provisioner.LevelAdmin {
				t.Errorf("LoginActions = %v, %v", u.Level, err)
			}
		})
	}
	wg.Wait()
	if n := srv.Requests(discoveryP); n != 1 {
		t.Errorf("discovery requests = %d, want 1", n)
	}
}

func TestLoginActionsJWKSDown(t *testing.T) {
	srv := githubtest.New(t)
	p := actionsProvider(t, srv, nil)
	srv.FailPath(jwksP, http.StatusServiceUnavailable)
	_, err := p.LoginActions(t.Context(), srv.IssueActionsToken(claims("refs/heads/main", nightlyFile, nil)))
	wantCode(t, err, provisioner.EUNAVAILABLE)
	srv.FailPath(jwksP, 0)
	if _, err := p.LoginActions(t.Context(), srv.IssueActionsToken(claims("refs/heads/main", nightlyFile, nil))); err != nil {
		t.Errorf("after the JWKS came back: %v", err)
	}
}
