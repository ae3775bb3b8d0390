package http_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	gojwt "github.com/golang-jwt/jwt/v5"

	"provisioner"
	"provisioner/jwt"
)

func TestBadBodies(t *testing.T) {
	e := newEnv(t)
	tok := e.login("tok-admin")
	for name, tc := range map[string]struct {
		body   any
		hdr    []string
		status int
		code   string
	}{
		"malformed":      {`{"cluster":`, nil, 400, provisioner.EINVALID},
		"syntax":         {`{cluster: "x"}`, nil, 400, provisioner.EINVALID},
		"not an object":  {`["x"]`, nil, 400, provisioner.EINVALID},
		"wrong type":     {`{"cluster": 5}`, nil, 400, provisioner.EINVALID},
		"unknown field":  {`{"cluster":"x","extra":1}`, nil, 400, provisioner.EINVALID},
		"two objects":    {`{"cluster":"x"}{"cluster":"y"}`, nil, 400, provisioner.EINVALID},
		"empty":          {``, nil, 400, provisioner.EINVALID},
		"oversized":      {`{"cluster":"` + strings.Repeat("a", 70<<10) + `"}`, nil, 413, provisioner.ETOOLARGE},
		"form, not JSON": {`cluster=x`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 400, provisioner.EINVALID},
		"bad name":       {`{"cluster":"x;rm -rf /"}`, nil, 400, provisioner.EINVALID},
		"uppercase":      {`{"cluster":"Prod"}`, nil, 400, provisioner.EINVALID},
		"reserved":       {`{"cluster":"login"}`, nil, 400, provisioner.EINVALID},
		"production's":   {`{"cluster":"sliderule"}`, nil, 400, provisioner.EINVALID},
		"too long":       {`{"cluster":"` + strings.Repeat("a", 41) + `"}`, nil, 400, provisioner.EINVALID},
	} {
		t.Run(name, func(t *testing.T) {
			wantError(t, e.do("POST", "/access", tok, tc.body, tc.hdr...), tc.status, tc.code)
		})
	}
	// The Python client sends provisioner calls without a Content-Type.
	e.register("plain", true)
	if r := e.do("POST", "/access", tok, `{"cluster":"plain"}`, "Content-Type", ""); r.status != 200 {
		t.Fatalf("no Content-Type: %d %s", r.status, r.raw)
	}
	// curl -d labels JSON a form (production's workflows); it is read as JSON.
	for _, ct := range []string{"application/x-www-form-urlencoded", "text/plain"} {
		if r := e.do("POST", "/access", tok, `{"cluster":"plain"}`, "Content-Type", ct); r.status != 200 {
			t.Fatalf("JSON sent as %s: %d %s", ct, r.status, r.raw)
		}
	}
	wantError(t, e.do("POST", "/auth/github/pat", "", `{"pat":"`+strings.Repeat("x", 5000)+`"}`), 400, provisioner.EINVALID)
	wantError(t, e.do("POST", "/auth/github/pat", "", `{"pat":"a b"}`), 400, provisioner.EINVALID)
	wantError(t, e.do("POST", "/auth/github/pat", "", `{"token":"tok-admin"}`), 400, provisioner.EINVALID)
}

func TestRoutingErrors(t *testing.T) {
	e := newEnv(t)
	wantError(t, e.do("GET", "/nope", "", nil), 404, provisioner.ENOTFOUND)
	r := e.do("GET", "/access", "", nil)
	if r.status != 405 || r.str("error") != "method_not_allowed" || r.header.Get("Allow") != "POST" {
		t.Fatalf("%d %v %s", r.status, r.header, r.raw)
	}
}

