package jwt

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"provisioner"
	localkeys "provisioner/local/keyring"
)

const issuer = "https://provisioner.example.org"

// t0 is the fixed time of most tests.
var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

var alice = provisioner.User{Login: "alice", ID: 42, Level: provisioner.LevelOrgMember, Org: "SlideRuleEarth"}

// keySigner is a provisioner.Signer over one in-memory key: RS256, what a
// KMS signer looks like to Tokens, or ES256, a legacy signer whose tokens
// must now be refused.
type keySigner struct {
	kid  string
	alg  string
	priv crypto.Signer
}

func (s *keySigner) public() provisioner.PublicKey {
	return provisioner.PublicKey{ID: s.kid, Algorithm: s.alg, Key: s.priv.Public()}
}

func (s *keySigner) Sign(_ context.Context, in []byte) ([]byte, string, string, error) {
	d := sha256.Sum256(in)
	switch k := s.priv.(type) {
	case *ecdsa.PrivateKey:
		r, ss, err := ecdsa.Sign(rand.Reader, k, d[:])
		if err != nil {
			return nil, "", "", err
		}
		sig := make([]byte, 64)
		r.FillBytes(sig[:32])
		ss.FillBytes(sig[32:])
		return sig, s.kid, s.alg, nil
	case *rsa.PrivateKey:
		sig, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, d[:])
		return sig, s.kid, s.alg, err
	}
	panic("unsupported key")
}

func (s *keySigner) Current(context.Context) (string, string, error) { return s.kid, s.alg, nil }

func (s *keySigner) PublicKey(ctx context.Context, kid string) (provisioner.PublicKey, error) {
	return StaticKeySet{s.public()}.PublicKey(ctx, kid)
}

func (s *keySigner) PublicKeys(context.Context) ([]provisioner.PublicKey, error) {
	return []provisioner.PublicKey{s.public()}, nil
}

var (
	keysOnce                  sync.Once
	ecKey, ecKey2             *ecdsa.PrivateKey
	rsaKey, rsaKey2, rsaSmall *rsa.PrivateKey
)

func testKeys(t testing.TB) {
	t.Helper()
	keysOnce.Do(func() {
		ecKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		ecKey2, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		rsaKey, _ = rsa.GenerateKey(rand.Reader, 2048)
		rsaKey2, _ = rsa.GenerateKey(rand.Reader, 2048)
		rsaSmall, _ = rsa.GenerateKey(rand.Reader, 1024)
	})
	if ecKey == nil || ecKey2 == nil || rsaKey == nil || rsaKey2 == nil || rsaSmall == nil {
		t.Fatal("cannot generate test keys")
	}
}

// algES256 is the algorithm of earlier tokens, now refused everywhere.
const algES256 = "ES256"

// esSigner is a legacy ES256 signer: what it signs must never verify.
func esSigner(t testing.TB) *keySigner {
	testKeys(t)
	return &keySigner{kid: "es-1", alg: algES256, priv: ecKey}
}

func rsSigner(t testing.TB) *keySigner {
	testKeys(t)
	return &keySigner{kid: "rs-1", alg: AlgRS256, priv: rsaKey}
}

// clock is a settable time source.
func newTokens(signer provisioner.Signer, now func() time.Time) *Tokens {
	return New(Config{Issuer: issuer, Signer: signer, Now: now})
}

func fixed(t time.Time) func() time.Time { return func() time.Time { return t } }

func keyring(t testing.TB) *localkeys.Keyring {
	t.Helper()
	k, err := localkeys.Open(localkeys.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// forge builds a token from raw header and claims, signed by sign over the
// signing input (nil sign gives an empty signature).
func forge(header, claims map[string]any, sign func([]byte) []byte) string {
	enc := base64.RawURLEncoding
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	in := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	var sig []byte
	if sign != nil {
		sig = sign([]byte(in))
	}
	return in + "." + enc.EncodeToString(sig)
}

// signWith returns a forge signer using s.
func signWith(s provisioner.Signer) func([]byte) []byte {
	return func(in []byte) []byte {
		sig, _, _, err := s.Sign(context.Background(), in)
		if err != nil {
			panic(err)
		}
		return sig
	}
}

// goodClaims are valid jwt_user claims at t0, for forging variations: an
// "aud" list as production's login tokens carry it.
func goodClaims() map[string]any {
	return map[string]any{
		"iss": issuer, "sub": "alice", "uid": 42, "level": "org_member", "org": "SlideRuleEarth",
		"aud": []string{"provisioner"}, "org_roles": []string{"member"},
		"iat": t0.Unix(), "nbf": t0.Unix(), "exp": t0.Add(time.Hour).Unix(), "jti": "abc",
	}
}

func with(m map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

func wantErr(t testing.TB, err error, code, msg string) {
	t.Helper()
	if got := provisioner.ErrorCode(err); got != code {
		t.Fatalf("error %v: code %q, want %q", err, got, code)
	}
	if msg != "" {
		if got := provisioner.ErrorMessage(err); got != msg {
			t.Fatalf("error message %q, want %q", got, msg)
		}
	}
}
