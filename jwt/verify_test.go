package jwt

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"provisioner"
)

// verifier returns Tokens at t0 that sign with an RS256 key ("rs-1") and
// verify with it. Its key set also holds what must never verify anything:
// a legacy ES256 P-256 key ("es-1"), an EC key published as RS256
// ("ec-as-rs") and a 1024-bit RS256 key ("rs-small").
func verifier(t testing.TB) (*Tokens, *keySigner, *keySigner) {
	es, rs := esSigner(t), rsSigner(t)
	keys := StaticKeySet{rs.public(), es.public(),
		{ID: "ec-as-rs", Algorithm: AlgRS256, Key: &ecKey.PublicKey},
		{ID: "rs-small", Algorithm: AlgRS256, Key: &rsaSmall.PublicKey}}
	return New(Config{Issuer: issuer, Signer: rs, Keys: keys, Now: fixed(t0)}), es, rs
}

func hdr(kv ...any) map[string]any {
	return with(map[string]any{"alg": "RS256", "kid": "rs-1", "typ": "user+jwt"}, kv...)
}

func hmacWith(key []byte) func([]byte) []byte {
	return func(in []byte) []byte {
		m := hmac.New(sha256.New, key)
		m.Write(in)
		return m.Sum(nil)
	}
}

func TestVerifyRefuses(t *testing.T) {
	ctx := context.Background()
	toks, es, rs := verifier(t)
	signES, signRS := signWith(es), signWith(rs)
	other := &keySigner{kid: "rs-1", alg: AlgRS256, priv: rsaKey2}
	good := goodClaims()
	cluster := with(good, "aud", "foo")
	chdr := func(kv ...any) map[string]any { return hdr(append([]any{"typ", "cluster+jwt"}, kv...)...) }
	eshdr := func(kv ...any) map[string]any { return hdr(append([]any{"alg", "ES256", "kid", "es-1"}, kv...)...) }

	ecDER, _ := x509.MarshalPKIXPublicKey(&ecKey.PublicKey)
	ecPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: ecDER})
	rsDER, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	rsPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: rsDER})

	valid := forge(hdr(), good, signRS)
	parts := strings.Split(valid, ".")
	tamperedPayload := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"`+issuer+`","sub":"alice","uid":42,"level":"admin","aud":["provisioner","*"],"exp":9999999999}`)) + "." + parts[2]
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sig[10] ^= 1
	tamperedSig := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
	ecdsaDER := func(in []byte) []byte {
		d := sha256.Sum256(in)
		s, _ := ecdsa.SignASN1(rand.Reader, ecKey, d[:])
		return s
	}
	pss := func(in []byte) []byte {
		d := sha256.Sum256(in)
		s, _ := rsa.SignPSS(rand.Reader, rsaKey, crypto.SHA256, d[:], nil)
		return s
	}
	short := func(in []byte) []byte { return signRS(in)[:255] }

	const user = "(VerifyUser)" // else VerifyCluster on that cluster
	const notAllowed = "token algorithm not allowed"
	cases := []struct {
		name    string
		token   string
		cluster string
		code    string
		msg     string
	}{
		{"alg none", forge(hdr("alg", "none"), good, nil), user, provisioner.EUNAUTHORIZED, notAllowed},
		{"alg None", forge(hdr("alg", "None"), good, nil), user, provisioner.EUNAUTHORIZED, notAllowed},
		{"alg missing", forge(hdr("alg", nil), good, signRS), user, provisioner.EUNAUTHORIZED, notAllowed},
		{"HS256 with EC public key PEM", forge(hdr("alg", "HS256", "kid", "es-1"), good, hmacWith(ecPEM)), user, provisioner.EUNAUTHORIZED, notAllowed},
		{"HS256 with EC public key DER", forge(hdr("alg", "HS256", "kid", "es-1"), good, hmacWith(ecDER)), user, provisioner.EUNAUTHORIZED, notAllowed},
		{"HS256 with RSA public key PEM", forge(hdr("alg", "HS256"), good, hmacWith(rsPEM)), user, provisioner.EUNAUTHORIZED, notAllowed},
		{"HS256 with RSA public key DER", forge(hdr("alg", "HS256"), good, hmacWith(rsDER)), user, provisioner.EUNAUTHORIZED, notAllowed},

		// ES256 is refused whatever its key: the legacy key is still in
		// this key set, and the signature is genuine.
		{"ES256 by its published P-256 key", forge(eshdr(), good, signES), user, provisioner.EUNAUTHORIZED, notAllowed},
		{"ES256 jwt_cluster by its published P-256 key", forge(eshdr("typ", "cluster+jwt"), cluster, signES), "foo", provisioner.EUNAUTHORIZED, notAllowed},
		{"ES256 DER signature", forge(eshdr(), good, ecdsaDER), user, provisioner.EUNAUTHORIZED, notAllowed},
		{"ES256 header with RSA kid", forge(hdr("alg", "ES256"), good, signES), user, provisioner.EUNAUTHORIZED, notAllowed},
		{"ES256 header, RSA signature", forge(hdr("alg", "ES256"), good, signRS), user, provisioner.EUNAUTHORIZED, notAllowed},
		{"ES384", forge(hdr("alg", "ES384", "kid", "es-1"), good, signES), user, provisioner.EUNAUTHORIZED, notAllowed},
		{"PS256", forge(hdr("alg", "PS256"), good, pss), user, provisioner.EUNAUTHORIZED, notAllowed},
		{"RS512", forge(hdr("alg", "RS512"), good, signRS), user, provisioner.EUNAUTHORIZED, notAllowed},
		{"EdDSA", forge(hdr("alg", "EdDSA"), good, signES), user, provisioner.EUNAUTHORIZED, notAllowed},

		{"RS256 header with EC kid", forge(hdr("kid", "es-1"), good, signRS), user, provisioner.EUNAUTHORIZED, "token algorithm does not match its signing key"},
		{"RS256 with an EC key published as RS256", forge(hdr("kid", "ec-as-rs"), good, signRS), user, provisioner.EUNAUTHORIZED, "unusable signing key"},
		{"RSA key too small", forge(hdr("kid", "rs-small"), good, signRS), user, provisioner.EUNAUTHORIZED, "unusable signing key"},
		{"unknown kid", forge(hdr("kid", "nope"), good, signRS), user, provisioner.EUNAUTHORIZED, "unknown signing key"},
		{"missing kid", forge(hdr("kid", nil), good, signRS), user, provisioner.EUNAUTHORIZED, "token has no key id"},
		{"numeric kid", forge(hdr("kid", 1), good, signRS), user, provisioner.EUNAUTHORIZED, "token has no key id"},
		{"other key same kid", forge(hdr(), good, signWith(other)), user, provisioner.EUNAUTHORIZED, "invalid token signature"},
		{"PSS signature under RS256", forge(hdr(), good, pss), user, provisioner.EUNAUTHORIZED, "invalid token signature"},
		{"short signature", forge(hdr(), good, short), user, provisioner.EUNAUTHORIZED, "invalid token signature"},
		{"empty signature", forge(hdr(), good, nil), user, provisioner.EUNAUTHORIZED, "invalid token signature"},
		{"expired", forge(hdr(), with(good, "exp", t0.Add(-time.Minute).Unix()), signRS), user, provisioner.EUNAUTHORIZED, "token expired"},
		{"not yet valid", forge(hdr(), with(good, "nbf", t0.Add(time.Minute).Unix()), signRS), user, provisioner.EUNAUTHORIZED, "token not valid yet"},
		{"issued in the future", forge(hdr(), with(good, "iat", t0.Add(time.Minute).Unix()), signRS), user, provisioner.EUNAUTHORIZED, "token issued in the future"},
		{"missing exp", forge(hdr(), with(good, "exp", nil), signRS), user, provisioner.EUNAUTHORIZED, "token has no expiry"},
		{"exp not a number", forge(hdr(), with(good, "exp", "tomorrow"), signRS), user, provisioner.EUNAUTHORIZED, "malformed token"},
		{"wrong iss", forge(hdr(), with(good, "iss", "https://evil.example.org"), signRS), user, provisioner.EUNAUTHORIZED, "token is from another issuer"},
		{"iss prefix", forge(hdr(), with(good, "iss", issuer+".evil.org"), signRS), user, provisioner.EUNAUTHORIZED, "token is from another issuer"},
		{"missing iss", forge(hdr(), with(good, "iss", nil), signRS), user, provisioner.EUNAUTHORIZED, "token is from another issuer"},
		{"aud list without provisioner", forge(hdr(), with(good, "aud", []string{"foo", "runner"}), signRS), user, provisioner.EUNAUTHORIZED, "token is for another audience"},
		{"aud list with * only", forge(hdr(), with(good, "aud", []string{"*"}), signRS), user, provisioner.EUNAUTHORIZED, "token is for another audience"},
		{"aud list with provisioner as a substring", forge(hdr(), with(good, "aud", []string{"provisioner2", "my-provisioner", "provisioner,foo"}), signRS), user, provisioner.EUNAUTHORIZED, "token is for another audience"},
		{"aud a string", forge(hdr(), with(good, "aud", "provisioner"), signRS), user, provisioner.EUNAUTHORIZED, "token audience has the wrong form for its type"},
		{"missing aud", forge(hdr(), with(good, "aud", nil), signRS), user, provisioner.EUNAUTHORIZED, "token has no audience"},
		{"empty aud array", forge(hdr(), with(good, "aud", []string{}), signRS), user, provisioner.EUNAUTHORIZED, "token has no audience"},
		{"empty aud string", forge(hdr(), with(good, "aud", ""), signRS), user, provisioner.EUNAUTHORIZED, "token has no audience"},
		{"aud list with an empty name", forge(hdr(), with(good, "aud", []string{"provisioner", ""}), signRS), user, provisioner.EUNAUTHORIZED, "token has no audience"},
		{"aud number", forge(hdr(), with(good, "aud", 7), signRS), user, provisioner.EUNAUTHORIZED, "malformed token"},
		{"org_roles a string", forge(hdr(), with(good, "org_roles", "member"), signRS), user, provisioner.EUNAUTHORIZED, "malformed token"},
		{"missing typ", forge(hdr("typ", nil), good, signRS), user, provisioner.EUNAUTHORIZED, "wrong token type: want user+jwt"},
		{"typ JWT", forge(hdr("typ", "JWT"), good, signRS), user, provisioner.EUNAUTHORIZED, "wrong token type: want user+jwt"},
		{"cluster token to VerifyUser", forge(chdr(), with(good, "aud", "provisioner"), signRS), user, provisioner.EUNAUTHORIZED, "wrong token type: want user+jwt"},
		{"crit header", forge(hdr("crit", []string{"exp"}), good, signRS), user, provisioner.EUNAUTHORIZED, "token has unsupported critical headers"},
		{"bad level", forge(hdr(), with(good, "level", "root"), signRS), user, provisioner.EUNAUTHORIZED, "token has an invalid level"},
		{"missing level", forge(hdr(), with(good, "level", nil), signRS), user, provisioner.EUNAUTHORIZED, "token has an invalid level"},
		{"numeric level", forge(hdr(), with(good, "level", 3), signRS), user, provisioner.EUNAUTHORIZED, "malformed token"},
		{"missing sub", forge(hdr(), with(good, "sub", nil), signRS), user, provisioner.EUNAUTHORIZED, "token has no subject"},
		{"tampered payload", tamperedPayload, user, provisioner.EUNAUTHORIZED, "invalid token signature"},
		{"tampered signature", tamperedSig, user, provisioner.EUNAUTHORIZED, "invalid token signature"},
		{"garbage", "not a token", user, provisioner.EUNAUTHORIZED, "malformed token"},
		{"three dots", "a.b.c", user, provisioner.EUNAUTHORIZED, "malformed token"},
		{"four parts", valid + ".x", user, provisioner.EUNAUTHORIZED, "malformed token"},
		{"padded base64", parts[0] + "==." + parts[1] + "." + parts[2], user, provisioner.EUNAUTHORIZED, "malformed token"},
		{"bearer prefix", "Bearer " + valid, user, provisioner.EUNAUTHORIZED, "malformed token"},
		{"empty", "", user, provisioner.EUNAUTHORIZED, "missing token"},
		{"oversized", valid + strings.Repeat("A", MaxTokenSize), user, provisioner.EUNAUTHORIZED, "token too long"},

		{"cluster: for foo-bar on foo", forge(chdr(), with(cluster, "aud", "foo-bar"), signRS), "foo", provisioner.EFORBIDDEN, "token is not for cluster foo"},
		{"cluster: for foo on foo-bar", forge(chdr(), cluster, signRS), "foo-bar", provisioner.EFORBIDDEN, "token is not for cluster foo-bar"},
		{"cluster: for foo on fo", forge(chdr(), cluster, signRS), "fo", provisioner.EFORBIDDEN, "token is not for cluster fo"},
		{"cluster: jwt_cluster for * is no wildcard", forge(chdr(), with(cluster, "aud", "*"), signRS), "foo", provisioner.EFORBIDDEN, "token is not for cluster foo"},
		{"cluster: jwt_cluster aud list of one", forge(chdr(), with(cluster, "aud", []string{"foo"}), signRS), "foo", provisioner.EUNAUTHORIZED, "token audience has the wrong form for its type"},
		{"cluster: jwt_cluster aud list of two", forge(chdr(), with(cluster, "aud", []string{"foo", "bar"}), signRS), "foo", provisioner.EUNAUTHORIZED, "token audience has the wrong form for its type"},
		{"cluster: jwt_user aud string naming it", forge(hdr(), with(good, "aud", "foo"), signRS), "foo", provisioner.EUNAUTHORIZED, "token audience has the wrong form for its type"},
		{"cluster: jwt_user aud string *", forge(hdr(), with(good, "aud", "*"), signRS), "foo", provisioner.EUNAUTHORIZED, "token audience has the wrong form for its type"},
		{"cluster: jwt_user without the cluster", forge(hdr(), good, signRS), "foo", provisioner.EFORBIDDEN, "token is not for cluster foo"},
		{"cluster: jwt_user for demo on demo2", forge(hdr(), with(good, "aud", []string{"provisioner", "demo"}), signRS), "demo2", provisioner.EFORBIDDEN, "token is not for cluster demo2"},
		{"cluster: jwt_user for demo on dem", forge(hdr(), with(good, "aud", []string{"provisioner", "demo"}), signRS), "dem", provisioner.EFORBIDDEN, "token is not for cluster dem"},
		{"cluster: jwt_user for de* on demo", forge(hdr(), with(good, "aud", []string{"provisioner", "de*"}), signRS), "demo", provisioner.EFORBIDDEN, "token is not for cluster demo"},
		{"cluster: jwt_user for \"a,demo\" on demo", forge(hdr(), with(good, "aud", []string{"provisioner", "a,demo"}), signRS), "demo", provisioner.EFORBIDDEN, "token is not for cluster demo"},
		{"cluster: jwt_user for *foo on foo", forge(hdr(), with(good, "aud", []string{"provisioner", "*foo"}), signRS), "foo", provisioner.EFORBIDDEN, "token is not for cluster foo"},
		{"cluster: typ JWT", forge(hdr("typ", "JWT"), with(good, "aud", []string{"*"}), signRS), "foo", provisioner.EUNAUTHORIZED, "wrong token type: want cluster+jwt or user+jwt"},
		{"cluster: other cluster but expired", forge(chdr(), with(cluster, "aud", "bar", "exp", t0.Add(-time.Hour).Unix()), signRS), "foo", provisioner.EUNAUTHORIZED, "token expired"},
		{"cluster: other cluster, bad signature", forge(chdr(), with(cluster, "aud", "bar"), signWith(other)), "foo", provisioner.EUNAUTHORIZED, "invalid token signature"},
		{"cluster: jwt_user for *, bad signature", forge(hdr(), with(good, "aud", []string{"*"}), signWith(other)), "foo", provisioner.EUNAUTHORIZED, "invalid token signature"},
		{"cluster: wrong iss", forge(chdr(), with(cluster, "iss", "x"), signRS), "foo", provisioner.EUNAUTHORIZED, "token is from another issuer"},
		{"cluster: no cluster", forge(chdr(), cluster, signRS), "", provisioner.EINVALID, "cluster name is required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.cluster != user {
				_, err = toks.VerifyCluster(ctx, tc.token, tc.cluster)
			} else {
				_, err = toks.VerifyUser(ctx, tc.token)
			}
			wantErr(t, err, tc.code, tc.msg)
		})
	}
}

// TestVerifyAccepts: the variations a strict verifier still takes.
func TestVerifyAccepts(t *testing.T) {
	ctx := context.Background()
	toks, _, rs := verifier(t)
	good := goodClaims()
	cases := map[string]string{
		"plain":                       forge(hdr(), good, signWith(rs)),
		"aud list with more":          forge(hdr(), with(good, "aud", []string{"provisioner", "runner", "monitor", "*"}), signWith(rs)),
		"provisioner not first":       forge(hdr(), with(good, "aud", []string{"foo", "provisioner"}), signWith(rs)),
		"expired within leeway":       forge(hdr(), with(good, "exp", t0.Add(-10*time.Second).Unix()), signWith(rs)),
		"nbf within leeway":           forge(hdr(), with(good, "nbf", t0.Add(10*time.Second).Unix()), signWith(rs)),
		"no nbf, iat, jti, org":       forge(hdr(), with(good, "nbf", nil, "iat", nil, "jti", nil, "org", nil), signWith(rs)),
		"no org_roles (production's)": forge(hdr(), with(good, "org_roles", nil), signWith(rs)),
		"fractional exp":              forge(hdr(), with(good, "exp", float64(t0.Unix())+60.5), signWith(rs)),
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			c, err := toks.VerifyUser(ctx, tok)
			if err != nil {
				t.Fatal(err)
			}
			if c.Type != provisioner.TypeUserToken || c.Subject != "alice" || !slices.Contains(c.Audience, "provisioner") || c.Level != provisioner.LevelOrgMember {
				t.Errorf("claims %+v", c)
			}
			if c.OrgRoles == nil {
				t.Errorf("org_roles is nil, want a list: %+v", c)
			}
		})
	}
}

// failingKeys is a KeySet that cannot answer, like a JWKS endpoint down.
type failingKeys struct{ err error }

func (f failingKeys) PublicKey(context.Context, string) (provisioner.PublicKey, error) {
	return provisioner.PublicKey{}, f.err
}

func (f failingKeys) PublicKeys(context.Context) ([]provisioner.PublicKey, error) { return nil, f.err }

func TestKeySetFailure(t *testing.T) {
	tok := forge(hdr(), goodClaims(), signWith(rsSigner(t)))
	for err, code := range map[error]string{
		provisioner.Errorf(provisioner.EUNAVAILABLE, "jwks unreachable"): provisioner.EUNAVAILABLE,
		errors.New("dial tcp: refused"):                                  provisioner.EUNAVAILABLE,
		context.DeadlineExceeded:                                         provisioner.EUNAVAILABLE,
		provisioner.Errorf(provisioner.ENOTFOUND, "no such key"):         provisioner.EUNAUTHORIZED,
	} {
		toks := New(Config{Issuer: issuer, Keys: failingKeys{err}, Now: fixed(t0)})
		_, verr := toks.VerifyUser(context.Background(), tok)
		wantErr(t, verr, code, "")
		if strings.Contains(provisioner.ErrorMessage(verr), "dial") {
			t.Errorf("message leaks internals: %q", provisioner.ErrorMessage(verr))
		}
	}
}
