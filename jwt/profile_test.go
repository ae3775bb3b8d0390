package jwt

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"provisioner"
	localkeys "provisioner/local/keyring"
	"provisioner/testkit"
)

// rawToken is a token's header and payload as JSON values, as a cluster's
// load balancer sees them.
func rawToken(t *testing.T, tok string) (header, payload map[string]json.RawMessage) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	for i, dst := range []*map[string]json.RawMessage{&header, &payload} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			t.Fatal(err)
		}
	}
	return header, payload
}

func jsonString(t *testing.T, raw json.RawMessage, name string) string {
	t.Helper()
	var s string
	if raw == nil || json.Unmarshal(raw, &s) != nil {
		t.Fatalf("%s is %s, want a JSON string", name, raw)
	}
	return s
}

func jsonList(t *testing.T, raw json.RawMessage, name string) []string {
	t.Helper()
	var l []string
	if len(raw) == 0 || raw[0] != '[' || json.Unmarshal(raw, &l) != nil {
		t.Fatalf("%s is %s, want a JSON list of strings", name, raw)
	}
	return l
}

func jsonInt(t *testing.T, raw json.RawMessage, name string) int64 {
	t.Helper()
	var n int64
	if raw == nil || json.Unmarshal(raw, &n) != nil {
		t.Fatalf("%s is %s, want a JSON integer", name, raw)
	}
	return n
}

// TestUserTokenWire: a jwt_user carries production's claims in production's
// JSON shapes, whatever the level: "aud" a list beginning with
// "provisioner", "org_roles" a list (never null), "org", "iat", "exp",
// "iss", "sub", and an RS256 header with typ and kid.
func TestUserTokenWire(t *testing.T) {
	ctx := context.Background()
	ring := keyring(t)
	kid, _, _ := ring.Current(ctx)
	toks := newTokens(ring, fixed(t0))
	for _, tc := range []struct {
		name  string
		user  provisioner.User
		aud   []string
		wAud  []string
		roles []string
	}{
		{"admin", provisioner.User{Login: "ada", ID: 1, Level: provisioner.LevelAdmin, Org: "SlideRuleEarth"},
			orgAudience, []string{"provisioner", "runner", "monitor", "*"}, []string{"owner", "member"}},
		{"org_member", alice, orgAudience, []string{"provisioner", "runner", "monitor", "*"}, []string{"member"}},
		{"member with public clusters", provisioner.User{Login: "mia", ID: 3, Level: provisioner.LevelMember},
			[]string{"pub1", "pub2", "pub1", "provisioner"}, []string{"provisioner", "pub1", "pub2"}, []string{}},
		{"member, no cluster", provisioner.User{Login: "mia", ID: 3, Level: provisioner.LevelMember},
			nil, []string{"provisioner"}, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, claims, err := toks.IssueUser(ctx, tc.user, tc.aud)
			if err != nil {
				t.Fatal(err)
			}
			h, p := rawToken(t, tok)
			if alg := jsonString(t, h["alg"], "alg"); alg != "RS256" {
				t.Errorf("alg %q", alg)
			}
			if typ := jsonString(t, h["typ"], "typ"); typ != "user+jwt" {
				t.Errorf("typ %q", typ)
			}
			if k := jsonString(t, h["kid"], "kid"); k != kid {
				t.Errorf("kid %q, want %q", k, kid)
			}
			aud := jsonList(t, p["aud"], "aud")
			if strings.Join(aud, " ") != strings.Join(tc.wAud, " ") || aud[0] != "provisioner" {
				t.Errorf("aud %q, want %q", aud, tc.wAud)
			}
			// org_roles is a list even when empty: the load balancer copies
			// it into x-sliderule-org-roles.
			if string(p["org_roles"]) == "null" {
				t.Error("org_roles is null")
			}
			if roles := jsonList(t, p["org_roles"], "org_roles"); strings.Join(roles, " ") != strings.Join(tc.roles, " ") {
				t.Errorf("org_roles %q, want %q", roles, tc.roles)
			}
			if sub := jsonString(t, p["sub"], "sub"); sub != tc.user.Login {
				t.Errorf("sub %q", sub)
			}
			if iss := jsonString(t, p["iss"], "iss"); iss != issuer {
				t.Errorf("iss %q", iss)
			}
			if org := tc.user.Org; org != "" {
				if got := jsonString(t, p["org"], "org"); got != org {
					t.Errorf("org %q", got)
				}
			}
			if iat := jsonInt(t, p["iat"], "iat"); iat != t0.Unix() {
				t.Errorf("iat %d", iat)
			}
			if exp := jsonInt(t, p["exp"], "exp"); exp != t0.Add(24*time.Hour).Unix() {
				t.Errorf("exp %d, want iat + 24h (production's login lifetime)", exp)
			}
			// What was issued is what verifies.
			got, err := toks.VerifyUser(ctx, tok)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got.Audience, " ") != strings.Join(tc.wAud, " ") || got.OrgRoles == nil ||
				strings.Join(got.OrgRoles, " ") != strings.Join(claims.OrgRoles, " ") {
				t.Errorf("verified %+v, issued %+v", got, claims)
			}
		})
	}
}

