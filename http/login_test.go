package http_test

import (
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"provisioner"
	"provisioner/app"
	"provisioner/github/githubtest"
	phttp "provisioner/http"
)

func TestLoginPATLevels(t *testing.T) {
	e := newEnv(t)
	e.register("pub1", true)
	e.register("priv1", false)
	orgAud := []string{"provisioner", "runner", "monitor", "*"}
	for _, tc := range []struct {
		pat, login, level, org string
		aud, roles             []string
	}{
		{"tok-member", "mia", "member", "", []string{"provisioner", "pub1"}, []string{}},
		{"tok-pending", "pat", "member", "", []string{"provisioner", "pub1"}, []string{}},
		{"tok-org", "otto", "org_member", org, orgAud, []string{"member"}},
		{"tok-admin", "ada", "admin", org, orgAud, []string{"owner", "member"}},
	} {
		r := e.do("POST", "/auth/github/pat", "", map[string]string{"pat": tc.pat})
		if r.status != 200 || r.str("status") != "success" {
			t.Fatalf("%s: %d %s", tc.pat, r.status, r.raw)
		}
		md, _ := r.body["metadata"].(map[string]any)
		if md["sub"] != tc.login || md["level"] != tc.level || (tc.org != "" && md["org"] != tc.org) {
			t.Errorf("%s: metadata %v", tc.pat, md)
		}
		// The Python client plans its refresh from metadata.exp in Unix seconds.
		exp, _ := md["exp"].(float64)
		if d := time.Until(time.Unix(int64(exp), 0)); d < 23*time.Hour || d > 25*time.Hour {
			t.Errorf("%s: exp %v is not ~24h away", tc.pat, d)
		}
		// Production's metadata: aud and org_roles are lists, never null.
		if got := strList(md["aud"]); !slices.Equal(got, tc.aud) {
			t.Errorf("%s: metadata aud %v, want %v", tc.pat, md["aud"], tc.aud)
		}
		if got := strList(md["org_roles"]); !slices.Equal(got, tc.roles) {
			t.Errorf("%s: metadata org_roles %v, want %v", tc.pat, md["org_roles"], tc.roles)
		}
		claims, err := e.tokens.VerifyUser(t.Context(), r.str("token"))
		if err != nil || claims.Subject != tc.login || !slices.Equal(claims.Audience, tc.aud) || !slices.Equal(claims.OrgRoles, tc.roles) {
			t.Errorf("%s: token does not verify: %v %+v", tc.pat, err, claims)
		}
		// At a cluster: members reach the public clusters that existed at
		// login; organization members and admins every cluster.
		for cluster, ok := range map[string]bool{"pub1": true, "priv1": tc.level != "member", "later": tc.level != "member"} {
			_, err := e.tokens.VerifyCluster(t.Context(), r.str("token"), cluster)
			if ok && err != nil || !ok && provisioner.ErrorCode(err) != provisioner.EFORBIDDEN {
				t.Errorf("%s: jwt_user at %s: %v", tc.pat, cluster, err)
			}
		}
	}
}

// strList is a JSON list of strings, or nil if v is anything else (null
// included).
func strList(v any) []string {
	l, ok := v.([]any)
	if !ok {
		return nil
	}
	out := []string{}
	for _, x := range l {
		s, ok := x.(string)
		if !ok {
			return nil
		}
		out = append(out, s)
	}
	return out
}

func TestLoginPATFailures(t *testing.T) {
	e := newEnv(t)
	wantError(t, e.do("POST", "/auth/github/pat", "", map[string]string{"pat": "nope"}), 401, provisioner.EUNAUTHORIZED)

	e.gh.RevokeToken("tok-member")
	r := e.do("POST", "/auth/github/pat", "", map[string]string{"pat": "tok-member"})
	wantError(t, r, 401, provisioner.EUNAUTHORIZED)
	if r.header.Get("WWW-Authenticate") == "" {
		t.Error("401 without WWW-Authenticate")
	}

	e.gh.Fail(http.StatusInternalServerError)
	wantError(t, e.do("POST", "/auth/github/pat", "", map[string]string{"pat": "tok-admin"}), 503, provisioner.EUNAVAILABLE)
	e.gh.Fail(0)

	e.gh.RateLimit(time.Now().Add(90 * time.Second))
	r = e.do("POST", "/auth/github/pat", "", map[string]string{"pat": "tok-admin"})
	wantError(t, r, 429, provisioner.ERATELIMITED)
	if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 || s > 91 {
		t.Errorf("Retry-After = %q", r.header.Get("Retry-After"))
	}
	e.gh.RateLimit(time.Time{})

	// A slow GitHub is cut off by the provider's timeout (2s here): 503, no hang.
	e.gh.SetDelay(5 * time.Second)
	start := time.Now()
	wantError(t, e.do("POST", "/auth/github/pat", "", map[string]string{"pat": "tok-admin"}), 503, provisioner.EUNAVAILABLE)
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("slow GitHub held the request for %v", d)
	}
	e.gh.SetDelay(0)
}

