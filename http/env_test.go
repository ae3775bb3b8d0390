package http_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"provisioner"
	"provisioner/app"
	"provisioner/github"
	"provisioner/github/githubtest"
	phttp "provisioner/http"
	"provisioner/jwt"
	"provisioner/local/keyring"
	"provisioner/sqlite"
	"provisioner/testkit"
	"provisioner/testkit/embedded"
)

const (
	org      = "sliderule"
	audience = "sliderule-provisioner"
	nightly  = "nightly.yml"
)

// env is the whole embedded service on a random port, with a fake GitHub.
type env struct {
	t      *testing.T
	gh     *githubtest.Server
	srv    *httptest.Server
	store  *sqlite.DB
	keys   *keyring.Keyring
	tokens *jwt.Tokens
	spec   *specChecker
	driver *testkit.InstantDriver
}

// newEnv starts the service; opts may change its configuration.
func newEnv(t *testing.T, opts ...func(*app.Config, *phttp.Config)) *env {
	t.Helper()
	gh := githubtest.New(t)
	gh.AddUser("tok-member", "mia", 1)
	gh.AddUser("tok-org", "otto", 2)
	gh.SetOrgMembership("otto", org, "active", "member")
	gh.AddUser("tok-admin", "ada", 3)
	gh.SetOrgMembership("ada", org, "active", "admin")
	gh.AddUser("tok-pending", "pat", 4)
	gh.SetOrgMembership("pat", org, "pending", "member")
	// The OAuth app's web flow and the operator's token of the membership
	// re-check, for the tests that turn them on (oauth_test.go).
	gh.SetOAuthApp("client-1", "secret-1")
	gh.AddUser("tok-operator", "operator", 99)
	gh.SetOrgMembership("operator", org, "active", "member")

	store, keys := embedded.Open(t)
	rules, err := github.ParseActionsRules(`[{"repository":"sliderule/sliderule","workflow":"sliderule/sliderule/.github/workflows/nightly.yml@refs/heads/main","level":"admin"}]`)
	if err != nil {
		t.Fatal(err)
	}
	prov, err := github.New(github.Config{APIURL: gh.APIURL(), WebURL: gh.WebURL(), Org: org,
		ClientID: "client-1", ClientSecret: "secret-1", MemberToken: "tok-operator", ActionsIssuer: gh.IssuerURL(), ActionsAudience: audience, ActionsRules: rules,
		Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, gh: gh, store: store, keys: keys}
	e.spec = newSpecChecker(t)
	srv := httptest.NewUnstartedServer(nil)
	issuer := "http://" + srv.Listener.Addr().String()
	e.tokens = jwt.New(jwt.Config{Issuer: issuer, Signer: keys})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	e.driver = &testkit.InstantDriver{}
	sched := sqlite.NewScheduler(store, func(context.Context, string, time.Time) error { return nil })
	acfg := app.Config{Store: store, Tokens: e.tokens, Identity: prov, Device: prov, Actions: prov, Logger: log,
		Driver: e.driver, Scheduler: sched, Poll: 10 * time.Millisecond}
	hcfg := phttp.Config{Keys: keys, Issuer: issuer, Logger: log, DevicePace: testDevicePace}
	for _, o := range opts {
		o(&acfg, &hcfg)
	}
	hcfg.App = app.New(acfg)
	srv.Config.Handler = e.spec.wrap(phttp.NewServer(hcfg))
	srv.Start()
	t.Cleanup(srv.Close)
	e.srv = srv
	return e
}

// resp is a decoded answer.
type resp struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

func (r resp) str(k string) string { s, _ := r.body[k].(string); return s }

// do sends a request; body may be a string (sent as is) or a value (JSON).
func (e *env) do(method, path, token string, body any, hdr ...string) resp {
	e.t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case string:
		rd, ct = strings.NewReader(b), "application/json"
	case []byte:
		rd, ct = bytes.NewReader(b), "application/json"
	default:
		j, _ := json.Marshal(b)
		rd, ct = bytes.NewReader(j), "application/json"
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := resp{status: res.StatusCode, header: res.Header, raw: raw}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

// login logs in with a fake-GitHub PAT and returns the jwt_user.
func (e *env) login(pat string) string {
	e.t.Helper()
	r := e.do("POST", "/auth/github/pat", "", map[string]string{"pat": pat})
	if r.status != 200 || r.str("token") == "" {
		e.t.Fatalf("login %s: %d %s", pat, r.status, r.raw)
	}
	return r.str("token")
}

// register records a cluster directly in the store.
func (e *env) register(name string, public bool) {
	e.t.Helper()
	now := time.Now().UTC()
	if _, err := e.store.PutCluster(context.Background(), provisioner.Cluster{Name: name, IsPublic: public, Deployment: provisioner.Deployment{State: provisioner.StateRunning, CreatedAt: now, UpdatedAt: now}}); err != nil {
		e.t.Fatal(err)
	}
}

// wantError checks an error answer's status, code and JSON shape.
// testDevicePace holds back the device poll's terminal errors in tests.
const testDevicePace = 150 * time.Millisecond

func wantError(t *testing.T, r resp, status int, code string) {
	t.Helper()
	if r.status != status || r.str("status") != "failure" || r.str("error") != code || r.str("error_description") == "" {
		t.Fatalf("want %d %s, got %d %s", status, code, r.status, r.raw)
	}
}