// TestOrgRolesOfEveryLevel is provisioner.OrgRoles, production's roles.
func TestOrgRolesOfEveryLevel(t *testing.T) {
	for level, want := range map[provisioner.Level]string{
		provisioner.LevelAnonymous: "[]",
		provisioner.LevelMember:    "[]",
		provisioner.LevelOrgMember: `["member"]`,
		provisioner.LevelAdmin:     `["owner","member"]`,
	} {
		b, _ := json.Marshal(provisioner.OrgRoles(provisioner.User{Login: "x", Level: level}))
		if string(b) != want {
			t.Errorf("%s: org_roles %s, want %s", level, b, want)
		}
	}
}

// TestClusterTokenWire: a jwt_cluster's "aud" is one string, the cluster.
func TestClusterTokenWire(t *testing.T) {
	ctx := context.Background()
	ring := keyring(t)
	kid, _, _ := ring.Current(ctx)
	tok, _, err := newTokens(ring, fixed(t0)).IssueCluster(ctx, alice, "demo")
	if err != nil {
		t.Fatal(err)
	}
	h, p := rawToken(t, tok)
	if jsonString(t, h["alg"], "alg") != "RS256" || jsonString(t, h["typ"], "typ") != "cluster+jwt" || jsonString(t, h["kid"], "kid") != kid {
		t.Errorf("header %s %s %s", h["alg"], h["typ"], h["kid"])
	}
	if aud := jsonString(t, p["aud"], "aud"); aud != "demo" {
		t.Errorf("aud %q, want \"demo\"", aud)
	}
	if roles := jsonList(t, p["org_roles"], "org_roles"); strings.Join(roles, " ") != "member" {
		t.Errorf("org_roles %q", roles)
	}
	if exp := jsonInt(t, p["exp"], "exp"); exp != t0.Add(DefaultClusterTTL).Unix() {
		t.Errorf("exp %d", exp)
	}
}

