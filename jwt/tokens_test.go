package jwt

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"provisioner"
	localkeys "provisioner/local/keyring"
	"provisioner/testkit"
)

// decode returns the header and claims of a token as raw JSON maps.
func decode(t *testing.T, tok string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	for i, dst := range []*map[string]any{&header, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			t.Fatal(err)
		}
	}
	return header, claims
}

func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	signers := map[string]provisioner.Signer{
		"keyring": keyring(t),
		"RS256":   rsSigner(t),
	}
	for name, signer := range signers {
		t.Run(name, func(t *testing.T) {
			toks := newTokens(signer, fixed(t0))
			kid, alg, _ := signer.Current(ctx)
			if alg != AlgRS256 {
				t.Fatalf("signer algorithm %q", alg)
			}

			tok, issued, err := toks.IssueUser(ctx, alice, []string{"runner", "monitor", "*"})
			if err != nil {
				t.Fatal(err)
			}
			got, err := toks.VerifyUser(ctx, tok)
			if err != nil {
				t.Fatal(err)
			}
			want := provisioner.Claims{
				Type: provisioner.TypeUserToken, Subject: "alice", UID: 42, Level: provisioner.LevelOrgMember,
				Org: "SlideRuleEarth", OrgRoles: []string{"member"},
				Audience: []string{"provisioner", "runner", "monitor", "*"}, Issuer: issuer,
				IssuedAt: t0, NotBefore: t0, ExpiresAt: t0.Add(24 * time.Hour), ID: issued.ID,
			}
			if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(issued, want) {
				t.Errorf("claims\n got    %+v\n issued %+v\n want   %+v", got, issued, want)
			}
			if got.User().Login != "alice" || got.User().Level != provisioner.LevelOrgMember {
				t.Errorf("User() = %+v", got.User())
			}
			h, c := decode(t, tok)
			if h["typ"] != "user+jwt" || h["kid"] != kid || h["alg"] != "RS256" {
				t.Errorf("user header %v", h)
			}
			if c["level"] != "org_member" || c["uid"] != 42.0 {
				t.Errorf("user claims %v", c)
			}

			ctok, cissued, err := toks.IssueCluster(ctx, alice, "foo")
			if err != nil {
				t.Fatal(err)
			}
			cgot, err := toks.VerifyCluster(ctx, ctok, "foo")
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(cgot, cissued) || cgot.Type != provisioner.TypeClusterToken ||
				!slices.Equal(cgot.Audience, []string{"foo"}) || !cgot.ExpiresAt.Equal(t0.Add(DefaultClusterTTL)) {
				t.Errorf("cluster claims %+v, issued %+v", cgot, cissued)
			}
			h, c = decode(t, ctok)
			if h["typ"] != "cluster+jwt" || h["alg"] != "RS256" || c["aud"] != "foo" {
				t.Errorf("cluster token header %v claims %v: aud must be a single string", h, c)
			}
		})
	}
}

// TestES256SignerRefused: a signer still on ES256 (an old KMS key, say)
// issues nothing, rather than tokens no cluster could check.
func TestES256SignerRefused(t *testing.T) {
	ctx := context.Background()
	toks := newTokens(esSigner(t), fixed(t0))
	_, _, err := toks.IssueUser(ctx, alice, nil)
	wantErr(t, err, provisioner.EINTERNAL, `signer uses "ES256"; only RS256 is supported`)
	_, _, err = toks.IssueCluster(ctx, alice, "foo")
	wantErr(t, err, provisioner.EINTERNAL, `signer uses "ES256"; only RS256 is supported`)
}

func TestTokenIDs(t *testing.T) {
	toks := newTokens(rsSigner(t), fixed(t0))
	seen := map[string]bool{}
	for range 100 {
		_, c, err := toks.IssueUser(context.Background(), alice, nil)
		if err != nil {
			t.Fatal(err)
		}
		if b, err := base64.RawURLEncoding.DecodeString(c.ID); err != nil || len(b) != 16 {
			t.Fatalf("jti %q is not 128 random bits", c.ID)
		}
		if seen[c.ID] {
			t.Fatalf("jti %q repeated", c.ID)
		}
		seen[c.ID] = true
	}
}

func TestLifetimes(t *testing.T) {
	ctx := context.Background()
	clk := testkit.NewClock(t0)
	toks := New(Config{Issuer: issuer, Signer: rsSigner(t), Now: clk.Now, UserTTL: time.Hour, ClusterTTL: 10 * time.Minute, Leeway: 5 * time.Second})
	utok, _, _ := toks.IssueUser(ctx, alice, nil)
	ctok, _, _ := toks.IssueCluster(ctx, alice, "foo")

	clk.Set(t0.Add(time.Hour + 4*time.Second)) // within leeway
	if _, err := toks.VerifyUser(ctx, utok); err != nil {
		t.Errorf("user token refused within leeway: %v", err)
	}
	clk.Set(t0.Add(time.Hour + 5*time.Second))
	_, err := toks.VerifyUser(ctx, utok)
	wantErr(t, err, provisioner.EUNAUTHORIZED, "token expired")

	clk.Set(t0.Add(10*time.Minute + 5*time.Second))
	_, err = toks.VerifyCluster(ctx, ctok, "foo")
	wantErr(t, err, provisioner.EUNAUTHORIZED, "token expired")

	clk.Set(t0.Add(-4 * time.Second)) // issuer's clock slightly ahead
	if _, err := toks.VerifyCluster(ctx, ctok, "foo"); err != nil {
		t.Errorf("cluster token refused within leeway: %v", err)
	}
}

