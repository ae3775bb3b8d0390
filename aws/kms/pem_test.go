package kms_test

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"provisioner"
	phttp "provisioner/http"
	"provisioner/jwt"
)

func get(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, res.StatusCode, b)
	}
	return res, b
}

// TestPEMOfKMSKey is the AWS backend as a cluster sees it: an RSA_2048 KMS
// key signs a jwt_user, the provisioner's HTTP server over that signer
// serves the key at /auth/pem, and the token verifies with that PEM alone
// (what the load balancer's jwt_verify does) and with the JWKS, carrying
// production's "aud" list and "org_roles".
func TestPEMOfKMSKey(t *testing.T) {
	c, _ := emulator(t)
	arn := signingKey(t, c, types.KeySpecRsa2048)
	s := newSigner(t, c, arn)
	srv := httptest.NewServer(phttp.NewServer(phttp.Config{Keys: s, Issuer: issuer}))
	t.Cleanup(srv.Close)

	res, body := get(t, srv.URL+"/auth/pem")
	if ct := res.Header.Get("Content-Type"); ct != "application/x-pem-file" {
		t.Errorf("Content-Type %q", ct)
	}
	block, rest := pem.Decode(body)
	if block == nil || block.Type != "PUBLIC KEY" || strings.TrimSpace(string(rest)) != "" {
		t.Fatalf("not one PUBLIC KEY PEM block: %q", body)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	key, ok := pub.(*rsa.PublicKey)
	if !ok || key.N.BitLen() != 2048 {
		t.Fatalf("PEM holds a %T, want the RSA-2048 KMS key", pub)
	}
	kid, _, err := s.Current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Header.Get("X-Key-Id") != kid {
		t.Errorf("X-Key-Id %q, want %q", res.Header.Get("X-Key-Id"), kid)
	}

	_, jwksBody := get(t, srv.URL+"/.well-known/jwks.json")
	keys, err := jwt.ParseJWKS(jwksBody)
	if err != nil || len(keys) != 1 || keys[0].ID != kid || !key.Equal(keys[0].Key) {
		t.Fatalf("JWKS %s does not hold the PEM's key: %v", jwksBody, err)
	}

	tok, _, err := jwt.New(jwt.Config{Issuer: issuer, Signer: s}).IssueUser(ctx, alice, []string{"runner", "monitor", "*"})
	if err != nil {
		t.Fatal(err)
	}

	// The load balancer's check: RS256 over header.payload with the PEM key.
	parts := strings.Split(tok, ".")
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(key, crypto.SHA256, digest[:], sig); err != nil {
		t.Fatalf("jwt_user does not verify with the served PEM: %v", err)
	}
	var hdr map[string]string
	hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
	if err := json.Unmarshal(hb, &hdr); err != nil || hdr["alg"] != "RS256" || hdr["typ"] != provisioner.TypeUserToken || hdr["kid"] != kid {
		t.Fatalf("header %s: %v", hb, err)
	}
	var payload struct {
		Aud      any      `json:"aud"`
		OrgRoles []string `json:"org_roles"`
		Iss      string   `json:"iss"`
		Sub      string   `json:"sub"`
		Org      string   `json:"org"`
		Iat, Exp int64
	}
	pb, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if err := json.Unmarshal(pb, &payload); err != nil {
		t.Fatal(err)
	}
	aud, ok := payload.Aud.([]any)
	if !ok || len(aud) != 4 || aud[0] != "provisioner" || aud[3] != "*" {
		t.Errorf("aud %v, want the list [provisioner runner monitor *]", payload.Aud)
	}
	if !slices.Equal(payload.OrgRoles, []string{"member"}) || payload.Iss != issuer || payload.Sub != "alice" ||
		payload.Org != alice.Org || payload.Exp-payload.Iat != int64(jwt.DefaultUserTTL.Seconds()) {
		t.Errorf("payload %s", pb)
	}

	// A verifier that knows only the PEM, or only the JWKS, accepts it.
	for name, ks := range map[string]jwt.StaticKeySet{
		"PEM":  {{ID: res.Header.Get("X-Key-Id"), Algorithm: jwt.AlgRS256, Key: key}},
		"JWKS": keys,
	} {
		v := jwt.New(jwt.Config{Issuer: issuer, Keys: ks})
		got, err := v.VerifyUser(ctx, tok)
		if err != nil || !slices.Equal(got.Audience, []string{"provisioner", "runner", "monitor", "*"}) || !slices.Equal(got.OrgRoles, []string{"member"}) {
			t.Errorf("%s: %+v, %v", name, got, err)
		}
		if _, err := v.VerifyCluster(ctx, tok, "any-cluster"); err != nil {
			t.Errorf("%s: jwt_user with * at a cluster: %v", name, err)
		}
	}
}