// TestVerifyClusterAudiences is VerifyCluster over issued tokens: what
// reaches a cluster, matched by element and never by substring.
func TestVerifyClusterAudiences(t *testing.T) {
	ctx := context.Background()
	toks := newTokens(rsSigner(t), fixed(t0))
	mia := provisioner.User{Login: "mia", ID: 3, Level: provisioner.LevelMember}
	issueUser := func(u provisioner.User, aud ...string) string {
		tok, _, err := toks.IssueUser(ctx, u, aud)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	issueCluster := func(cluster string) string {
		tok, _, err := toks.IssueCluster(ctx, alice, cluster)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	all := issueUser(alice, orgAudience...)
	demo := issueUser(mia, "demo")
	none := issueUser(mia)
	cDemo := issueCluster("demo")
	for _, tc := range []struct {
		name, token, cluster, code, typ string
	}{
		{"jwt_cluster for the cluster", cDemo, "demo", "", provisioner.TypeClusterToken},
		{"jwt_cluster for another cluster", cDemo, "demo2", provisioner.EFORBIDDEN, ""},
		{"jwt_cluster for demo on dem", cDemo, "dem", provisioner.EFORBIDDEN, ""},
		{"jwt_user with * on demo", all, "demo", "", provisioner.TypeUserToken},
		{"jwt_user with * on another", all, "zeta-9", "", provisioner.TypeUserToken},
		{"jwt_user naming demo on demo", demo, "demo", "", provisioner.TypeUserToken},
		{"jwt_user naming demo on demo2", demo, "demo2", provisioner.EFORBIDDEN, ""},
		{"jwt_user naming demo on dem", demo, "dem", provisioner.EFORBIDDEN, ""},
		{"jwt_user naming demo on emo", demo, "emo", provisioner.EFORBIDDEN, ""},
		{"jwt_user without clusters", none, "demo", provisioner.EFORBIDDEN, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := toks.VerifyCluster(ctx, tc.token, tc.cluster)
			if tc.code != "" {
				wantErr(t, err, tc.code, "token is not for cluster "+tc.cluster)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Type != tc.typ || !c.Reaches(tc.cluster) {
				t.Errorf("claims %+v", c)
			}
		})
	}

	// Forged shapes the issuer never makes.
	_, _, rs := verifier(t)
	listCluster := forge(hdr("typ", "cluster+jwt"), with(goodClaims(), "aud", []string{"demo"}), signWith(rs))
	stringUser := forge(hdr(), with(goodClaims(), "aud", "demo"), signWith(rs))
	stringUserAll := forge(hdr(), with(goodClaims(), "aud", "*"), signWith(rs))
	for name, tok := range map[string]string{
		"jwt_cluster whose aud is a list":    listCluster,
		"jwt_user whose aud is a string":     stringUser,
		"jwt_user whose aud is string \"*\"": stringUserAll,
	} {
		_, err := toks.VerifyCluster(ctx, tok, "demo")
		if provisioner.ErrorCode(err) != provisioner.EUNAUTHORIZED {
			t.Errorf("%s: %v, want %s", name, err, provisioner.EUNAUTHORIZED)
		}
	}
}

// TestClusterTokenReuse: IssueCluster hands out the same jwt_cluster while
// more than half its lifetime is left, for the same user, cluster and key.
func TestClusterTokenReuse(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ring, err := localkeys.Open(localkeys.Config{Dir: dir, CheckInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	clk := testkit.NewClock(t0)
	toks := New(Config{Issuer: issuer, Signer: ring, Now: clk.Now, ClusterTTL: time.Hour})
	issue := func(u provisioner.User, cluster string) (string, provisioner.Claims) {
		t.Helper()
		tok, c, err := toks.IssueCluster(ctx, u, cluster)
		if err != nil {
			t.Fatal(err)
		}
		return tok, c
	}

	first, fc := issue(alice, "demo")
	again, ac := issue(alice, "demo")
	if again != first || ac.ID != fc.ID || !ac.ExpiresAt.Equal(fc.ExpiresAt) {
		t.Fatalf("second IssueCluster gave a new token")
	}

	// Other users, levels, organizations and clusters get tokens of their own.
	for name, u := range map[string]provisioner.User{
		"another user":  {Login: "bob", ID: 43, Level: provisioner.LevelOrgMember, Org: alice.Org},
		"another level": {Login: alice.Login, ID: alice.ID, Level: provisioner.LevelAdmin, Org: alice.Org},
		"another uid":   {Login: alice.Login, ID: 99, Level: alice.Level, Org: alice.Org},
		"another org":   {Login: alice.Login, ID: alice.ID, Level: alice.Level, Org: "Elsewhere"},
	} {
		tok, c := issue(u, "demo")
		if tok == first || c.Subject != u.Login || c.Level != u.Level {
			t.Errorf("%s: got alice's token or wrong claims %+v", name, c)
		}
		if again, _ := issue(u, "demo"); again != tok {
			t.Errorf("%s: not reused in turn", name)
		}
	}
	if tok, c := issue(alice, "demo2"); tok == first || c.Audience[0] != "demo2" {
		t.Errorf("another cluster: %+v", c)
	}

	// Reused until half the lifetime has passed, then a new one.
	clk.Set(t0.Add(29 * time.Minute))
	if tok, _ := issue(alice, "demo"); tok != first {
		t.Error("not reused with more than half its lifetime left")
	}
	clk.Set(t0.Add(30*time.Minute + time.Second))
	half, hc := issue(alice, "demo")
	if half == first || !hc.IssuedAt.Equal(clk.Now()) || !hc.ExpiresAt.Equal(clk.Now().Add(time.Hour)) {
		t.Fatalf("after half the lifetime: same token or wrong times %+v", hc)
	}
	if tok, _ := issue(alice, "demo"); tok != half {
		t.Error("the new token is not reused in turn")
	}

	// A rotation (here by another process) gives a token of the new key.
	if _, err := localkeys.Rotate(localkeys.Config{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	rotated, _ := issue(alice, "demo")
	if rotated == half {
		t.Fatal("reused a token of the retired key after rotation")
	}
	hOld, _ := decode(t, half)
	hNew, _ := decode(t, rotated)
	newKid, _, _ := ring.Current(ctx)
	if hNew["kid"] != newKid || hOld["kid"] == newKid {
		t.Errorf("kid %v after rotation, want %v", hNew["kid"], newKid)
	}
	if tok, _ := issue(alice, "demo"); tok != rotated {
		t.Error("the new key's token is not reused")
	}

	// Forget drops the user's tokens, and only that user's.
	bob := provisioner.User{Login: "bob", ID: 43, Level: provisioner.LevelOrgMember, Org: alice.Org}
	al := provisioner.User{Login: "al", ID: 44, Level: provisioner.LevelOrgMember}
	bobTok, _ := issue(bob, "demo")
	alTok, _ := issue(al, "demo")
	toks.Forget("alice")
	if tok, _ := issue(alice, "demo"); tok == rotated {
		t.Error("Forget kept alice's token")
	}
	if tok, _ := issue(bob, "demo"); tok != bobTok {
		t.Error("Forget(alice) dropped bob's token")
	}
	if tok, _ := issue(al, "demo"); tok != alTok {
		t.Error("Forget(alice) dropped the token of al, whose login is a prefix of hers")
	}
	toks.Forget("al")
	if tok, _ := issue(al, "demo"); tok == alTok {
		t.Error("Forget(al) kept al's token")
	}

	// Every reused token still verifies, as itself.
	c, err := toks.VerifyCluster(ctx, rotated, "demo")
	if err != nil || c.Subject != "alice" {
		t.Fatalf("reused token: %+v, %v", c, err)
	}
}

// TestClusterTokenReuseCopies: the claims of a reused token are the
// caller's to change.
func TestClusterTokenReuseCopies(t *testing.T) {
	ctx := context.Background()
	toks := newTokens(rsSigner(t), fixed(t0))
	_, c1, err := toks.IssueCluster(ctx, alice, "demo")
	if err != nil {
		t.Fatal(err)
	}
	c1.Audience[0], c1.OrgRoles[0] = "evil", "owner"
	_, c2, _ := toks.IssueCluster(ctx, alice, "demo")
	c2.Audience[0] = "evil2"
	_, c3, _ := toks.IssueCluster(ctx, alice, "demo")
	if c3.Audience[0] != "demo" || c3.OrgRoles[0] != "member" {
		t.Errorf("cached claims were changed through a returned copy: %+v", c3)
	}
}

// countingSigner counts signatures and holds each until released, so
// requests can be made to arrive while one is in flight.
type countingSigner struct {
	provisioner.Signer
	n       atomic.Int32
	release chan struct{}
}

func (s *countingSigner) Sign(ctx context.Context, in []byte) ([]byte, string, string, error) {
	s.n.Add(1)
	<-s.release
	return s.Signer.Sign(ctx, in)
}

// TestClusterTokenOneSignature: requests for the same (user, cluster, key)
// that miss the reuse cache at once share one signature and one token.
func TestClusterTokenOneSignature(t *testing.T) {
	ring, err := localkeys.Open(localkeys.Config{Dir: t.TempDir(), CheckInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	s := &countingSigner{Signer: ring, release: make(chan struct{})}
	toks := New(Config{Issuer: issuer, Signer: s, ClusterTTL: time.Hour})
	const n = 8
	got := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			tok, _, err := toks.IssueCluster(t.Context(), alice, "demo")
			if err != nil {
				t.Error(err)
			}
			got[i] = tok
		})
	}
	for s.n.Load() == 0 {
		runtime.Gosched()
	}
	time.Sleep(50 * time.Millisecond) // let the others arrive while it signs
	close(s.release)
	wg.Wait()
	if c := s.n.Load(); c != 1 {
		t.Fatalf("%d signatures for %d requests at once, want 1", c, n)
	}
	for _, tok := range got {
		if tok != got[0] {
			t.Fatal("requests at once got different tokens")
		}
	}
}