// TestRotation: tokens signed before a rotation, even by another process,
// verify after it until they expire.
func TestRotation(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ring, err := localkeys.Open(localkeys.Config{Dir: dir, CheckInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	toks := newTokens(ring, fixed(t0))
	before, _, _ := toks.IssueUser(ctx, alice, nil)

	if _, err := localkeys.Rotate(localkeys.Config{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	after, _, _ := toks.IssueUser(ctx, alice, nil)
	hb, _ := decode(t, before)
	ha, _ := decode(t, after)
	if hb["kid"] == ha["kid"] {
		t.Fatalf("kid %v did not change on rotation", ha["kid"])
	}
	for _, tok := range []string{before, after} {
		if _, err := toks.VerifyUser(ctx, tok); err != nil {
			t.Errorf("after rotation: %v", err)
		}
	}
}

// rotatingSigner changes key between Current and Sign once.
type rotatingSigner struct {
	*keySigner
	rotated bool
}

func (s *rotatingSigner) Sign(ctx context.Context, in []byte) ([]byte, string, string, error) {
	sig, kid, alg, err := s.keySigner.Sign(ctx, in)
	if !s.rotated {
		s.rotated = true
		kid = "old"
	}
	return sig, kid, alg, err
}

func TestIssueRetriesOnRotation(t *testing.T) {
	toks := newTokens(&rotatingSigner{keySigner: rsSigner(t)}, fixed(t0))
	tok, _, err := toks.IssueUser(context.Background(), alice, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := toks.VerifyUser(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
}

// TestGatewayVerifier: a gateway has only the issuer URL and the JWKS.
func TestGatewayVerifier(t *testing.T) {
	ctx := context.Background()
	ring := keyring(t)
	issuerSide := newTokens(ring, fixed(t0))
	tok, _, err := issuerSide.IssueCluster(ctx, alice, "foo")
	if err != nil {
		t.Fatal(err)
	}
	pubs, _ := ring.PublicKeys(ctx)
	jwks, err := MarshalJWKS(pubs)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := ParseJWKS(jwks)
	if err != nil {
		t.Fatal(err)
	}
	gw := New(Config{Issuer: issuer, Keys: StaticKeySet(keys), Now: fixed(t0)})
	if c, err := gw.VerifyCluster(ctx, tok, "foo"); err != nil || c.Subject != "alice" {
		t.Fatalf("gateway: %+v, %v", c, err)
	}
	_, _, err = gw.IssueUser(ctx, alice, nil)
	wantErr(t, err, provisioner.EINTERNAL, "")
}

func TestIssueBadInput(t *testing.T) {
	ctx := context.Background()
	toks := newTokens(rsSigner(t), fixed(t0))
	_, _, err := toks.IssueUser(ctx, provisioner.User{Level: provisioner.LevelMember}, nil)
	wantErr(t, err, provisioner.EINVALID, "")
	_, _, err = toks.IssueUser(ctx, provisioner.User{Login: "x", Level: 99}, nil)
	wantErr(t, err, provisioner.EINVALID, "")
	_, _, err = toks.IssueUser(ctx, alice, []string{"foo", ""})
	wantErr(t, err, provisioner.EINVALID, "empty audience in a token")
	// A jwt_cluster names one real cluster: never a service, "*" or a
	// name that is no cluster's.
	for _, c := range []string{"", "provisioner", "runner", "monitor", "*", "Foo", "a b", "foo,bar"} {
		_, _, err = toks.IssueCluster(ctx, alice, c)
		wantErr(t, err, provisioner.EINVALID, "invalid cluster name for a token")
	}
	_, _, err = New(Config{Signer: rsSigner(t)}).IssueUser(ctx, alice, nil)
	wantErr(t, err, provisioner.EINTERNAL, "")
	_, err = New(Config{Signer: rsSigner(t)}).VerifyUser(ctx, "x")
	wantErr(t, err, provisioner.EINTERNAL, "")
	_, err = New(Config{Issuer: issuer}).VerifyUser(ctx, "x")
	wantErr(t, err, provisioner.EINTERNAL, "")
}

// TestIssueUserAudience: the OAuth server's tokens carry exactly the
// audience asked for, as a list; without "provisioner" they open clusters
// but not the provisioner; an empty audience is refused.
func TestIssueUserAudience(t *testing.T) {
	ctx := context.Background()
	toks := newTokens(keyring(t), fixed(t0))
	tok, c, err := toks.IssueUserAudience(ctx, alice, []string{"monitor", "demo", "monitor"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Audience, []string{"monitor", "demo"}) || c.Type != provisioner.TypeUserToken {
		t.Fatalf("claims = %+v", c)
	}
	if _, claims := decode(t, tok); !reflect.DeepEqual(claims["aud"], []any{"monitor", "demo"}) {
		t.Fatalf("aud on the wire = %v", claims["aud"])
	}
	if _, err := toks.VerifyCluster(ctx, tok, "demo"); err != nil {
		t.Fatalf("VerifyCluster(demo): %v", err)
	}
	_, err = toks.VerifyUser(ctx, tok)
	testkit.WantCode(t, err, provisioner.EUNAUTHORIZED)
	mcp, _, err := toks.IssueUserAudience(ctx, alice, []string{"mcp"})
	if err != nil {
		t.Fatal(err)
	}
	if _, claims := decode(t, mcp); !reflect.DeepEqual(claims["aud"], []any{"mcp"}) {
		t.Fatalf("mcp aud = %v", claims["aud"])
	}
	for _, bad := range [][]string{nil, {}, {"x", ""}} {
		_, _, err := toks.IssueUserAudience(ctx, alice, bad)
		testkit.WantCode(t, err, provisioner.EINVALID)
	}
}
