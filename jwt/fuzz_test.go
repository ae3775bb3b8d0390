package jwt

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"provisioner"
)

// seedTokens are the well-formed, nearly-valid and broken tokens the
// verifier fuzzers start from; they are made afresh each run because the
// test keys are. ES256 ones, genuinely signed by a key of the verifier's
// set, are there to be refused.
func seedTokens(t testing.TB) []string {
	toks, es, rs := verifier(t)
	ctx := context.Background()
	user, _, _ := toks.IssueUser(ctx, alice, []string{"foo", "runner"})
	all, _, _ := toks.IssueUser(ctx, alice, []string{"*"})
	cluster, _, _ := toks.IssueCluster(ctx, alice, "foo")
	good := goodClaims()
	ctyp := hdr("typ", "cluster+jwt")
	es256 := hdr("alg", "ES256", "kid", "es-1")
	return []string{
		user, all, cluster,
		forge(hdr(), good, signWith(rs)),
		forge(hdr("alg", "none"), good, nil),
		forge(hdr("alg", "HS256"), good, hmacWith([]byte("k"))),
		forge(hdr("kid", nil), good, signWith(rs)),
		forge(hdr(), with(good, "exp", t0.Add(-time.Hour).Unix()), signWith(rs)),
		forge(hdr(), with(good, "aud", []string{"provisioner", "foo"}), signWith(rs)),
		forge(hdr(), with(good, "aud", []string{"provisioner", "foo-bar", "*"}), signWith(rs)),
		forge(hdr(), with(good, "aud", "provisioner"), signWith(rs)),
		forge(hdr(), with(good, "aud", "foo"), signWith(rs)),
		forge(ctyp, with(good, "aud", "foo-bar"), signWith(rs)),
		forge(ctyp, with(good, "aud", []string{"foo"}), signWith(rs)),
		forge(ctyp, with(good, "aud", "*"), signWith(rs)),
		forge(hdr("crit", []string{"b64"}), good, signWith(rs)),
		forge(es256, good, signWith(es)),
		forge(es256, with(good, "aud", []string{"provisioner", "*"}), signWith(es)),
		forge(with(es256, "typ", "cluster+jwt"), with(good, "aud", "foo"), signWith(es)),
		"", ".", "..", "a.b.c", "e30.e30.", "eyJhbGciOiJFUzI1NiJ9.e30.AA", "eyJhbGciOiJSUzI1NiJ9.e30.AA",
		strings.Repeat("A", MaxTokenSize+1),
	}
}

// headerAlg is the "alg" of a token that verified.
func headerAlg(t *testing.T, token string) string {
	h, _, _ := strings.Cut(token, ".")
	b, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		t.Fatalf("accepted %q with an undecodable header", token)
	}
	var v struct{ Alg string }
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("accepted %q with a header that is not JSON", token)
	}
	return v.Alg
}

func FuzzVerifyUser(f *testing.F) {
	for _, s := range seedTokens(f) {
		f.Add(s)
	}
	toks, _, _ := verifier(f)
	f.Fuzz(func(t *testing.T, token string) {
		c, err := toks.VerifyUser(context.Background(), token)
		if err != nil {
			var e *provisioner.Error
			if !errors.As(err, &e) || e.Code != provisioner.EUNAUTHORIZED || e.Message == "" {
				t.Fatalf("error %#v is not a plain EUNAUTHORIZED", err)
			}
			return
		}
		if len(token) > MaxTokenSize || c.Type != provisioner.TypeUserToken || !slices.Contains(c.Audience, provisioner.AudienceProvisioner) ||
			c.Issuer != issuer || c.Subject == "" || c.OrgRoles == nil || headerAlg(t, token) != AlgRS256 {
			t.Fatalf("accepted %q as %+v", token, c)
		}
	})
}

func FuzzVerifyCluster(f *testing.F) {
	for _, s := range seedTokens(f) {
		for _, cluster := range []string{"foo", "foo-bar", "fo", "provisioner", "*", ""} {
			f.Add(s, cluster)
		}
	}
	toks, _, _ := verifier(f)
	f.Fuzz(func(t *testing.T, token, cluster string) {
		c, err := toks.VerifyCluster(context.Background(), token, cluster)
		if err != nil {
			var e *provisioner.Error
			ok := errors.As(err, &e) && e.Message != "" && (e.Code == provisioner.EUNAUTHORIZED ||
				e.Code == provisioner.EFORBIDDEN ||
				e.Code == provisioner.EINVALID && cluster == "")
			if !ok {
				t.Fatalf("unexpected error %#v", err)
			}
			return
		}
		// A jwt_cluster names exactly this cluster; a jwt_user names it or
		// "*" as one element of its list. Nothing else, and only RS256.
		reaches := false
		switch c.Type {
		case provisioner.TypeClusterToken:
			reaches = slices.Equal(c.Audience, []string{cluster})
		case provisioner.TypeUserToken:
			reaches = slices.Contains(c.Audience, cluster) || slices.Contains(c.Audience, provisioner.AudienceAll)
		}
		if !reaches || !c.Reaches(cluster) || c.Issuer != issuer || c.Subject == "" || headerAlg(t, token) != AlgRS256 {
			t.Fatalf("accepted %q for %q as %+v", token, cluster, c)
		}
	})
}

func FuzzParseJWKS(f *testing.F) {
	rs := rsSigner(f)
	ours, err := MarshalJWKS([]provisioner.PublicKey{rs.public()})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(ours)
	// What the ES256 profile published: to be skipped.
	legacy, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: &ecKey.PublicKey, KeyID: "es-1", Algorithm: algES256, Use: "sig"},
		{Key: &rsaKey.PublicKey, KeyID: "rs-1", Algorithm: AlgRS256, Use: "sig"},
	}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(legacy)
	for _, s := range []string{
		`{"keys":[]}`, `{}`, `null`, `[]`, `{"keys":[1,"a",null,{}]}`,
		`{"keys":[{"kty":"EC","crv":"P-256","kid":"k","x":"AAAA","y":"AAAA"}]}`,
		`{"keys":[{"kty":"RSA","kid":"k","alg":"RS256","n":"AQAB","e":"AQAB"}]}`,
		`{"keys":[{"kty":"oct","kid":"k","k":"c2VjcmV0"}]}`,
		`{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := ParseJWKS(data)
		if err != nil {
			if provisioner.ErrorCode(err) != provisioner.EINVALID {
				t.Fatalf("error %v is not EINVALID", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, pk := range keys {
			if _, ok := checkKey(pk); !ok || pk.ID == "" || seen[pk.ID] {
				t.Fatalf("kept unusable or duplicate key %+v", pk)
			}
			if k, ok := pk.Key.(*rsa.PublicKey); !ok || pk.Algorithm != AlgRS256 || k.N.BitLen() < 2048 {
				t.Fatalf("kept a key that is not RS256 RSA-2048+: %+v", pk)
			}
			seen[pk.ID] = true
		}
		// What we parse, we can publish and parse again to the same set.
		b, err := MarshalJWKS(keys)
		if err != nil {
			t.Fatalf("cannot re-marshal parsed keys: %v", err)
		}
		again, err := ParseJWKS(b)
		if err != nil || len(again) != len(keys) {
			t.Fatalf("re-parse: %d keys, %v; want %d", len(again), err, len(keys))
		}
		for i := range again {
			if again[i].ID != keys[i].ID || again[i].Algorithm != keys[i].Algorithm {
				t.Fatalf("re-parse changed key %d", i)
			}
		}
	})
}
