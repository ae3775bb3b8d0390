package jwt

import (
	"context"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"provisioner"
)

// verifier returns Tokens at t0 that sign with an ES256 key ("es-1") and
// verify with it, an RS256 key ("rs-1") and a 1024-bit RS256 key ("rs-small").
func verifier(t testing.TB) (*Tokens, *keySigner, *keySigner) {
	es, rs := esSigner(t), rsSigner(t)
	keys := StaticKeySet{es.public(), rs.public(),
		{ID: "rs-small", Algorithm: AlgRS256, Key: &rsaSmall.PublicKey}}
	return New(Config{Issuer: issuer, Signer: es, Keys: keys, Now: fixed(t0)}), es, rs
}

func hdr(kv ...any) map[string]any {
	return with(map[string]any{"alg": "ES256", "kid": "es-1", "typ": "user+jwt"}, kv...)
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
	other := &keySigner{kid: "es-1", alg: AlgES256, priv: ecKey2}
	good := goodClaims()
	cluster := with(good, "aud", "foo")
	chdr := func(kv ...any) map[string]any { return hdr(append([]any{"typ", "cluster+jwt"}, kv...)...) }

	ecDER, _ := x509.MarshalPKIXPublicKey(&ecKey.PublicKey)
	ecPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: ecDER})
	rsDER, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	rsPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: rsDER})

	valid := forge(hdr(), good, signES)
	parts := strings.Split(valid, ".")
	tamperedPayload := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"`+issuer+`","sub":"alice","uid":42,"level":"admin","aud":"provisioner","exp":9999999999}`)) + "." + parts[2]
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sig[10] ^= 1
	tamperedSig := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
	derSig := func(in []byte) []byte {
		d := sha256.Sum256(in)
		s, _ := ecdsa.SignASN1(rand.Reader, ecKey, d[:])
		return s
	}

	const user = "(VerifyUser)" // else VerifyCluster on that cluster
	cases := []struct {
		name    string
		token   string
		cluster string
		code    string
		msg     string
	}{
		{"alg none", forge(hdr("alg", "none"), good, nil), user, provisioner.EUNAUTHORIZED, "token algorithm not allowed"},
		{"alg None", forge(hdr("alg", "None"), good, nil), user, provisioner.EUNAUTHORIZED, "token algorithm not allowed"},
		{"alg missing", forge(hdr("alg", nil), good, signES), user, provisioner.EUNAUTHORIZED, "token algorithm not allowed"},
		{"HS256 with EC public key PEM", forge(hdr("alg", "HS256"), good, hmacWith(ecPEM)), user, provisioner.EUNAUTHORIZED, "token algorithm not allowed"},
		{"HS256 with EC public key DER", forge(hdr("alg", "HS256"), good, hmacWith(ecDER)), user, provisioner.EUNAUTHORIZED, "token algorithm not allowed"},
		{"HS256 with RSA public key PEM", forge(hdr("alg", "HS256", "kid", "rs-1"), good, hmacWith(rsPEM)), user, provisioner.EUNAUTHORIZED, "token algorithm not allowed"},
		{"ES384", forge(hdr("alg", "ES384"), good, signES), user, provisioner.EUNAUTHORIZED, "token algorithm not allowed"},
		{"PS256", forge(hdr("alg", "PS256", "kid", "rs-1"), good, signRS), user, provisioner.EUNAUTHORIZED, "token algorithm not allowed"},
		{"EdDSA", forge(hdr("alg", "EdDSA"), good, signES), user, provisioner.EUNAUTHORIZED, "token algorithm not allowed"},
		{"RS256 header with EC kid", forge(hdr("alg", "RS256"), good, signRS), user, provisioner.EUNAUTHORIZED, "token algorithm does not match its signing key"},
		{"ES256 header with RSA kid", forge(hdr("kid", "rs-1"), good, signES), user, provisioner.EUNAUTHORIZED, "token algorithm does not match its signing key"},
		{"RSA key too small", forge(hdr("alg", "RS256", "kid", "rs-small"), good, signRS), user, provisioner.EUNAUTHORIZED, "unusable signing key"},
		{"unknown kid", forge(hdr("kid", "nope"), good, signES), user, provisioner.EUNAUTHORIZED, "unknown signing key"},
		{"missing kid", forge(hdr("kid", nil), good, signES), user, provisioner.EUNAUTHORIZED, "token has no key id"},
		{"numeric kid", forge(hdr("kid", 1), good, signES), user, provisioner.EUNAUTHORIZED, "token has no key id"},
		{"other key same kid", forge(hdr(), good, signWith(other)), user, provisioner.EUNAUTHORIZED, "invalid token signature"},
		{"DER signature", forge(hdr(), good, derSig), user, provisioner.EUNAUTHORIZED, "invalid token signature"},
		{"empty signature", forge(hdr(), good, nil), user, provisioner.EUNAUTHORIZED, "invalid token signature"},
		{"expired", forge(hdr(), with(good, "exp", t0.Add(-time.Minute).Unix()), signES), user, provisioner.EUNAUTHORIZED, "token expired"},
		{"not yet valid", forge(hdr(), with(good, "nbf", t0.Add(time.Minute).Unix()), signES), user, provisioner.EUNAUTHORIZED, "token not valid yet"},
		{"issued in the future", forge(hdr(), with(good, "iat", t0.Add(time.Minute).Unix()), signES), user, provisioner.EUNAUTHORIZED, "token issued in the future"},
		{"missing exp", forge(hdr(), with(good, "exp", nil), signES), user, provisioner.EUNAUTHORIZED, "token has no expiry"},
		{"exp not a number", forge(hdr(), with(good, "exp", "tomorrow"), signES), user, provisioner.EUNAUTHORIZED, "malformed token"},
		{"wrong iss", forge(hdr(), with(good, "iss", "https://evil.example.org"), signES), user, provisioner.EUNAUTHORIZED, "token is from another issuer"},
		{"iss prefix", forge(hdr(), with(good, "iss", issuer+".evil.org"), signES), user, provisioner.EUNAUTHORIZED, "token is from another issuer"},
		{"missing iss", forge(hdr(), with(good, "iss", nil), signES), user, provisioner.EUNAUTHORIZED, "token is from another issuer"},
		{"wrong aud", forge(hdr(), with(good, "aud", "foo"), signES), user, provisioner.EUNAUTHORIZED, "token is for another audience"},
		{"aud array of two", forge(hdr(), with(good, "aud", []string{"provisioner", "foo"}), signES), user, provisioner.EUNAUTHORIZED, "token must have exactly one audience"},
		{"missing aud", forge(hdr(), with(good, "aud", nil), signES), user, provisioner.EUNAUTHORIZED, "token has no audience"},
		{"empty aud array", forge(hdr(), with(good, "aud", []string{}), signES), user, provisioner.EUNAUTHORIZED, "token has no audience"},
		{"aud number", forge(hdr(), with(good, "aud", 7), signES), user, provisioner.EUNAUTHORIZED, "malformed token"},
		{"missing typ", forge(hdr("typ", nil), good, signES), user, provisioner.EUNAUTHORIZED, "wrong token type: want user+jwt"},
		{"typ JWT", forge(hdr("typ", "JWT"), good, signES), user, provisioner.EUNAUTHORIZED, "wrong token type: want user+jwt"},
		{"cluster token to VerifyUser", forge(chdr(), with(good, "aud", "provisioner"), signES), user, provisioner.EUNAUTHORIZED, "wrong token type: want user+jwt"},
		{"user token to VerifyCluster", forge(hdr(), good, signES), "foo", provisioner.EUNAUTHORIZED, "wrong token type: want cluster+jwt"},
		{"crit header", forge(hdr("crit", []string{"exp"}), good, signES), user, provisioner.EUNAUTHORIZED, "token has unsupported critical headers"},
		{"bad level", forge(hdr(), with(good, "level", "root"), signES), user, provisioner.EUNAUTHORIZED, "token has an invalid level"},
		{"missing level", forge(hdr(), with(good, "level", nil), signES), user, provisioner.EUNAUTHORIZED, "token has an invalid level"},
		{"numeric level", forge(hdr(), with(good, "level", 3), signES), user, provisioner.EUNAUTHORIZED, "malformed token"},
		{"missing sub", forge(hdr(), with(good, "sub", nil), signES), user, provisioner.EUNAUTHORIZED, "token has no subject"},
		{"tampered payload", tamperedPayload, user, provisioner.EUNAUTHORIZED, "invalid token signature"},
		{"tampered signature", tamperedSig, user, provisioner.EUNAUTHORIZED, "invalid token signature"},
		{"garbage", "not a token", user, provisioner.EUNAUTHORIZED, "malformed token"},
		{"three dots", "a.b.c", user, provisioner.EUNAUTHORIZED, "malformed token"},
		{"four parts", valid + ".x", user, provisioner.EUNAUTHORIZED, "malformed token"},
		{"padded base64", parts[0] + "==." + parts[1] + "." + parts[2], user, provisioner.EUNAUTHORIZED, "malformed token"},
		{"bearer prefix", "Bearer " + valid, user, provisioner.EUNAUTHORIZED, "malformed token"},
		{"empty", "", user, provisioner.EUNAUTHORIZED, "missing token"},
		{"oversized", valid + strings.Repeat("A", MaxTokenSize), user, provisioner.EUNAUTHORIZED, "token too long"},

		{"cluster: for foo-bar on foo", forge(chdr(), with(cluster, "aud", "foo-bar"), signES), "foo", provisioner.EFORBIDDEN, "token is for another cluster"},
		{"cluster: for foo on foo-bar", forge(chdr(), cluster, signES), "foo-bar", provisioner.EFORBIDDEN, "token is for another cluster"},
		{"cluster: for foo on fo", forge(chdr(), cluster, signES), "fo", provisioner.EFORBIDDEN, "token is for another cluster"},
		{"cluster: aud array with foo", forge(chdr(), with(cluster, "aud", []string{"foo", "bar"}), signES), "foo", provisioner.EUNAUTHORIZED, "token must have exactly one audience"},
		{"cluster: other cluster but expired", forge(chdr(), with(cluster, "aud", "bar", "exp", t0.Add(-time.Hour).Unix()), signES), "foo", provisioner.EUNAUTHORIZED, "token expired"},
		{"cluster: other cluster, bad signature", forge(chdr(), with(cluster, "aud", "bar"), signWith(other)), "foo", provisioner.EUNAUTHORIZED, "invalid token signature"},
		{"cluster: wrong iss", forge(chdr(), with(cluster, "iss", "x"), signES), "foo", provisioner.EUNAUTHORIZED, "token is from another issuer"},
		{"cluster: no cluster", forge(chdr(), cluster, signES), "", provisioner.EINVALID, "cluster name is required"},
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
	toks, es, rs := verifier(t)
	good := goodClaims()
	cases := map[string]string{
		"plain":                 forge(hdr(), good, signWith(es)),
		"RS256":                 forge(hdr("alg", "RS256", "kid", "rs-1"), good, signWith(rs)),
		"aud array of one":      forge(hdr(), with(good, "aud", []string{"provisioner"}), signWith(es)),
		"expired within leeway": forge(hdr(), with(good, "exp", t0.Add(-10*time.Second).Unix()), signWith(es)),
		"nbf within leeway":     forge(hdr(), with(good, "nbf", t0.Add(10*time.Second).Unix()), signWith(es)),
		"no nbf, iat, jti, org": forge(hdr(), with(good, "nbf", nil, "iat", nil, "jti", nil, "org", nil), signWith(es)),
		"fractional exp":        forge(hdr(), with(good, "exp", float64(t0.Unix())+60.5), signWith(es)),
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			c, err := toks.VerifyUser(ctx, tok)
			if err != nil {
				t.Fatal(err)
			}
			if c.Subject != "alice" || c.Audience != "provisioner" || c.Level != provisioner.LevelOrgMember {
				t.Errorf("claims %+v", c)
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
	tok := forge(hdr(), goodClaims(), signWith(esSigner(t)))
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