// forge signs claims with a key of the test's own.
func forge(t *testing.T, method gojwt.SigningMethod, key any, header map[string]any, claims gojwt.MapClaims) string {
	t.Helper()
	tk := gojwt.NewWithClaims(method, claims)
	for k, v := range header {
		tk.Header[k] = v
	}
	s, err := tk.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestForgedTokens(t *testing.T) {
	e := newEnv(t)
	e.register("priv", false)
	good := e.login("tok-admin")
	parts := strings.Split(good, ".")
	var hdr map[string]any
	raw, _ := base64.RawURLEncoding.DecodeString(parts[0])
	_ = json.Unmarshal(raw, &hdr)
	kid := hdr["kid"].(string)
	now := time.Now()
	claims := func(mod func(gojwt.MapClaims)) gojwt.MapClaims {
		c := gojwt.MapClaims{"iss": "http://" + e.srv.Listener.Addr().String(), "sub": "ada", "uid": 3, "level": "admin",
			"org": org, "org_roles": []string{"owner", "member"}, "aud": []string{"provisioner", "*"},
			"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": "x"}
		if mod != nil {
			mod(c)
		}
		return c
	}
	userHdr := map[string]any{"kid": kid, "typ": provisioner.TypeUserToken}
	// The forged tokens' jti names a live session, so that only the
	// signature and the claims decide.
	if err := e.store.CreateSession(t.Context(), provisioner.Session{ID: "x", Login: "ada", UID: 3, Level: provisioner.LevelAdmin,
		Created: now, Expires: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	foreignRSA, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	foreignEC, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)

	pub, err := e.keys.PublicKey(t.Context(), kid)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(pub.Key)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	jwks, _ := jwt.MarshalJWKS([]provisioner.PublicKey{pub})

	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"user+jwt","kid":"`+kid+`"}`)) + "." + parts[1] + "."
	for name, tok := range map[string]string{
		"garbage":          "garbage",
		"alg none":         none,
		"hs256 public pem": forge(t, gojwt.SigningMethodHS256, pubPEM, userHdr, claims(nil)),
		"hs256 public der": forge(t, gojwt.SigningMethodHS256, der, userHdr, claims(nil)),
		"hs256 jwks":       forge(t, gojwt.SigningMethodHS256, jwks, userHdr, claims(nil)),
		"foreign key":      forge(t, gojwt.SigningMethodRS256, foreignRSA, userHdr, claims(nil)),
		"unknown kid":      forge(t, gojwt.SigningMethodRS256, foreignRSA, map[string]any{"kid": "nope", "typ": "user+jwt"}, claims(nil)),
		"ES256, our kid":   forge(t, gojwt.SigningMethodES256, foreignEC, userHdr, claims(nil)),
		"ES256, own kid":   forge(t, gojwt.SigningMethodES256, foreignEC, map[string]any{"kid": "es-1", "typ": "user+jwt"}, claims(nil)),
		"PS256, our kid":   forge(t, gojwt.SigningMethodPS256, foreignRSA, userHdr, claims(nil)),
		"aud a string":     forge(t, gojwt.SigningMethodRS256, foreignRSA, userHdr, claims(func(c gojwt.MapClaims) { c["aud"] = "provisioner" })),
		"tampered payload": parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"ada","level":"admin","aud":["provisioner"]}`)) + "." + parts[2],
		"truncated":        good[:len(good)-10],
		"oversized":        strings.Repeat("a", 9000),
	} {
		t.Run(name, func(t *testing.T) {
			wantError(t, e.do("POST", "/access", tok, map[string]string{"cluster": "priv"}), 401, provisioner.EUNAUTHORIZED)
		})
	}
	// Signed by the provisioner's own key, but not a jwt_user for it.
	signed := func(typ string, mod func(gojwt.MapClaims)) string {
		return e.sign(t, map[string]any{"typ": typ}, claims(mod))
	}
	if r := e.do("POST", "/access", signed(provisioner.TypeUserToken, nil), map[string]string{"cluster": "priv"}); r.status != 200 {
		t.Fatalf("control: a well-formed jwt_user signed by our key: %d %s", r.status, r.raw)
	}
	for name, tok := range map[string]string{
		"aud a string":            signed(provisioner.TypeUserToken, func(c gojwt.MapClaims) { c["aud"] = "provisioner" }),
		"aud without provisioner": signed(provisioner.TypeUserToken, func(c gojwt.MapClaims) { c["aud"] = []string{"priv", "*"} }),
		"jwt_cluster":             signed(provisioner.TypeClusterToken, func(c gojwt.MapClaims) { c["aud"] = "provisioner" }),
		"org_roles a string":      signed(provisioner.TypeUserToken, func(c gojwt.MapClaims) { c["org_roles"] = "owner" }),
	} {
		t.Run("own key/"+name, func(t *testing.T) {
			wantError(t, e.do("POST", "/access", tok, map[string]string{"cluster": "priv"}), 401, provisioner.EUNAUTHORIZED)
		})
	}
	// Malformed Authorization headers.
	for _, h := range []string{"Basic abc", "Bearer", "Bearer ", "token"} {
		wantError(t, e.do("POST", "/access", "", map[string]string{"cluster": "priv"}, "Authorization", h), 401, provisioner.EUNAUTHORIZED)
	}
}