func TestLoginGitHubUnreachable(t *testing.T) {
	e := newEnv(t)
	e.gh.Close()
	wantError(t, e.do("POST", "/auth/github/pat", "", map[string]string{"pat": "tok-admin"}), 503, provisioner.EUNAVAILABLE)
}

func TestDeviceFlow(t *testing.T) {
	clk := newClock()
	e := newEnv(t, func(c *app.Config, _ *phttp.Config) { c.Now = clk.Now })
	e.gh.AddDevice("dev-1", "ABCD-1234")
	r := e.do("POST", "/auth/github/device", "", nil)
	if r.status != 200 || r.str("device_code") != "dev-1" || r.str("user_code") != "ABCD-1234" || r.str("verification_uri") == "" {
		t.Fatalf("start: %d %s", r.status, r.raw)
	}
	poll := func() resp {
		return e.do("POST", "/auth/github/device/poll", "", map[string]string{"device_code": "dev-1"})
	}
	r = poll()
	if r.status != 202 || r.str("status") != "pending" || r.str("error") != provisioner.EPENDING {
		t.Fatalf("pending: %d %s", r.status, r.raw)
	}
	first := r.body["interval"].(float64)
	e.gh.SlowDownDevice("dev-1")
	clk.Add(time.Duration(first) * time.Second) // as the client waits
	r = poll()
	if r.status != 202 || r.str("error") != provisioner.ESLOWDOWN || r.body["interval"].(float64) <= first {
		t.Fatalf("slow_down must raise the interval above %v: %d %s", first, r.status, r.raw)
	}
	e.gh.ApproveDevice("dev-1", "tok-admin")
	clk.Add(time.Duration(r.body["interval"].(float64)) * time.Second)
	r = poll()
	if r.status != 200 || r.str("token") == "" {
		t.Fatalf("approved: %d %s", r.status, r.raw)
	}
	if md := r.body["metadata"].(map[string]any); md["level"] != "admin" || md["sub"] != "ada" {
		t.Errorf("approved metadata %v", md)
	}

	e.gh.AddDevice("dev-2", "EFGH-5678")
	e.do("POST", "/auth/github/device", "", nil)
	e.gh.ExpireDevice("dev-2")
	// Terminal errors: status "error" (the released client logs the error)
	// after the device pace (its re-poll on an error is immediate).
	terminal := func(code string, status int) {
		t.Helper()
		start := time.Now()
		r := e.do("POST", "/auth/github/device/poll", "", map[string]string{"device_code": code})
		if r.status != status || r.str("status") != "error" || r.str("error_description") == "" || time.Since(start) < testDevicePace {
			t.Fatalf("terminal poll of %s: %d %s after %s", code, r.status, r.raw, time.Since(start))
		}
	}
	terminal("dev-2", 400)

	e.gh.AddDevice("dev-3", "IJKL-9012")
	e.do("POST", "/auth/github/device", "", nil)
	e.gh.DenyDevice("dev-3")
	terminal("dev-3", 403)

	wantError(t, e.do("POST", "/auth/github/device/poll", "", map[string]string{"device_code": ""}), 400, provisioner.EINVALID)
}

func TestActionsLogin(t *testing.T) {
	e := newEnv(t)
	login := func(claims map[string]any, forged bool) resp {
		tok := e.gh.IssueActionsToken(claims)
		if forged {
			tok = e.gh.ForgeActionsToken(claims)
		}
		return e.do("POST", "/auth/github/actions", "", map[string]string{"token": tok})
	}
	level := func(r resp) any { return r.body["metadata"].(map[string]any)["level"] }

	r := login(githubtest.ActionsClaims(audience, "sliderule/sliderule", "refs/heads/main", nightly), false)
	if r.status != 200 || level(r) != "admin" {
		t.Fatalf("nightly on main: %d %s", r.status, r.raw)
	}
	r = login(githubtest.ActionsClaims(audience, "sliderule/sliderule", "refs/heads/feature", nightly), false)
	if r.status != 200 || level(r) != "member" {
		t.Fatalf("nightly on a branch must stay member: %d %s", r.status, r.raw)
	}
	wantError(t, login(githubtest.ActionsClaims("someone-else", "sliderule/sliderule", "refs/heads/main", nightly), false), 401, provisioner.EUNAUTHORIZED)
	wantError(t, login(githubtest.ActionsClaims(audience, "evil/sliderule", "refs/heads/main", nightly), false), 403, provisioner.EFORBIDDEN)
	wantError(t, login(githubtest.ActionsClaims(audience, "sliderule/sliderule", "refs/heads/main", nightly), true), 401, provisioner.EUNAUTHORIZED)
	wantError(t, e.do("POST", "/auth/github/actions", "", map[string]string{"token": "not.a.jwt"}), 401, provisioner.EUNAUTHORIZED)
}

func TestWhoami(t *testing.T) {
	e := newEnv(t)
	tok := e.login("tok-org")
	r := e.do("GET", "/auth/whoami", tok, nil)
	if r.status != 200 || r.body["metadata"].(map[string]any)["sub"] != "otto" {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	wantError(t, e.do("GET", "/auth/whoami", "", nil), 401, provisioner.EUNAUTHORIZED)
}
