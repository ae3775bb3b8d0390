package main

// The harness that runs production's released SlideRule clients, unchanged,
// against the real `provisioner serve` (and its local clusters).
//
// The clients come from a virtualenv that the test command makes
// (scripts/test.sh: pinned sliderule and sliderule-cli, re-created only when
// the pins change) and names in PROVISIONER_TEST_CLIENTS_PYTHON; without it a
// test skips, or fails under CI=true.
//
// Rerouting: the clients hard-code https://login.<domain>,
// https://provisioner.<domain> and https://<cluster>.<domain>. Every Python
// process the harness starts has testdata/clients on PYTHONPATH, so Python
// loads its sitecustomize.py, which installs testdata/clients/reroute.py: a
// wrapper of requests.Session.send that sends each mapped host to a local
// base URL (path, query, method, headers and body kept; Host keeps the
// production name) and refuses every other non-loopback host. The map is the
// JSON in SLIDERULE_REROUTE, built by clientRoutes: login and provisioner go
// to serve, a cluster's host to clusterFront (a stand-in for the cluster's
// DNS name that forwards to the cluster's endpoint as serve reports it, the
// ILB's user port for an ILB cluster). Nothing edits /etc/hosts or binds
// :443, so tests run in parallel. reroute.py also logs every request
// (SLIDERULE_REROUTE_LOG, read back by requests()), with the Authorization
// header as a digest (tokenDigest), so a test can tell which token went where.
//
// How tests use it:
//   - the Python client: c.session(t, pat, sessionSpec{...}) runs
//     testdata/clients/run_session.py, which builds sliderule.session.Session
//     with the given kwargs and runs the listed calls ("scaleout",
//     "provisioner.deploy", "source", ...), printing tokens and results as JSON;
//   - a command of sliderule-cli: c.command(t, pat, "sliderule-provisioner",
//     "status", "--domain", clientsDomain, "--cluster", "demo") runs the
//     installed console script under the same reroute (sitecustomize applies
//     to every Python process);
//   - the workflows' curl lines: rerouteURLs(line, routes) substitutes the
//     host names only (https://login.<domain> → serve's URL), nothing else of
//     the line; run the result with bash.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"provisioner/github/githubtest"
)

// clientsDomain is the domain the released clients are pointed at; the
// reroute sends its hosts to local servers, and refuses anything unmapped.
const clientsDomain = "example.org"

// envClientsPython names the released clients' virtualenv python.
const envClientsPython = "PROVISIONER_TEST_CLIENTS_PYTHON"

// unavailable skips the test, or fails it under CI=true, where a missing
// tool is a failure.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format+" (CI=true: a missing tool fails)", args...)
	}
	t.Skipf(format, args...)
}

// releasedClients runs the released clients under the reroute.
type releasedClients struct {
	python string            // the virtualenv's python; its bin/ holds the commands
	shim   string            // testdata/clients: sitecustomize.py, reroute.py, run_session.py
	home   string            // HOME of the client processes (their token cache lives there)
	routes map[string]string // host → base URL (clientRoutes)
	log    string            // SLIDERULE_REROUTE_LOG
}