// TestJWKSVerifies: a verifier that knows only the published JWKS and the
// issuer accepts the provisioner's tokens (what a gateway does).
func TestJWKSVerifies(t *testing.T) {
	e := newEnv(t)
	e.register("priv", false)
	r := e.do("GET", "/.well-known/openid-configuration", "", nil)
	issuer := r.str("issuer")
	if r.status != 200 || issuer != e.srv.URL || r.str("jwks_uri") != issuer+"/.well-known/jwks.json" {
		t.Fatalf("discovery: %d %s", r.status, r.raw)
	}
	r = e.do("GET", "/.well-known/jwks.json", "", nil)
	keys, err := jwt.ParseJWKS(r.raw)
	if err != nil || len(keys) != 1 {
		t.Fatalf("jwks: %v %s", err, r.raw)
	}
	v := jwt.New(jwt.Config{Issuer: issuer, Keys: jwt.StaticKeySet(keys)})
	a := e.do("POST", "/access", e.login("tok-org"), map[string]string{"cluster": "priv"})
	if _, err := v.VerifyCluster(t.Context(), a.str("token"), "priv"); err != nil {
		t.Fatalf("jwt_cluster does not verify against the JWKS: %v", err)
	}
	// After a rotation both keys are published and the old token still verifies.
	if _, err := e.keys.Rotate(); err != nil {
		t.Fatal(err)
	}
	r = e.do("GET", "/.well-known/jwks.json", "", nil)
	keys, _ = jwt.ParseJWKS(r.raw)
	if len(keys) != 2 {
		t.Fatalf("after rotation want 2 keys, got %d", len(keys))
	}
	v = jwt.New(jwt.Config{Issuer: issuer, Keys: jwt.StaticKeySet(keys)})
	if _, err := v.VerifyCluster(t.Context(), a.str("token"), "priv"); err != nil {
		t.Fatalf("old token after rotation: %v", err)
	}
}

// sign makes a token with the given header fields and claims, signed by the
// provisioner's current key: a forgery only the issuer could make.
func (e *env) sign(t *testing.T, header map[string]any, claims gojwt.MapClaims) string {
	t.Helper()
	kid, alg, err := e.keys.Current(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	h := map[string]any{"alg": alg, "kid": kid}
	for k, v := range header {
		h[k] = v
	}
	hb, _ := json.Marshal(h)
	cb, _ := json.Marshal(claims)
	in := base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString(cb)
	sig, skid, _, err := e.keys.Sign(t.Context(), []byte(in))
	if err != nil || skid != kid {
		t.Fatalf("sign: %v (kid %s, want %s)", err, skid, kid)
	}
	return in + "." + base64.RawURLEncoding.EncodeToString(sig)
}
