package http_test

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"

	"provisioner"
	"provisioner/jwt"
)

// pemKey fetches GET /auth/pem and returns the key and its id.
func (e *env) pemKey(t *testing.T) (string, *rsa.PublicKey) {
	t.Helper()
	r := e.do("GET", "/auth/pem", "", nil)
	if r.status != 200 || r.header.Get("Content-Type") != "application/x-pem-file" {
		t.Fatalf("GET /auth/pem: %d %v %s", r.status, r.header, r.raw)
	}
	kid := r.header.Get("X-Key-Id")
	if kid == "" {
		t.Fatal("no X-Key-Id")
	}
	block, rest := pem.Decode(r.raw)
	if block == nil || block.Type != "PUBLIC KEY" || len(block.Headers) != 0 || len(strings.TrimSpace(string(rest))) != 0 {
		t.Fatalf("not one PUBLIC KEY PEM block: %q", r.raw)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	key, ok := pub.(*rsa.PublicKey)
	if !ok || key.N.BitLen() != 2048 {
		t.Fatalf("PEM holds a %T, want an RSA-2048 key", pub)
	}
	return kid, key
}

// jwksKeys fetches the JWKS.
func (e *env) jwksKeys(t *testing.T) []provisioner.PublicKey {
	t.Helper()
	r := e.do("GET", "/.well-known/jwks.json", "", nil)
	keys, err := jwt.ParseJWKS(r.raw)
	if r.status != 200 || err != nil {
		t.Fatalf("jwks: %d %v %s", r.status, err, r.raw)
	}
	return keys
}

// rs256Verify checks a token as a cluster's load balancer does
// (jwt_verify(alg, pem)): RS256 over header.payload with the PEM's key,
// nothing else. It returns the header.
func rs256Verify(t *testing.T, key *rsa.PublicKey, token string) (map[string]string, error) {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
	var h map[string]string
	if err := json.Unmarshal(hb, &h); err != nil {
		t.Fatal(err)
	}
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	d := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	return h, rsa.VerifyPKCS1v15(key, crypto.SHA256, d[:], sig)
}

// TestPEM: /auth/pem is the key that signs new tokens, the JWKS's first,
// through rotation and revocation.
func TestPEM(t *testing.T) {
	e := newEnv(t)
	e.register("priv", false)
	ctx := t.Context()

	kid1, key1 := e.pemKey(t)
	keys := e.jwksKeys(t)
	if len(keys) != 1 || keys[0].ID != kid1 || !key1.Equal(keys[0].Key) || keys[0].Algorithm != "RS256" {
		t.Fatalf("PEM %s is not the JWKS's first key: %+v", kid1, keys)
	}
	if cur, _, _ := e.keys.Current(ctx); cur != kid1 {
		t.Fatalf("PEM key %s, signing key %s", kid1, cur)
	}

	// A fresh jwt_user and jwt_cluster verify with the PEM's key alone.
	user1 := e.login("tok-org")
	cluster1 := e.do("POST", "/access", user1, map[string]string{"cluster": "priv"}).str("token")
	for _, tok := range []string{user1, cluster1} {
		h, err := rs256Verify(t, key1, tok)
		if err != nil || h["alg"] != "RS256" || h["kid"] != kid1 {
			t.Fatalf("token does not verify with the PEM's key: %v, header %v", err, h)
		}
	}
	fromPEM := jwt.New(jwt.Config{Issuer: e.srv.URL, Keys: jwt.StaticKeySet{{ID: kid1, Algorithm: jwt.AlgRS256, Key: key1}}})
	if c, err := fromPEM.VerifyUser(ctx, user1); err != nil || c.Subject != "otto" {
		t.Fatalf("VerifyUser with the PEM's key: %+v, %v", c, err)
	}
	if _, err := fromPEM.VerifyCluster(ctx, cluster1, "priv"); err != nil {
		t.Fatalf("VerifyCluster with the PEM's key: %v", err)
	}

	// After a rotation the PEM is the new key; the JWKS lists both, new first.
	kid2, err := e.keys.Rotate()
	if err != nil {
		t.Fatal(err)
	}
	gotKid, key2 := e.pemKey(t)
	if gotKid != kid2 || kid2 == kid1 || key2.Equal(key1) {
		t.Fatalf("after rotation PEM is %s, want the new key %s", gotKid, kid2)
	}
	keys = e.jwksKeys(t)
	if len(keys) != 2 || keys[0].ID != kid2 || !key2.Equal(keys[0].Key) || keys[1].ID != kid1 {
		t.Fatalf("JWKS after rotation: %v", keys)
	}
	user2 := e.login("tok-org")
	if h, err := rs256Verify(t, key2, user2); err != nil || h["kid"] != kid2 {
		t.Fatalf("new token does not verify with the new PEM: %v %v", err, h)
	}
	if _, err := rs256Verify(t, key2, user1); err == nil {
		t.Fatal("an old-key token verifies with the new PEM")
	}
	if _, err := e.tokens.VerifyUser(ctx, user1); err != nil {
		t.Fatalf("rotation invalidated a live token: %v", err)
	}

	// Revoking the old key: gone from the JWKS and the PEM; what it signed
	// fails at once, at the provisioner and with the published keys.
	if cur, err := e.keys.Revoke(kid1); err != nil || cur != kid2 {
		t.Fatalf("Revoke(%s) = %s, %v", kid1, cur, err)
	}
	keys = e.jwksKeys(t)
	if len(keys) != 1 || keys[0].ID != kid2 {
		t.Fatalf("JWKS after revocation: %v", keys)
	}
	if gotKid, key := e.pemKey(t); gotKid != kid2 || !key.Equal(key2) {
		t.Fatalf("PEM after revoking a retired key: %s", gotKid)
	}
	for _, tok := range []string{user1, cluster1} {
		if _, err := e.tokens.VerifyUser(ctx, tok); provisioner.ErrorCode(err) != provisioner.EUNAUTHORIZED {
			t.Errorf("token of a revoked key: VerifyUser %v", err)
		}
	}
	if _, err := e.tokens.VerifyCluster(ctx, cluster1, "priv"); provisioner.ErrorCode(err) != provisioner.EUNAUTHORIZED {
		t.Errorf("jwt_cluster of a revoked key: %v", err)
	}
	fromJWKS := jwt.New(jwt.Config{Issuer: e.srv.URL, Keys: jwt.StaticKeySet(keys)})
	if _, err := fromJWKS.VerifyUser(ctx, user1); provisioner.ErrorCode(err) != provisioner.EUNAUTHORIZED {
		t.Errorf("token of a revoked key verifies with the JWKS: %v", err)
	}
	wantError(t, e.do("GET", "/auth/whoami", user1, nil), 401, provisioner.EUNAUTHORIZED)
	if r := e.do("GET", "/auth/whoami", user2, nil); r.status != 200 {
		t.Fatalf("token of the current key after revoking another: %d %s", r.status, r.raw)
	}

	// Revoking the current key: a new one signs, and the PEM says so.
	kid3, err := e.keys.Revoke(kid2)
	if err != nil || kid3 == kid2 || kid3 == "" {
		t.Fatalf("Revoke(current) = %s, %v", kid3, err)
	}
	if gotKid, key := e.pemKey(t); gotKid != kid3 || key.Equal(key2) {
		t.Fatalf("PEM after revoking the current key: %s, want %s", gotKid, kid3)
	}
	if keys = e.jwksKeys(t); len(keys) != 1 || keys[0].ID != kid3 {
		t.Fatalf("JWKS after revoking the current key: %v", keys)
	}
	wantError(t, e.do("GET", "/auth/whoami", user2, nil), 401, provisioner.EUNAUTHORIZED)
	user3 := e.login("tok-org")
	if h, err := rs256Verify(t, e.mustPEM(t), user3); err != nil || h["kid"] != kid3 {
		t.Fatalf("token after revoking the current key: %v %v", err, h)
	}
}

func (e *env) mustPEM(t *testing.T) *rsa.PublicKey {
	_, k := e.pemKey(t)
	return k
}

// TestOpenIDConfigurationRS256: discovery names RS256 alone and the
// production claims.
func TestOpenIDConfigurationRS256(t *testing.T) {
	e := newEnv(t)
	r := e.do("GET", "/.well-known/openid-configuration", "", nil)
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	if got := strList(r.body["id_token_signing_alg_values_supported"]); len(got) != 1 || got[0] != "RS256" {
		t.Errorf("algorithms %v, want [RS256]", got)
	}
	claims := strings.Join(strList(r.body["claims_supported"]), " ")
	for _, c := range []string{"iss", "sub", "aud", "exp", "iat", "org", "org_roles"} {
		if !strings.Contains(" "+claims+" ", " "+c+" ") {
			t.Errorf("claims_supported %q lacks %s", claims, c)
		}
	}
}