// newReleasedClients finds the clients (or skips) before a test starts
// anything; set routes before running them.
func newReleasedClients(t *testing.T) *releasedClients {
	t.Helper()
	python := os.Getenv(envClientsPython)
	if python == "" {
		unavailable(t, "%s is not set: run the test command (scripts/test.sh) to install the released SlideRule clients", envClientsPython)
	}
	if fi, err := os.Stat(python); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		unavailable(t, "%s=%s is not an executable: %v", envClientsPython, python, err)
	}
	shim, err := filepath.Abs(filepath.Join("testdata", "clients"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	return &releasedClients{python: python, shim: shim, home: filepath.Join(dir, "home"),
		log: filepath.Join(dir, "reroute.jsonl")}
}

// clientRoutes maps production's host names under domain to local base
// URLs: login and provisioner to the service, each cluster to its own.
func clientRoutes(domain, service string, clusters map[string]string) map[string]string {
	r := map[string]string{"login." + domain: service, "provisioner." + domain: service}
	for name, base := range clusters {
		r[name+"."+domain] = base
	}
	return r
}

// env is the client processes' environment: this one's, less anything that
// could steer Python or requests elsewhere, plus the reroute and the PAT.
func (c *releasedClients) env(t *testing.T, pat string, extra ...string) []string {
	t.Helper()
	routes, err := json.Marshal(c.routes)
	if err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		ku := strings.ToUpper(k)
		if strings.HasPrefix(ku, "PYTHON") || strings.HasPrefix(ku, "SLIDERULE_") || strings.HasSuffix(ku, "_PROXY") ||
			ku == "HOME" || ku == "REQUESTS_CA_BUNDLE" || ku == "CURL_CA_BUNDLE" || ku == "VIRTUAL_ENV" {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "HOME="+c.home, "PYTHONPATH="+c.shim, "PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1",
		"SLIDERULE_REROUTE="+string(routes), "SLIDERULE_REROUTE_LOG="+c.log)
	if pat != "" {
		env = append(env, "SLIDERULE_GITHUB_TOKEN="+pat)
	}
	return append(env, extra...)
}

// run runs a program of the virtualenv under the reroute.
func (c *releasedClients) run(t *testing.T, pat string, argv []string) (code int, stdout, stderr string) {
	t.Helper()
	if err := os.MkdirAll(c.home, 0o700); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = c.env(t, pat)
	cmd.Dir = c.home
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("%v: %v\n%s", argv, err, errb.String())
	}
	if code == 97 { // reroute.py refused its configuration
		t.Fatalf("the reroute shim did not start: %s", errb.String())
	}
	return code, out.String(), errb.String()
}

// command runs one of sliderule-cli's commands (e.g. sliderule-provisioner)
// as installed, under the reroute.
func (c *releasedClients) command(t *testing.T, pat, name string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return c.run(t, pat, append([]string{filepath.Join(filepath.Dir(c.python), name)}, args...))
}

// clientCall is one call on a sliderule.session.Session: a dotted attribute
// path ("scaleout", "provisioner.deploy", "source") with its arguments.
type clientCall struct {
	Call   string         `json:"call"`
	Args   []any          `json:"args,omitempty"`
	Kwargs map[string]any `json:"kwargs,omitempty"`
}

type sessionSpec struct {
	Session map[string]any `json:"session"` // Session(**kwargs)
	Calls   []clientCall   `json:"calls,omitempty"`
}

// callResult is a call's return value, or the exception it raised.
type callResult struct {
	Call      string          `json:"call"`
	Value     json.RawMessage `json:"value"`
	Exception string          `json:"exception"`
}

// sessionRun is what run_session.py printed.
type sessionRun struct {
	Token    string         `json:"token"`
	Metadata map[string]any `json:"metadata"`
	Service  string         `json:"service"`
	Results  []callResult   `json:"results"`
	Stderr   string         `json:"-"`
}

// result returns the i-th call's result, failing if it raised.
func (r sessionRun) result(t *testing.T, i int, into any) {
	t.Helper()
	if i >= len(r.Results) {
		t.Fatalf("no result %d: %+v", i, r.Results)
	}
	res := r.Results[i]
	if res.Exception != "" {
		t.Fatalf("%s raised %s\nclient log:\n%s", res.Call, res.Exception, r.Stderr)
	}
	if into != nil {
		if err := json.Unmarshal(res.Value, into); err != nil {
			t.Fatalf("%s returned %s: %v", res.Call, res.Value, err)
		}
	}
}

