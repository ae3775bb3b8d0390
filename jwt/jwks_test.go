package jwt

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"provisioner"
)

func TestMarshalJWKS(t *testing.T) {
	rs := rsSigner(t)
	rs2 := &keySigner{kid: "rs-2", alg: AlgRS256, priv: rsaKey2}
	b, err := MarshalJWKS([]provisioner.PublicKey{rs.public(), rs2.public()})
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(b, &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 2 {
		t.Fatalf("%d keys: %s", len(set.Keys), b)
	}
	for i, kid := range []string{"rs-1", "rs-2"} {
		r := set.Keys[i]
		for k, want := range map[string]any{"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig", "e": "AQAB"} {
			if r[k] != want {
				t.Errorf("key %d: %s = %v, want %v", i, k, r[k], want)
			}
		}
		if r["n"] == nil || r["d"] != nil || r["p"] != nil || r["crv"] != nil || r["x"] != nil {
			t.Errorf("RSA key members %v", r)
		}
	}

	if b, _ := MarshalJWKS(nil); string(b) != `{"keys":[]}` {
		t.Errorf("empty set = %s", b)
	}
}

func TestMarshalJWKSRefuses(t *testing.T) {
	testKeys(t)
	_, edPub, _ := ed25519.GenerateKey(rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	for name, pk := range map[string]provisioner.PublicKey{
		"EC P-256 as ES256": {ID: "a", Algorithm: algES256, Key: &ecKey.PublicKey},
		"EC private key":    {ID: "a", Algorithm: algES256, Key: ecKey},
		"RSA private key":   {ID: "a", Algorithm: AlgRS256, Key: rsaKey},
		"EC as RS256":       {ID: "a", Algorithm: AlgRS256, Key: &ecKey.PublicKey},
		"RSA as ES256":      {ID: "a", Algorithm: algES256, Key: &rsaKey.PublicKey},
		"RSA as PS256":      {ID: "a", Algorithm: "PS256", Key: &rsaKey.PublicKey},
		"P-384":             {ID: "a", Algorithm: "ES384", Key: &p384.PublicKey},
		"RSA 1024":          {ID: "a", Algorithm: AlgRS256, Key: &rsaSmall.PublicKey},
		"Ed25519":           {ID: "a", Algorithm: "EdDSA", Key: edPub},
		"no kid":            {Algorithm: AlgRS256, Key: &rsaKey.PublicKey},
		"nil key":           {ID: "a", Algorithm: AlgRS256},
	} {
		b, err := MarshalJWKS([]provisioner.PublicKey{pk})
		if provisioner.ErrorCode(err) != provisioner.EINTERNAL {
			t.Errorf("%s: published %s, %v", name, b, err)
		}
	}
	// One bad key spoils the set: nothing is published half.
	b, err := MarshalJWKS([]provisioner.PublicKey{rsSigner(t).public(), esSigner(t).public()})
	if provisioner.ErrorCode(err) != provisioner.EINTERNAL {
		t.Errorf("RS256 + ES256 set published %s, %v", b, err)
	}
}

func TestParseJWKSRoundTrip(t *testing.T) {
	ring := keyring(t)
	if _, err := ring.Rotate(); err != nil {
		t.Fatal(err)
	}
	pubs, _ := ring.PublicKeys(context.Background())
	pubs = append(pubs, rsSigner(t).public())
	b, err := MarshalJWKS(pubs)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseJWKS(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(pubs) {
		t.Fatalf("parsed %d keys, want %d", len(got), len(pubs))
	}
	for i := range got {
		if got[i].ID != pubs[i].ID || got[i].Algorithm != pubs[i].Algorithm {
			t.Errorf("key %d: %s/%s, want %s/%s", i, got[i].ID, got[i].Algorithm, pubs[i].ID, pubs[i].Algorithm)
		}
		type equaler interface{ Equal(crypto.PublicKey) bool }
		if !got[i].Key.(equaler).Equal(pubs[i].Key) {
			t.Errorf("key %d differs", i)
		}
	}
}

// jwk renders key as a JWK with go-jose and lets edit change its members.
func jwk(t *testing.T, key any, kid, alg string, edit func(map[string]any)) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKey{Key: key, KeyID: kid, Algorithm: alg, Use: "sig"})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	if edit != nil {
		edit(m)
	}
	b, _ = json.Marshal(m)
	return b
}

func TestParseJWKSSkips(t *testing.T) {
	testKeys(t)
	_, edPub, _ := ed25519.GenerateKey(rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	set := []json.RawMessage{
		jwk(t, &rsaKey.PublicKey, "ok-rsa", "RS256", nil),
		jwk(t, &rsaKey2.PublicKey, "ok-rsa-noalg", "", nil),
		jwk(t, &rsaKey2.PublicKey, "ok-rsa", "RS256", nil), // duplicate kid
		jwk(t, rsaKey2, "ok-rsa-private", "RS256", nil),    // private members dropped
		jwk(t, &rsaKey.PublicKey, "ok-rsa-nouse", "RS256", func(m map[string]any) { delete(m, "use") }),
		// EC keys, the earlier ES256 profile's, are skipped in every form.
		jwk(t, &ecKey.PublicKey, "ec-es256", "ES256", nil),
		jwk(t, &ecKey2.PublicKey, "ec-noalg", "", nil),
		jwk(t, ecKey, "ec-private", "ES256", nil),
		jwk(t, &ecKey.PublicKey, "ec-as-rs", "RS256", nil),
		jwk(t, &ecKey.PublicKey, "ec-kty-rsa", "RS256", func(m map[string]any) { m["kty"] = "RSA" }),
		jwk(t, &rsaKey.PublicKey, "rsa-as-es256", "ES256", nil),
		jwk(t, &rsaKey.PublicKey, "rsa-kty-ec", "RS256", func(m map[string]any) { m["kty"] = "EC" }),
		jwk(t, &rsaKey.PublicKey, "", "RS256", nil),
		jwk(t, &rsaKey.PublicKey, "enc", "RS256", func(m map[string]any) { m["use"] = "enc" }),
		jwk(t, &rsaKey.PublicKey, "ps256", "PS256", nil),
		jwk(t, &rsaKey.PublicKey, "rs512", "RS512", nil),
		jwk(t, &rsaSmall.PublicKey, "small", "RS256", nil),
		jwk(t, &p384.PublicKey, "p384", "ES384", nil),
		jwk(t, edPub, "ed", "EdDSA", nil),
		jwk(t, []byte("secret"), "hmac", "HS256", nil),
		jwk(t, &rsaKey.PublicKey, "bad-n", "RS256", func(m map[string]any) { m["n"] = "!!" }),
		jwk(t, &rsaKey.PublicKey, "num-kid", "RS256", func(m map[string]any) { m["kid"] = 5 }),
		json.RawMessage(`"not an object"`),
		json.RawMessage(`{"kty":"RSA","kid":"no-n","alg":"RS256","e":"AQAB"}`),
	}
	b, _ := json.Marshal(map[string]any{"keys": set})
	got, err := ParseJWKS(b)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, pk := range got {
		ids = append(ids, pk.ID+"/"+pk.Algorithm)
		if _, ok := checkKey(pk); !ok {
			t.Errorf("%s: unusable key kept", pk.ID)
		}
		if _, ok := pk.Key.(*rsa.PublicKey); !ok {
			t.Errorf("%s: kept a %T", pk.ID, pk.Key)
		}
	}
	want := []string{"ok-rsa/RS256", "ok-rsa-noalg/RS256", "ok-rsa-private/RS256", "ok-rsa-nouse/RS256"}
	if !slices.Equal(ids, want) {
		t.Errorf("kept %v, want %v", ids, want)
	}
	if !got[0].Key.(*rsa.PublicKey).Equal(&rsaKey.PublicKey) {
		t.Error("a later duplicate replaced the first key of a kid")
	}
}

// TestParseJWKSRefusesEC: a set of only EC keys, as the ES256 profile
// published, leaves a verifier with no key at all.
func TestParseJWKSRefusesEC(t *testing.T) {
	testKeys(t)
	b, _ := json.Marshal(map[string]any{"keys": []json.RawMessage{
		jwk(t, &ecKey.PublicKey, "es-1", "ES256", nil),
		jwk(t, &ecKey2.PublicKey, "es-2", "ES256", nil),
	}})
	keys, err := ParseJWKS(b)
	if err != nil || len(keys) != 0 {
		t.Fatalf("ParseJWKS(EC set) = %v, %v; want no keys", keys, err)
	}
	tok := forge(hdr("alg", "ES256", "kid", "es-1"), goodClaims(), signWith(esSigner(t)))
	_, err = New(Config{Issuer: issuer, Keys: StaticKeySet(keys), Now: fixed(t0)}).VerifyUser(context.Background(), tok)
	wantErr(t, err, provisioner.EUNAUTHORIZED, "token algorithm not allowed")
}

func TestParseJWKSErrors(t *testing.T) {
	for name, in := range map[string]string{
		"not json":  "{",
		"array":     "[]",
		"keys obj":  `{"keys":{}}`,
		"too large": `{"keys":[],"x":"` + strings.Repeat("a", MaxJWKSSize) + `"}`,
	} {
		if _, err := ParseJWKS([]byte(in)); provisioner.ErrorCode(err) != provisioner.EINVALID {
			t.Errorf("%s: %v, want EINVALID", name, err)
		}
	}
	for _, in := range []string{`{}`, `{"keys":[]}`, `{"keys":null}`, `null`} {
		if keys, err := ParseJWKS([]byte(in)); err != nil || len(keys) != 0 {
			t.Errorf("%s: %v, %v", in, keys, err)
		}
	}
}

func TestStaticKeySet(t *testing.T) {
	ctx := context.Background()
	s := StaticKeySet{{ID: "rs-2", Algorithm: AlgRS256, Key: &rsaKey2.PublicKey}, rsSigner(t).public()}
	if pk, err := s.PublicKey(ctx, "rs-1"); err != nil || pk.Algorithm != AlgRS256 {
		t.Errorf("PublicKey(rs-1) = %v, %v", pk, err)
	}
	_, err := s.PublicKey(ctx, "nope")
	wantErr(t, err, provisioner.ENOTFOUND, "")
	all, _ := s.PublicKeys(ctx)
	all[0].ID = "changed"
	if s[0].ID != "rs-2" {
		t.Error("PublicKeys returned the backing array")
	}
}
