package gateway

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"provisioner"
	"provisioner/jwt"
	"provisioner/local/keyring"
	"provisioner/testkit"
)

const testIssuer = "https://provisioner.example.org"

var (
	ada  = provisioner.User{Login: "ada", ID: 1, Level: provisioner.LevelAdmin}
	otto = provisioner.User{Login: "otto", ID: 2, Level: provisioner.LevelOrgMember, Org: "sliderule"}
	mia  = provisioner.User{Login: "mia", ID: 3, Level: provisioner.LevelMember}
)

// clock is a settable time source shared by the gateway and its tests.
func newClock() *testkit.Clock { return testkit.NewClock(time.Now()) }

// signer is a keyring and the tokens it issues, as the provisioner does.
type signer struct {
	keys   *keyring.Keyring
	tokens *jwt.Tokens
}

func newSigner(t testing.TB) *signer {
	t.Helper()
	k, err := keyring.Open(keyring.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return &signer{keys: k, tokens: jwt.New(jwt.Config{Issuer: testIssuer, Signer: k})}
}

func (s *signer) cluster(t testing.TB, u provisioner.User, cluster string) string {
	t.Helper()
	tok, _, err := s.tokens.IssueCluster(context.Background(), u, cluster)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// issuedAt returns a signer issuing tokens as of at (expired ones, say).
func (s *signer) issuedAt(at time.Time) *signer {
	return &signer{keys: s.keys, tokens: jwt.New(jwt.Config{Issuer: testIssuer, Signer: s.keys,
		Now: func() time.Time { return at }})}
}

// countingKeys counts key lookups: one per real verification.
type countingKeys struct {
	provisioner.KeySet
	n atomic.Int64
}

func (c *countingKeys) PublicKey(ctx context.Context, kid string) (provisioner.PublicKey, error) {
	c.n.Add(1)
	return c.KeySet.PublicKey(ctx, kid)
}

// upstream is the cluster: it records what reached it.
type upstream struct {
	*httptest.Server
	mu   sync.Mutex
	hits int
	last http.Header
}

func newUpstream(t testing.TB) *upstream {
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.hits++
		u.last = r.Header.Clone()
		u.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"path": r.URL.Path, "host": r.Host})
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) seen() (int, http.Header) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.hits, u.last
}

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// newGateway fills in a cluster "demo" in front of up, verified with keys.
func newGateway(t testing.TB, cfg Config, up string, keys provisioner.KeySet) *Gateway {
	t.Helper()
	if cfg.Cluster == "" {
		cfg.Cluster = "demo"
	}
	if cfg.Issuer == "" {
		cfg.Issuer = testIssuer
	}
	if cfg.Keys == nil {
		cfg.Keys = keys
	}
	cfg.Upstream = mustURL(t, up)
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// answer is a decoded response.
type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (a answer) str(k string) string { s, _ := a.body[k].(string); return s }

// call serves one request from remote (ip:port) with header pairs.
func call(h http.Handler, method, path, remote string, hdr ...string) answer {
	r := httptest.NewRequest(method, path, nil)
	r.RemoteAddr = remote
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Add(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	raw, _ := io.ReadAll(w.Result().Body)
	a := answer{status: w.Code, header: w.Result().Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &a.body)
	return a
}

func bearerOf(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

// wantRefusal checks an error answer: status, code, the provisioner's shape.
func wantRefusal(t testing.TB, a answer, status int, code string) {
	t.Helper()
	if a.status != status || a.str("status") != "failure" || a.str("error") != code || a.str("error_description") == "" {
		t.Fatalf("want %d %s, got %d %s", status, code, a.status, a.raw)
	}
	if a.header.Get("Content-Type") != "application/json" {
		t.Errorf("Content-Type %q", a.header.Get("Content-Type"))
	}
}

// forge builds a token from a raw header and claims with sig as signature.
func forge(header, claims map[string]any, sig string) string {
	enc := base64.RawURLEncoding
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	return enc.EncodeToString(h) + "." + enc.EncodeToString(c) + "." + sig
}

func clusterClaims(aud string) map[string]any {
	now := time.Now()
	return map[string]any{"iss": testIssuer, "sub": "eve", "uid": 66, "level": "admin", "aud": aud,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": "x"}
}