// session runs the released Python client (sliderule.session) with a PAT
// in SLIDERULE_GITHUB_TOKEN, as its users do, and returns its report.
func (c *releasedClients) session(t *testing.T, pat string, spec sessionSpec) sessionRun {
	t.Helper()
	b, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := c.run(t, pat, []string{c.python, filepath.Join(c.shim, "run_session.py"), string(b)})
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	var run sessionRun
	if code != 0 || json.Unmarshal([]byte(lines[len(lines)-1]), &run) != nil {
		t.Fatalf("run_session.py exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	run.Stderr = stderr
	return run
}

// rerouted is one request the clients made, as reroute.py logged it.
type rerouted struct {
	Method        string `json:"method"`
	URL           string `json:"url"` // as the client built it (https://HOST/...)
	To            string `json:"to"`  // where it went; empty when refused
	Status        *int   `json:"status"`
	Authorization string `json:"authorization"` // "Bearer sha256:<16 hex>", see tokenDigest
}

// requests returns the requests logged since the last call, and resets the log.
func (c *releasedClients) requests(t *testing.T) []rerouted {
	t.Helper()
	b, err := os.ReadFile(c.log)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		t.Fatal(err)
	}
	_ = os.Remove(c.log)
	var out []rerouted
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var r rerouted
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("reroute log: %v: %s", err, sc.Text())
		}
		out = append(out, r)
	}
	return out
}

// tokenDigest is how reroute.py logs an Authorization header.
func tokenDigest(scheme, token string) string {
	sum := sha256.Sum256([]byte(token))
	return scheme + " sha256:" + hex.EncodeToString(sum[:])[:16]
}

// requestsTo returns the logged requests with this method and URL prefix.
func requestsTo(reqs []rerouted, method, urlPrefix string) []rerouted {
	var out []rerouted
	for _, r := range reqs {
		if r.Method == method && strings.HasPrefix(r.URL, urlPrefix) {
			out = append(out, r)
		}
	}
	return out
}

var hostURL = regexp.MustCompile(`https://([A-Za-z0-9.-]+)`)

// rerouteURLs substitutes, in a workflow's shell line, the base URL of each
// mapped https://HOST and nothing else, so the line runs as written
// against local servers.
func rerouteURLs(line string, routes map[string]string) string {
	return hostURL.ReplaceAllStringFunc(line, func(m string) string {
		if base, ok := routes[strings.ToLower(strings.TrimPrefix(m, "https://"))]; ok {
			return strings.TrimRight(base, "/")
		}
		return m
	})
}

// apiCall posts a JSON body to the service with a bearer token.
func apiCall(t *testing.T, base, method, path, token string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(res.Body).Decode(&m)
	return res.StatusCode, m
}

// patLogin logs in with a PAT through the API and returns the token.
func patLogin(t *testing.T, base, pat string) string {
	t.Helper()
	code, m := apiCall(t, base, "POST", "/auth/github/pat", "", map[string]string{"pat": pat})
	tok, _ := m["token"].(string)
	if code != http.StatusOK || tok == "" {
		t.Fatalf("login with %s: %d %v", pat, code, m)
	}
	return tok
}

// clusterFront stands in for the DNS name of a cluster: it forwards each
// request, unchanged (Host included), to the cluster's endpoint as serve's
// STATUS reports it, and answers 502 while the cluster has none, as a name
// that does not resolve yet would fail. The endpoint is looked up per
// request, so a redeployed cluster is found at its new port.
func clusterFront(t *testing.T, service, adminToken, cluster string) string {
	t.Helper()
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			target, _ := pr.In.Context().Value(frontTarget{}).(*url.URL)
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
		},
		FlushInterval: -1, // SlideRule streams its results
	}
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		endpoint, err := clusterEndpoint(service, adminToken, cluster)
		if err != nil {
			http.Error(w, fmt.Sprintf("cluster %s has no endpoint: %v", cluster, err), http.StatusBadGateway)
			return
		}
		proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), frontTarget{}, endpoint)))
	}))
	t.Cleanup(front.Close)
	return front.URL
}

type frontTarget struct{}

