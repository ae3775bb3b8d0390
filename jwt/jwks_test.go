package jwt

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"provisioner"
)

func TestMarshalJWKS(t *testing.T) {
	es, rs := esSigner(t), rsSigner(t)
	b, err := MarshalJWKS([]provisioner.PublicKey{es.public(), rs.public()})
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
	ec := set.Keys[0]
	for k, want := range map[string]any{"kty": "EC", "crv": "P-256", "kid": "es-1", "alg": "ES256", "use": "sig"} {
		if ec[k] != want {
			t.Errorf("EC key %s = %v, want %v", k, ec[k], want)
		}
	}
	if ec["x"] == nil || ec["y"] == nil || ec["d"] != nil {
		t.Errorf("EC key members %v", ec)
	}
	if r := set.Keys[1]; r["kty"] != "RSA" || r["alg"] != "RS256" || r["n"] == nil || r["e"] == nil || r["d"] != nil {
		t.Errorf("RSA key %v", r)
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
		"EC private key":  {ID: "a", Algorithm: AlgES256, Key: ecKey},
		"RSA private key": {ID: "a", Algorithm: AlgRS256, Key: rsaKey},
		"EC as RS256":     {ID: "a", Algorithm: AlgRS256, Key: &ecKey.PublicKey},
		"P-384":           {ID: "a", Algorithm: AlgES256, Key: &p384.PublicKey},
		"RSA 1024":        {ID: "a", Algorithm: AlgRS256, Key: &rsaSmall.PublicKey},
		"Ed25519":         {ID: "a", Algorithm: "EdDSA", Key: edPub},
		"no kid":          {Algorithm: AlgES256, Key: &ecKey.PublicKey},
		"nil key":         {ID: "a", Algorithm: AlgES256},
	} {
		b, err := MarshalJWKS([]provisioner.PublicKey{pk})
		if provisioner.ErrorCode(err) != provisioner.EINTERNAL {
			t.Errorf("%s: published %s, %v", name, b, err)
		}
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
		jwk(t, &ecKey.PublicKey, "ok-ec", "ES256", nil),
		jwk(t, &rsaKey.PublicKey, "ok-rsa", "RS256", nil),
		jwk(t, &ecKey2.PublicKey, "ok-ec-noalg", "", nil),
		jwk(t, &rsaKey.PublicKey, "ok-rsa-noalg", "", nil),
		jwk(t, &ecKey2.PublicKey, "ok-ec", "ES256", nil), // duplicate kid
		jwk(t, ecKey, "ok-ec-private", "ES256", nil),     // private members dropped
		jwk(t, &ecKey.PublicKey, "", "ES256", nil),
		jwk(t, &ecKey.PublicKey, "enc", "ES256", func(m map[string]any) { m["use"] = "enc" }),
		jwk(t, &ecKey.PublicKey, "es-as-rs", "RS256", nil),
		jwk(t, &rsaKey.PublicKey, "ps256", "PS256", nil),
		jwk(t, &rsaSmall.PublicKey, "small", "RS256", nil),
		jwk(t, &p384.PublicKey, "p384", "ES384", nil),
		jwk(t, &p384.PublicKey, "p384-as-es256", "ES256", nil),
		jwk(t, edPub, "ed", "EdDSA", nil),
		jwk(t, []byte("secret"), "hmac", "HS256", nil),
		jwk(t, &ecKey.PublicKey, "off-curve", "ES256", func(m map[string]any) { m["y"] = m["x"] }),
		jwk(t, &ecKey.PublicKey, "bad-x", "ES256", func(m map[string]any) { m["x"] = "!!" }),
		jwk(t, &ecKey.PublicKey, "num-kid", "ES256", func(m map[string]any) { m["kid"] = 5 }),
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
	}
	want := []string{"ok-ec/ES256", "ok-rsa/RS256", "ok-ec-noalg/ES256", "ok-rsa-noalg/RS256", "ok-ec-private/ES256"}
	if !slices.Equal(ids, want) {
		t.Errorf("kept %v, want %v", ids, want)
	}
	if _, isPriv := got[4].Key.(*ecdsa.PrivateKey); isPriv {
		t.Error("kept a private key")
	}
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
	s := StaticKeySet{esSigner(t).public(), rsSigner(t).public()}
	if pk, err := s.PublicKey(ctx, "rs-1"); err != nil || pk.Algorithm != AlgRS256 {
		t.Errorf("PublicKey(rs-1) = %v, %v", pk, err)
	}
	_, err := s.PublicKey(ctx, "nope")
	wantErr(t, err, provisioner.ENOTFOUND, "")
	all, _ := s.PublicKeys(ctx)
	all[0].ID = "changed"
	if s[0].ID != "es-1" {
		t.Error("PublicKeys returned the backing array")
	}
}
