package ilb_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"provisioner/local/ilb"
	"provisioner/local/ilb/ilbtest"
)

const issuer = "http://127.0.0.1:1/issuer"

// key is an RS256 signing key and its PEM, as /auth/pem serves it.
type key struct {
	priv *rsa.PrivateKey
	kid  string
	pem  []byte
}

func newKey(t testing.TB, kid string) key {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return key{priv, kid, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})}
}

// token mints a token with production's claims; edit changes them.
func (k key) token(t testing.TB, typ string, aud any, edit ...func(jwt.MapClaims)) string {
	t.Helper()
	now := time.Now()
	c := jwt.MapClaims{"iss": issuer, "sub": "alice", "aud": aud, "org_roles": []string{"member"},
		"org": "SlideRuleEarth", "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"jti": "j-" + typ, "uid": 7, "level": "org_member"}
	for _, e := range edit {
		e(c)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	tok.Header["kid"], tok.Header["typ"] = k.kid, typ
	s, err := tok.SignedString(k.priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func loginAud() []string { return []string{"provisioner", "runner", "monitor", "*"} }

// echo is what the stand-in node answers.
type echo struct {
	Cluster  string `json:"cluster"`
	Account  string `json:"account"`
	OrgRoles string `json:"org_roles"`
}

func TestPrivateCluster(t *testing.T) {
	t.Parallel()
	k := newKey(t, "k1")
	l := ilbtest.Start(t, ilbtest.Options{Cluster: "demo", Issuer: issuer, PEM: k.pem, Nodes: 2})
	other := newKey(t, "k2")
	refused := map[string]string{
		"no token":        "",
		"expired":         k.token(t, "cluster+jwt", "demo", func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Minute).Unix() }),
		"wrong iss":       k.token(t, "cluster+jwt", "demo", func(c jwt.MapClaims) { c["iss"] = "http://127.0.0.1:2/other" }),
		"wrong key":       other.token(t, "cluster+jwt", "demo"),
		"another cluster": k.token(t, "cluster+jwt", "other"),
		"HS256":           hs256(t),
		"garbage":         "not.a.token",
	}
	for name, tok := range refused {
		var h []string
		if tok != "" {
			h = []string{"Authorization", "Bearer " + tok}
		}
		res, body := l.Get(t, "/source/version", h...)
		if res.StatusCode != http.StatusForbidden || strings.Contains(string(body), `"cluster"`) {
			t.Errorf("%s: %d %q, want 403 from the ILB", name, res.StatusCode, body)
		}
	}
	accepted := map[string]string{
		"jwt_cluster":       k.token(t, "cluster+jwt", "demo"),
		"member login":      k.token(t, "user+jwt", loginAud()),
		"login for cluster": k.token(t, "user+jwt", []string{"provisioner", "demo"}),
	}
	for name, tok := range accepted {
		res, body := l.Get(t, "/source/version", "Authorization", "Bearer "+tok)
		var e echo
		if res.StatusCode != http.StatusOK || json.Unmarshal(body, &e) != nil || e.Cluster != "demo" ||
			e.Account != "alice" || e.OrgRoles != `["member"]` {
			t.Errorf("%s: %d %q", name, res.StatusCode, body)
		}
	}
	// The token may come as the cookie too, as production reads it.
	res, body := l.Get(t, "/source/version", "Cookie", "token="+k.token(t, "cluster+jwt", "demo"))
	if res.StatusCode != http.StatusOK {
		t.Errorf("cookie: %d %q", res.StatusCode, body)
	}
	// The SlideRule client's capacity check goes through the user port.
	if n, err := ilb.Nodes(t.Context(), l.URL, ""); err != nil || n != 2 {
		t.Errorf("/discovery/status through the user port: %d, %v", n, err)
	}
	if name, err := ilb.Whoami(t.Context(), l.URL); err != nil || name != "demo" {
		t.Errorf("/discovery/whoami: %q, %v", name, err)
	}
}

func hs256(t testing.TB) string {
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": issuer, "sub": "mallory", "aud": "*",
		"exp": time.Now().Add(time.Hour).Unix()})
	s, err := tok.SignedString([]byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPublicCluster(t *testing.T) {
	t.Parallel()
	k := newKey(t, "k1")
	l := ilbtest.Start(t, ilbtest.Options{Cluster: "pub", Public: true, Issuer: issuer, PEM: k.pem})

	// Anonymous passes, and forged identity headers never reach the node.
	res, body := l.Get(t, "/source/version", "X-Sliderule-Account", "admin", "X-Sliderule-Org-Roles", `["owner"]`)
	var e echo
	if res.StatusCode != http.StatusOK || json.Unmarshal(body, &e) != nil || e.Account != "" || e.OrgRoles != "" {
		t.Errorf("anonymous: %d %q", res.StatusCode, body)
	}
	// An invalid token is refused, not downgraded.
	bad := newKey(t, "k2").token(t, "cluster+jwt", "pub")
	if res, body := l.Get(t, "/source/version", "Authorization", "Bearer "+bad); res.StatusCode != http.StatusForbidden {
		t.Errorf("invalid token: %d %q", res.StatusCode, body)
	}
	// A valid one sets the identity from its claims, replacing forged copies.
	tok := k.token(t, "user+jwt", loginAud(), func(c jwt.MapClaims) { c["org_roles"] = []string{"owner", "member"} })
	res, body = l.Get(t, "/source/version", "Authorization", "Bearer "+tok,
		"X-Sliderule-Account", "admin", "x-sliderule-account", "root", "X-Sliderule-Org-Roles", `["owner"]`)
	e = echo{}
	if res.StatusCode != http.StatusOK || json.Unmarshal(body, &e) != nil || e.Account != "alice" || e.OrgRoles != `["owner","member"]` {
		t.Errorf("member: %d %q", res.StatusCode, body)
	}
}

// The node-facing orchestrator API is not reachable through the user port.
func TestDiscoveryNotOnUserPort(t *testing.T) {
	t.Parallel()
	k := newKey(t, "k1")
	l := ilbtest.Start(t, ilbtest.Options{Cluster: "demo", Issuer: issuer, PEM: k.pem, Nodes: 1})
	tok := k.token(t, "user+jwt", loginAud())
	for _, path := range []string{"/discovery/register", "/discovery/lock", "/discovery/unlock", "/discovery/selflock"} {
		body := `{"service":"demo","lifetime":600,"address":"http://127.0.0.1:1"}`
		req, _ := http.NewRequest(http.MethodPost, l.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode == http.StatusOK {
			t.Errorf("POST %s on the user port: %s", path, res.Status)
		}
	}
	if n, err := ilb.Nodes(t.Context(), l.DiscoveryURL, ""); err != nil || n != 1 {
		t.Errorf("nodes after the attempts: %d, %v (want 1: nothing registered from the user port)", n, err)
	}
}

// Nodes renew their registration before it ends, as server.lua does.
func TestNodesReregister(t *testing.T) {
	t.Parallel()
	k := newKey(t, "k1")
	l := ilbtest.Start(t, ilbtest.Options{Cluster: "demo", Issuer: issuer, PEM: k.pem, Nodes: 2, NodeLifetime: 2 * time.Second})
	time.Sleep(3500 * time.Millisecond) // past the first lifetime; the orchestrator scrubs every second
	if n, err := ilb.Nodes(t.Context(), l.DiscoveryURL, ""); err != nil || n != 2 {
		t.Errorf("nodes after a lifetime: %d, %v", n, err)
	}
}

// A key rotation reloads the ILB: tokens of the new key open it, those of
// the old one no longer do, and the nodes stay registered.
func TestReloadKey(t *testing.T) {
	t.Parallel()
	k1, k2 := newKey(t, "k1"), newKey(t, "k2")
	l := ilbtest.Start(t, ilbtest.Options{Cluster: "demo", Issuer: issuer, PEM: k1.pem, Nodes: 2})
	if res, _ := l.Get(t, "/source/version", "Authorization", "Bearer "+k1.token(t, "cluster+jwt", "demo")); res.StatusCode != http.StatusOK {
		t.Fatalf("before: %s", res.Status)
	}
	l.SetPEM(t, k2.pem)
	if res, body := l.Get(t, "/source/version", "Authorization", "Bearer "+k2.token(t, "cluster+jwt", "demo")); res.StatusCode != http.StatusOK {
		t.Errorf("new key after reload: %d %q", res.StatusCode, body)
	}
	if res, _ := l.Get(t, "/source/version", "Authorization", "Bearer "+k1.token(t, "cluster+jwt", "demo")); res.StatusCode != http.StatusForbidden {
		t.Errorf("old key after reload: %s", res.Status)
	}
	if n, err := ilb.Nodes(t.Context(), l.URL, ""); err != nil || n != 2 {
		t.Errorf("nodes after reload: %d, %v", n, err)
	}
}