func clusterEndpoint(service, token, cluster string) (*url.URL, error) {
	req, err := http.NewRequest("POST", service+"/status", strings.NewReader(`{"cluster":"`+cluster+`"}`))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	var st struct {
		State    string `json:"state"`
		Endpoint string `json:"endpoint"`
	}
	if err := json.NewDecoder(res.Body).Decode(&st); err != nil || res.StatusCode != http.StatusOK || st.Endpoint == "" {
		return nil, fmt.Errorf("status %d, state %q, endpoint %q, %v", res.StatusCode, st.State, st.Endpoint, err)
	}
	return url.Parse(st.Endpoint)
}

// The users of the fake GitHub, by PAT.
const (
	patAdmin  = "gh-admin-pat"  // ada: organization owner → admin
	patMember = "gh-member-pat" // otto: active org member → org_member
	patGuest  = "gh-guest-pat"  // gus: a GitHub user outside the org → member
)

// clientsServe runs serve against a fake GitHub with an admin, an org
// member and an outsider, and local clusters of stand-in nodes
// (`provisioner node`). It returns serve and an admin token for the test's
// own look-ups.
func clientsServe(t *testing.T, args ...string) (*server, string) {
	t.Helper()
	srv, tok, _ := clientsServeGitHub(t, args...)
	return srv, tok
}

// clientsServeGitHub is clientsServe that also returns the fake GitHub,
// with an OAuth app for the device flow.
func clientsServeGitHub(t *testing.T, args ...string) (*server, string, *githubtest.Server) {
	t.Helper()
	gh := githubtest.New(t)
	gh.AddUser(patAdmin, "ada", 1)
	gh.SetOrgMembership("ada", "sliderule", "active", "admin")
	gh.AddUser(patMember, "otto", 2)
	gh.SetOrgMembership("otto", "sliderule", "active", "member")
	gh.AddUser(patGuest, "gus", 3)
	// The stand-in node under a path of this test's own, so that the
	// cleanup stops only this test's nodes.
	node := filepath.Join(t.TempDir(), "provisioner-node")
	if err := os.Symlink(binary, node); err != nil {
		t.Fatal(err)
	}
	srv := startServe(t, nil, append([]string{"--identity", "github",
		"--github-api-url", gh.APIURL(), "--github-url", gh.WebURL(), "--github-org", "sliderule",
		"--github-client-id", "Iv1.clientstest",
		"--cluster-command", "exec " + node + " node", "--reconcile-interval", "1s"}, args...)...)
	// Clusters outlive serve by design; a failed test must not leave its own.
	t.Cleanup(func() {
		_ = exec.Command("pkill", "-f", "--", "--issuer "+srv.URL+" ").Run()
		_ = exec.Command("pkill", "-f", "--", node).Run()
	})
	return srv, patLogin(t, srv.URL, patAdmin), gh
}

// waitState waits until the service reports the cluster in state ("" = gone).
func waitState(t *testing.T, service, token, cluster, state string, d time.Duration) {
	t.Helper()
	var code int
	var last map[string]any
	for deadline := time.Now().Add(d); ; time.Sleep(200 * time.Millisecond) {
		code, last = apiCall(t, service, "POST", "/status", token, map[string]string{"cluster": cluster})
		if state == "" && (code == http.StatusNotFound || last["state"] == "absent" || last["state"] == "destroyed") ||
			state != "" && code == http.StatusOK && last["state"] == state {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster %s is not %q after %s: %d %v", cluster, state, d, code, last)
		}
	}
}

func noError(t *testing.T, what string, v map[string]any) {
	t.Helper()
	if _, bad := v["error"]; bad {
		t.Errorf("%s: the client reports an error: %v", what, v)
	}
}

