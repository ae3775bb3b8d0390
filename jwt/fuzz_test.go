package jwt

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"provisioner"
)

// seedTokens are the well-formed, nearly-valid and broken tokens the
// verifier fuzzers start from; they are made afresh each run because the
// test keys are.
func seedTokens(t testing.TB) []string {
	toks, es, rs := verifier(t)
	ctx := context.Background()
	user, _, _ := toks.IssueUser(ctx, alice)
	cluster, _, _ := toks.IssueCluster(ctx, alice, "foo")
	good := goodClaims()
	return []string{
		user, cluster,
		forge(hdr("alg", "RS256", "kid", "rs-1"), good, signWith(rs)),
		forge(hdr("alg", "none"), good, nil),
		forge(hdr("alg", "HS256"), good, hmacWith([]byte("k"))),
		forge(hdr("alg", "RS256"), good, signWith(rs)),
		forge(hdr(), with(good, "exp", t0.Add(-time.Hour).Unix()), signWith(es)),
		forge(hdr(), with(good, "aud", []string{"provisioner", "foo"}), signWith(es)),
		forge(hdr(), with(good, "aud", []string{"provisioner"}), signWith(es)),
		forge(hdr("typ", "cluster+jwt"), with(good, "aud", "foo-bar"), signWith(es)),
		forge(hdr("crit", []string{"b64"}), good, signWith(es)),
		"", ".", "..", "a.b.c", "e30.e30.", "eyJhbGciOiJFUzI1NiJ9.e30.AA", strings.Repeat("A", MaxTokenSize+1),
	}
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
		if len(token) > MaxTokenSize || c.Audience != provisioner.AudienceProvisioner || c.Issuer != issuer || c.Subject == "" {
			t.Fatalf("accepted %q as %+v", token, c)
		}
	})
}

func FuzzVerifyCluster(f *testing.F) {
	for _, s := range seedTokens(f) {
		for _, cluster := range []string{"foo", "foo-bar", "fo", "provisioner", ""} {
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
		if c.Audience != cluster || c.Issuer != issuer || c.Subject == "" {
			t.Fatalf("accepted %q for %q as %+v", token, cluster, c)
		}
	})
}

func FuzzParseJWKS(f *testing.F) {
	es, rs := esSigner(f), rsSigner(f)
	ours, _ := MarshalJWKS([]provisioner.PublicKey{es.public(), rs.public()})
	f.Add(ours)
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
