package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"provisioner"
	"provisioner/app"
	phttp "provisioner/http"
	"provisioner/jwt"
	"provisioner/sqlite"
	"provisioner/static"
	"provisioner/testkit"
	"provisioner/testkit/embedded"
	"provisioner/web"
)

// The identities of these tests (a static identity file, as `make run`).
const (
	adminToken  = "tok-admin-0001"
	memberToken = "tok-member-0002"
	identity    = `{"org": "sliderule", "users": [
		{"token": "` + adminToken + `", "login": "ada", "id": 1, "level": "admin"},
		{"token": "` + memberToken + `", "login": "otto", "id": 2, "level": "org_member"}]}`
)

// env is the embedded service behind the dashboard on a loopback port,
// with the server's clock injected, clusters that run as soon as they are
// deployed and jobs whose state and log the test writes.
type env struct {
	t      *testing.T
	srv    *httptest.Server
	clock  *testkit.Clock
	store  *sqlite.DB
	app    *app.App
	jobs   *fakeJobs
	signIn web.SignIn
	dash   *web.Handler

	mu   sync.Mutex
	seen []seenRequest
}

// seenRequest is a request the server got (uri: path and query), and
// whether it carried the session cookie.
type seenRequest struct {
	method, path, uri string
	cookie            bool
}

func (e *env) requests() []seenRequest {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]seenRequest(nil), e.seen...)
}

// newEnv starts the service; signIn may be nil.
func newEnv(t *testing.T, signIn web.SignIn) *env {
	t.Helper()
	return newEnvWith(t, envConfig{signIn: func(*app.App) web.SignIn { return signIn }})
}

// envConfig adjusts the service of newEnvWith.
type envConfig struct {
	// app adjusts the App's configuration; issuer is the service's URL.
	app func(c *app.Config, issuer string)
	// signIn is the dashboard's sign-in hook, made once the App is.
	signIn func(a *app.App) web.SignIn
	// api, when set, wraps the JSON API the dashboard stands before.
	api func(e *env, h http.Handler) http.Handler
}

func newEnvWith(t *testing.T, ec envConfig) *env {
	t.Helper()
	store, keys := embedded.Open(t)
	prov, err := static.Parse([]byte(identity))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, store: store, clock: testkit.NewClock(time.Now().UTC().Truncate(time.Second)), jobs: newFakeJobs()}
	srv := httptest.NewUnstartedServer(nil)
	issuer := "http://" + srv.Listener.Addr().String()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	tokens := jwt.New(jwt.Config{Issuer: issuer, Signer: keys, Now: e.clock.Now})
	sched := sqlite.NewScheduler(store, func(context.Context, string, time.Time) error { return nil })
	acfg := app.Config{Store: store, Tokens: tokens, Keys: keys, Identity: prov, Logger: log, Now: e.clock.Now,
		Driver: &testkit.InstantDriver{}, Scheduler: sched, Poll: 20 * time.Millisecond,
		Runner: e.jobs, Logs: e.jobs}
	if ec.app != nil {
		ec.app(&acfg, issuer)
	}
	e.app = app.New(acfg)
	if ec.signIn != nil {
		e.signIn = ec.signIn(e.app)
	}
	var api http.Handler = phttp.NewServer(phttp.Config{App: e.app, Keys: keys, Issuer: issuer, Logger: log, DevicePace: -1})
	if ec.api != nil {
		api = ec.api(e, api)
	}
	e.dash = web.New(web.Config{API: api, Sessions: e.app, Now: e.clock.Now, Logger: log, SignIn: e.signIn})
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := r.Cookie(web.CookieName)
		e.mu.Lock()
		e.seen = append(e.seen, seenRequest{r.Method, r.URL.Path, r.URL.RequestURI(), err == nil})
		e.mu.Unlock()
		e.dash.ServeHTTP(w, r)
	})
	srv.Start()
	t.Cleanup(srv.Close)
	e.srv = srv
	// The App's watchers follow operations and jobs, as under serve.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = e.app.Run(ctx, time.Minute) }()
	t.Cleanup(func() { cancel(); <-done })
	return e
}

// origin is the dashboard's own origin.
func (e *env) origin() string { return e.srv.URL }

// request sends method path with body (JSON unless a string) and headers
// given as pairs; it does not follow redirects.
func (e *env) request(method, path string, body any, hdr ...string) *http.Response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { res.Body.Close() })
	return res
}

// decode reads a JSON answer.
func decode(t *testing.T, res *http.Response) map[string]any {
	t.Helper()
	var m map[string]any
	b, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: not JSON: %q", res.Request.URL.Path, b)
	}
	return m
}

// signIn signs in through the token form's endpoint and returns the
// session cookie's value and the CSRF token.
func (e *env) signInToken(token string) (cookie, csrf string) {
	e.t.Helper()
	res := e.request("POST", "/ui/session", map[string]string{"token": token},
		"Origin", e.origin(), web.HeaderCSRF, "sign-in", "Content-Type", "application/json")
	if res.StatusCode != 200 {
		b, _ := io.ReadAll(res.Body)
		e.t.Fatalf("sign-in: %d %s", res.StatusCode, b)
	}
	for _, c := range res.Cookies() {
		if c.Name == web.CookieName {
			cookie = c.Value
		}
	}
	body := decode(e.t, res)
	csrf, _ = body["csrf"].(string)
	if cookie == "" || csrf == "" {
		e.t.Fatalf("sign-in set no cookie or CSRF token: %v", body)
	}
	return cookie, csrf
}

// fakeJobs is a JobRunner and LogStore whose jobs run until the test
// finishes them, with logs the test appends to.
type fakeJobs struct {
	mu    sync.Mutex
	state map[string]provisioner.JobStatus // by job id
	logs  map[string][]byte
}

func newFakeJobs() *fakeJobs {
	return &fakeJobs{state: map[string]provisioner.JobStatus{}, logs: map[string][]byte{}}
}

func (f *fakeJobs) Start(_ context.Context, j provisioner.Job) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.state[j.ID] = provisioner.JobStatus{State: provisioner.JobRunning}
	return "proc-" + j.ID[:8], nil
}

func (f *fakeJobs) Poll(_ context.Context, j provisioner.Job) (provisioner.JobStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.state[j.ID]
	if !ok {
		return st, provisioner.Errorf(provisioner.ENOTFOUND, "no such job")
	}
	return st, nil
}

func (f *fakeJobs) Cancel(_ context.Context, j provisioner.Job) error {
	f.finish(j.ID, provisioner.JobStatus{State: provisioner.JobCancelled})
	return nil
}

func (f *fakeJobs) finish(id string, st provisioner.JobStatus) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.state[id] = st
}

func (f *fakeJobs) appendLog(key, text string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logs[key] = append(f.logs[key], text...)
}

func (f *fakeJobs) Put(_ context.Context, key string, r io.Reader) error {
	b, err := io.ReadAll(r)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logs[key] = b
	return err
}

func (f *fakeJobs) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	return f.OpenAt(ctx, key, 0)
}

func (f *fakeJobs) OpenAt(_ context.Context, key string, offset int64) (io.ReadCloser, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.logs[key]
	if !ok {
		return nil, provisioner.Errorf(provisioner.ENOTFOUND, "no log %s", key)
	}
	if offset > int64(len(b)) {
		offset = int64(len(b))
	}
	return io.NopCloser(bytes.NewReader(bytes.Clone(b[offset:]))), nil
}