// TestReleasedClientProvisioner: the released Python client and CLI, with a
// PAT, log in and drive the provisioner through their own requests.
func TestReleasedClientProvisioner(t *testing.T) {
	c := newReleasedClients(t)
	srv, adminTok := clientsServe(t)
	c.routes = clientRoutes(clientsDomain, srv.URL, nil)

	// PAT login through sliderule.session; the client then holds our token,
	// which the service accepts as the login it made, and deploys, reads and
	// extends its cluster with it.
	run := c.session(t, patMember, sessionSpec{
		Session: map[string]any{"domain": clientsDomain, "cluster": "demo"},
		Calls: []clientCall{
			{Call: "authenticator.info"},
			{Call: "provisioner.deploy", Kwargs: map[string]any{"is_public": false, "node_capacity": 1, "ttl": 30, "version": "latest"}},
			{Call: "provisioner.status"},
			{Call: "provisioner.extend", Kwargs: map[string]any{"ttl": 45}},
			{Call: "provisioner.events"},
			{Call: "provisioner.report"},
			{Call: "provisioner.info"},
		}})
	if run.Token == "" || run.Metadata == nil {
		t.Fatalf("the client did not log in:\n%s", run.Stderr)
	}
	code, who := apiCall(t, srv.URL, "GET", "/auth/whoami", run.Token, nil)
	meta, _ := who["metadata"].(map[string]any)
	if code != http.StatusOK || meta["sub"] != "otto" {
		t.Fatalf("whoami with the client's token: %d %v", code, who)
	}
	var info []map[string]any // (header, claims)
	run.result(t, 0, &info)
	if len(info) != 2 || info[1]["sub"] != "otto" || info[1]["exp"] != run.Metadata["exp"] {
		t.Errorf("the client's view of its token: %v; metadata %v", info, run.Metadata)
	}
	for i, what := range []string{"deploy", "status", "extend", "events", "report", "info"} {
		var v map[string]any
		run.result(t, i+1, &v)
		noError(t, what, v)
		switch what {
		case "report": // production's map, keyed by cluster name
			if demo, _ := v["demo"].(map[string]any); len(v) != 1 || demo == nil || demo["node_capacity"] != "1" {
				t.Errorf("report: %v", v)
			}
		case "info":
			if v["username"] != "otto" || fmt.Sprint(v["deployableClusters"]) != "[*]" || v["maxNodes"] == nil {
				t.Errorf("info: %v", v)
			}
		}
	}

	reqs := c.requests(t)
	login := requestsTo(reqs, "POST", "https://login."+clientsDomain+"/auth/github/pat")
	if len(login) != 1 || login[0].Status == nil || *login[0].Status != http.StatusOK || login[0].Authorization != "" {
		t.Errorf("PAT login requests: %+v", login)
	}
	bearer := tokenDigest("Bearer", run.Token)
	for _, path := range []string{"/deploy", "/status", "/extend", "/events", "/report/clusters", "/info"} {
		got := requestsTo(reqs, "POST", "https://provisioner."+clientsDomain+path)
		if len(got) != 1 || got[0].Authorization != bearer || got[0].Status == nil || *got[0].Status >= 300 {
			t.Errorf("POST %s: %+v (want one 2xx with the login token)", path, got)
		}
	}
	waitState(t, srv.URL, adminTok, "demo", "running", time.Minute)

	// sliderule-cli's sliderule-provisioner, as installed, under the same reroute.
	code, out, errs := c.command(t, patMember, "sliderule-provisioner", "status", "--domain", clientsDomain, "--cluster", "demo")
	var st map[string]any
	if code != 0 || strings.Contains(errs, "Unhandled error") || json.Unmarshal([]byte(out), &st) != nil {
		t.Errorf("sliderule-provisioner status: exit %d\n%s\n%s", code, out, errs)
	}
	noError(t, "sliderule-provisioner status", st)
	if got := requestsTo(c.requests(t), "POST", "https://provisioner."+clientsDomain+"/status"); len(got) != 1 {
		t.Errorf("sliderule-provisioner status requests: %+v", got)
	}

	// A GitHub user outside the org logs in, but may not deploy a private cluster.
	guest := c.session(t, patGuest, sessionSpec{
		Session: map[string]any{"domain": clientsDomain, "cluster": "guest"},
		Calls: []clientCall{{Call: "provisioner.deploy",
			Kwargs: map[string]any{"is_public": false, "node_capacity": 1, "ttl": 30, "version": "latest"}}}})
	var refused map[string]any
	guest.result(t, 0, &refused)
	if guest.Token == "" || refused["error"] == nil {
		t.Errorf("outsider's deploy: token %t, answer %v", guest.Token != "", refused)
	}
	if got := requestsTo(c.requests(t), "POST", "https://provisioner."+clientsDomain+"/deploy"); len(got) != 1 ||
		got[0].Status == nil || *got[0].Status != http.StatusForbidden {
		t.Errorf("outsider's deploy requests: %+v", got)
	}

	// A bad PAT: the client holds no token.
	bad := c.session(t, "not-a-pat", sessionSpec{Session: map[string]any{"domain": clientsDomain, "cluster": "demo"}})
	if bad.Token != "" || bad.Metadata != nil || !strings.Contains(bad.Stderr, "Failure attempting to authenticate") {
		t.Errorf("bad PAT: token %q metadata %v\n%s", bad.Token, bad.Metadata, bad.Stderr)
	}
	c.requests(t)

	// The org member destroys its cluster through the client.
	done := c.session(t, patMember, sessionSpec{
		Session: map[string]any{"domain": clientsDomain, "cluster": "demo"},
		Calls:   []clientCall{{Call: "provisioner.destroy"}}})
	var destroyed map[string]any
	done.result(t, 0, &destroyed)
	noError(t, "destroy", destroyed)
	waitState(t, srv.URL, adminTok, "demo", "", time.Minute)
}

