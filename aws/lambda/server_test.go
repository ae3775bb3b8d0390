package lambda_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"provisioner"
	"provisioner/app"
	phttp "provisioner/http"
	"provisioner/jwt"
	"provisioner/local/keyring"
	"provisioner/sqlite"
	"provisioner/static"

	"provisioner/aws/lambda"
)

// server is the provisioner's real HTTP API (SQLite, local keys, the
// example static identity) behind the Lambda handler.
type server struct {
	h     *lambda.Handler
	store *sqlite.DB
}

func newServer(t *testing.T) *server {
	t.Helper()
	dir := t.TempDir()
	store, err := sqlite.Open(filepath.Join(dir, "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	keys, err := keyring.Open(keyring.Config{Dir: filepath.Join(dir, "keys")})
	if err != nil {
		t.Fatal(err)
	}
	ident, err := os.ReadFile(filepath.Join("..", "..", "examples", "identity.json"))
	if err != nil {
		t.Fatal(err)
	}
	idp, err := static.Parse(ident)
	if err != nil {
		t.Fatal(err)
	}
	issuer := "https://provisioner.slideruleearth.io"
	a := app.New(app.Config{Store: store, Identity: idp, Logger: quiet,
		Tokens: jwt.New(jwt.Config{Issuer: issuer, Signer: keys})})
	srv := phttp.NewServer(phttp.Config{App: a, Keys: keys, Issuer: issuer, Logger: quiet})
	return &server{h: &lambda.Handler{HTTP: srv, Logger: quiet}, store: store}
}

// login runs a login fixture and returns the token and the audit entry.
func (s *server) login(t *testing.T, name string) (string, provisioner.AuditEntry) {
	t.Helper()
	resp := invokeHTTP(t, s.h, fixture(t, name))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: status %d: %s", name, resp.StatusCode, resp.Body)
	}
	if ct := resp.Headers["Content-Type"]; !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q", ct)
	}
	var reply struct {
		Status   string         `json:"status"`
		Token    string         `json:"token"`
		Metadata map[string]any `json:"metadata"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &reply); err != nil {
		t.Fatal(err)
	}
	if reply.Status != "success" || reply.Token == "" {
		t.Fatalf("reply = %s", resp.Body)
	}
	entries, err := s.store.ListAudit(bg, provisioner.AuditFilter{Action: "login.pat", Limit: 1})
	if err != nil || len(entries) != 1 {
		t.Fatalf("audit: %v, %v", entries, err)
	}
	return reply.Token, entries[0]
}

// A POST with a JSON body logs in through the real server, and the audit
// records the client address API Gateway saw.
func TestServerLogin(t *testing.T) {
	s := newServer(t)
	tok, e := s.login(t, "apigw-post-json.json")
	if e.Actor != "dev-member" || e.Result != "success" || e.Source != "198.51.100.20" {
		t.Errorf("audit entry = %+v", e)
	}

	// The token works on the next request (Authorization from the event's headers).
	payload := fixture(t, "apigw-get-query-cookies.json")
	var ev map[string]any
	if err := json.Unmarshal(payload, &ev); err != nil {
		t.Fatal(err)
	}
	ev["rawPath"], ev["rawQueryString"] = "/auth/whoami", ""
	ev["headers"].(map[string]any)["authorization"] = "Bearer " + tok
	payload, _ = json.Marshal(ev)
	resp := invokeHTTP(t, s.h, payload)
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Body, "dev-member") {
		t.Errorf("whoami: %d %s", resp.StatusCode, resp.Body)
	}
}

// X-Forwarded-For as API Gateway passes it: the client's own entry first,
// the address API Gateway saw last. The audit believes API Gateway only.
func TestServerForwardedFor(t *testing.T) {
	s := newServer(t)
	_, e := s.login(t, "apigw-xff-ipv6.json")
	if e.Actor != "dev-admin" || e.Source != "2001:db8::7" {
		t.Errorf("audit entry = %+v, want source 2001:db8::7 (not the client-written 10.0.0.66)", e)
	}
}

func TestServerErrors(t *testing.T) {
	s := newServer(t)
	base := fixture(t, "apigw-get-query-cookies.json")
	for _, tc := range []struct {
		method, path string
		status       int
		errCode      string
	}{
		{"GET", "/healthz", 200, ""},
		{"GET", "/no/such/thing", 404, "not_found"},
		{"GET", "/auth/github/pat", 405, "method_not_allowed"},
		{"GET", "/.well-known/jwks.json", 200, ""},
	} {
		var ev map[string]any
		if err := json.Unmarshal(base, &ev); err != nil {
			t.Fatal(err)
		}
		ev["rawPath"], ev["rawQueryString"] = tc.path, ""
		ev["requestContext"].(map[string]any)["http"].(map[string]any)["method"] = tc.method
		delete(ev["headers"].(map[string]any), "authorization")
		payload, _ := json.Marshal(ev)
		resp := invokeHTTP(t, s.h, payload)
		var reply map[string]any
		if err := json.Unmarshal([]byte(resp.Body), &reply); err != nil {
			t.Errorf("%s %s: body %q: %v", tc.method, tc.path, resp.Body, err)
			continue
		}
		if resp.StatusCode != tc.status || (tc.errCode != "" && reply["error"] != tc.errCode) {
			t.Errorf("%s %s: %d %s, want %d %s", tc.method, tc.path, resp.StatusCode, resp.Body, tc.status, tc.errCode)
		}
	}
}
