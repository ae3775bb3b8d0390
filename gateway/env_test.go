package gateway

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"provisioner/app"
	phttp "provisioner/http"
	"provisioner/jwt"
	"provisioner/local/keyring"
	"provisioner/static"
	"provisioner/testkit/embedded"
)

// issuerEnv is the whole embedded provisioner (SQLite, local keyring, jwt,
// app, HTTP API) on a random port with a static identity: the gateway's
// real issuer, reached over HTTP through its discovery document.
type issuerEnv struct {
	t        *testing.T
	url      string
	keys     *keyring.Keyring
	jwksHits atomic.Int64
}

const identityJSON = `{"org":"sliderule","users":[
	{"token":"admin-token-1","login":"ada","id":1,"level":"admin"},
	{"token":"member-token-1","login":"otto","id":2,"level":"org_member"},
	{"token":"guest-token-1","login":"gus","id":3,"level":"member"},
	{"token":"guest-token-2","login":"gil","id":4,"level":"member"}]}`

func newIssuerEnv(t *testing.T) *issuerEnv {
	t.Helper()
	store, keys := embedded.Open(t)
	ident, err := static.Parse([]byte(identityJSON))
	if err != nil {
		t.Fatal(err)
	}
	e := &issuerEnv{t: t, keys: keys}
	srv := httptest.NewUnstartedServer(nil)
	e.url = "http://" + srv.Listener.Addr().String()
	log := slog.New(slog.DiscardHandler)
	a := app.New(app.Config{Store: store, Tokens: jwt.New(jwt.Config{Issuer: e.url, Signer: keys}), Identity: ident, Logger: log})
	api := phttp.NewServer(phttp.Config{App: a, Keys: keys, Issuer: e.url, Logger: log})
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/.well-known/jwks.json" {
			e.jwksHits.Add(1)
		}
		api.ServeHTTP(w, r)
	})
	srv.Start()
	t.Cleanup(srv.Close)
	return e
}

// post calls the provisioner's API and returns the decoded success.
func (e *issuerEnv) post(path, token string, body any) map[string]any {
	e.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", e.url+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out map[string]any
	if res.StatusCode != 200 || json.Unmarshal(raw, &out) != nil {
		e.t.Fatalf("POST %s: %d %s", path, res.StatusCode, raw)
	}
	return out
}

// login returns a jwt_user for a static identity token.
func (e *issuerEnv) login(pat string) string {
	e.t.Helper()
	return e.post("/auth/github/pat", "", map[string]string{"pat": pat})["token"].(string)
}

// register records a cluster through the API, as an admin would.
func (e *issuerEnv) register(cluster string, public bool) {
	e.t.Helper()
	e.post("/clusters/register", e.login("admin-token-1"), map[string]any{"cluster": cluster, "is_public": public})
}

// access is the seed's ACCESS: the jwt_cluster the gateway checks.
func (e *issuerEnv) access(pat, cluster string) string {
	e.t.Helper()
	return e.post("/access", e.login(pat), map[string]string{"cluster": cluster})["token"].(string)
}

// gateway returns a gateway on a real port whose keys come from the
// issuer's JWKS, in front of up.
func (e *issuerEnv) gateway(cfg Config, up string) (*Gateway, *httptest.Server) {
	e.t.Helper()
	cfg.Issuer = e.url
	g := newGateway(e.t, cfg, up, nil)
	srv := httptest.NewServer(g)
	e.t.Cleanup(srv.Close)
	return g, srv
}

// request sends a GET to a gateway server and decodes its answer.
func request(t *testing.T, url string, hdr ...string) answer {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	a := answer{status: res.StatusCode, header: res.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &a.body)
	return a
}