// slideruleRef is production's pinned files (SLIDERULE_REF, by default
// ../shared/sliderule-ref beside the repository).
func slideruleRef(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("SLIDERULE_REF")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "sliderule-ref")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "apps", "ilb", "haproxy.cfg")); err != nil {
		unavailable(t, "production's ILB files are not at %s (set SLIDERULE_REF): %v", dir, err)
	}
	return dir
}

// ilbArgs are serve's flags for local clusters behind production's ILB
// (haproxy.cfg and its Lua under HAProxy >= 3.0, PROVISIONER_TEST_HAPROXY).
func ilbArgs(t *testing.T) []string {
	t.Helper()
	haproxy := os.Getenv("PROVISIONER_TEST_HAPROXY")
	if haproxy == "" {
		unavailable(t, "PROVISIONER_TEST_HAPROXY is not set: give an HAProxy >= 3.0 to run clusters behind the real ILB")
	}
	if fi, err := os.Stat(haproxy); err != nil || fi.Mode()&0o111 == 0 {
		unavailable(t, "PROVISIONER_TEST_HAPROXY=%s is not an executable: %v", haproxy, err)
	}
	return []string{"--haproxy", haproxy, "--ilb-dir", filepath.Join(slideruleRef(t), "apps", "ilb")}
}

// TestReleasedClientPrivateClusterILB: the released Python client, unchanged,
// against a private local cluster behind the real ILB. An org member logs in
// with a PAT, scaleout() deploys and reaches capacity through
// /discovery/status, and /source/version answers with the login token; a
// member without the cluster in its audience is refused by the ILB.
func TestReleasedClientPrivateClusterILB(t *testing.T) {
	c := newReleasedClients(t)
	srv, adminTok := clientsServe(t, ilbArgs(t)...)
	c.routes = clientRoutes(clientsDomain, srv.URL, map[string]string{"demo": clusterFront(t, srv.URL, adminTok, "demo")})

	run := c.session(t, patMember, sessionSpec{
		Session: map[string]any{"domain": clientsDomain, "cluster": "demo", "rethrow": true},
		Calls: []clientCall{
			{Call: "scaleout", Args: []any{2, 30}, Kwargs: map[string]any{"version": "latest"}},
			{Call: "source", Args: []any{"version"}},
		}})
	var reached []int
	run.result(t, 0, &reached)
	if len(reached) != 2 || reached[0] < 2 || reached[1] != 2 {
		t.Fatalf("scaleout(2, 30) returned %v\nclient log:\n%s", reached, run.Stderr)
	}
	var version map[string]any
	run.result(t, 1, &version)
	if version == nil {
		t.Errorf("/source/version answered %s", run.Results[1].Value)
	}

	bearer := tokenDigest("Bearer", run.Token)
	reqs := c.requests(t)
	if got := requestsTo(reqs, "POST", "https://provisioner."+clientsDomain+"/deploy"); len(got) != 1 || got[0].Authorization != bearer {
		t.Errorf("scaleout's deploy: %+v", got)
	}
	polls := requestsTo(reqs, "GET", "https://demo."+clientsDomain+"/discovery/status")
	if len(polls) < 2 || polls[len(polls)-1].Status == nil || *polls[len(polls)-1].Status != http.StatusOK {
		t.Errorf("scaleout's /discovery/status polls: %+v", polls)
	}
	got := requestsTo(reqs, "GET", "https://demo."+clientsDomain+"/source/version")
	if len(got) != 1 || got[0].Authorization != bearer || got[0].Status == nil || *got[0].Status != http.StatusOK {
		t.Errorf("/source/version with the login token: %+v", got)
	}

	// gus's login token names no cluster of the org: the ILB refuses it.
	guest := c.session(t, patGuest, sessionSpec{
		Session: map[string]any{"domain": clientsDomain, "cluster": "demo"},
		Calls:   []clientCall{{Call: "source", Args: []any{"version"}, Kwargs: map[string]any{"rethrow": true}}}})
	if guest.Token == "" {
		t.Fatalf("the outsider did not log in:\n%s", guest.Stderr)
	}
	if aud := fmt.Sprint(guest.Metadata["aud"]); strings.Contains(aud, "demo") || strings.Contains(aud, "*") {
		t.Errorf("the outsider's audience %s names the cluster", aud)
	}
	if res := guest.Results[0]; !strings.Contains(res.Exception, "Invalid access token") {
		t.Errorf("the outsider's /source/version: %+v", res)
	}
	refused := requestsTo(c.requests(t), "GET", "https://demo."+clientsDomain+"/source/version")
	if len(refused) != 1 || refused[0].Status == nil || (*refused[0].Status != http.StatusForbidden && *refused[0].Status != http.StatusUnauthorized) {
		t.Errorf("the outsider's request: %+v", refused)
	}

	done := c.session(t, patMember, sessionSpec{
		Session: map[string]any{"domain": clientsDomain, "cluster": "demo"},
		Calls:   []clientCall{{Call: "provisioner.destroy"}}})
	var destroyed map[string]any
	done.result(t, 0, &destroyed)
	noError(t, "destroy", destroyed)
	waitState(t, srv.URL, adminTok, "demo", "", time.Minute)
}

// TestRerouteURLs: the workflows' curl lines keep everything but the hosts.
func TestRerouteURLs(t *testing.T) {
	routes := clientRoutes("slideruleearth.io", "http://127.0.0.1:8080", map[string]string{"demo": "http://127.0.0.1:9000/"})
	for in, want := range map[string]string{
		`JWT=$(curl -s https://login.slideruleearth.io/auth/github/pat -d "{\"pat\":\"$T\"}" | jq -r '.token')`:    `JWT=$(curl -s http://127.0.0.1:8080/auth/github/pat -d "{\"pat\":\"$T\"}" | jq -r '.token')`,
		`curl --fail-with-body -X POST -H "Authorization: Bearer $JWT" https://provisioner.slideruleearth.io/test`: `curl --fail-with-body -X POST -H "Authorization: Bearer $JWT" http://127.0.0.1:8080/test`,
		`curl https://demo.slideruleearth.io/source/version https://elsewhere.slideruleearth.io/x`:                 `curl http://127.0.0.1:9000/source/version https://elsewhere.slideruleearth.io/x`,
	} {
		if got := rerouteURLs(in, routes); got != want {
			t.Errorf("rerouteURLs(%q)\n got %q\nwant %q", in, got, want)
		}
	}
	keys := make([]string, 0, len(routes))
	for k := range routes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if strings.Join(keys, " ") != "demo.slideruleearth.io login.slideruleearth.io provisioner.slideruleearth.io" {
		t.Errorf("routes: %v", keys)
	}
}
