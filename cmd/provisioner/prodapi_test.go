package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// workflowScript returns the shell of a step of one of production's
// workflows (.github/workflows/NAME), verbatim: the lines of its `run: |`
// block, dedented.
func workflowScript(t *testing.T, name string) string {
	t.Helper()
	f, err := os.Open(filepath.Join(slideruleRef(t), ".github", "workflows", name))
	if err != nil {
		unavailable(t, "production's workflow %s: %v", name, err)
	}
	defer f.Close()
	var lines []string
	indent := -1
	sc := bufio.NewScanner(f)
	for in := false; sc.Scan(); {
		line := sc.Text()
		if !in {
			in = strings.TrimSpace(line) == "run: |"
			continue
		}
		trimmed := strings.TrimLeft(line, " ")
		if indent < 0 {
			indent = len(line) - len(trimmed)
		}
		if trimmed != "" && len(line)-len(trimmed) < indent {
			break
		}
		if len(line) >= indent {
			line = line[indent:]
		}
		lines = append(lines, line)
	}
	if len(lines) == 0 {
		t.Fatalf("no run block in %s", name)
	}
	return strings.Join(lines, "\n") + "\n"
}

// runWorkflow runs a workflow's script with bash, its hosts rerouted.
func runWorkflow(t *testing.T, script string, routes map[string]string, pat string) (int, string) {
	t.Helper()
	for _, tool := range []string{"bash", "curl", "jq", "date"} {
		if _, err := exec.LookPath(tool); err != nil {
			unavailable(t, "the workflows need %s: %v", tool, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", rerouteURLs(script, routes))
	cmd.Env = append(os.Environ(), "SLIDERULE_GITHUB_TOKEN="+pat)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, string(out)
}

// passingMain adds a commit on main whose tests pass to a fixture sliderule.
func passingMain(t *testing.T, dir string) {
	t.Helper()
	for _, f := range []struct{ name, body string }{
		{"run-tests.sh", "#!/bin/sh\necho main is fine\n"},
		{"report.xml", `<testsuite name="s" tests="1" failures="0"><testcase name="a"/></testsuite>`},
	} {
		if err := os.WriteFile(filepath.Join(dir, f.name), []byte(f.body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{{"add", "."}, {"commit", "-q", "-m", "main passes"}} {
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.org"}, args...)...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
}

// waitJobs waits until no job is queued, provisioning or running.
func waitJobs(t *testing.T, service, token string) []map[string]any {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(300 * time.Millisecond) {
		code, m := apiCall(t, service, "GET", "/jobs", token, nil)
		jobs, _ := m["jobs"].([]any)
		busy := false
		var out []map[string]any
		for _, j := range jobs {
			jm, _ := j.(map[string]any)
			out = append(out, jm)
			switch jm["state"] {
			case "queued", "provisioning", "running":
				busy = true
			}
		}
		if code == http.StatusOK && !busy {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("jobs still running: %d %v", code, m)
		}
	}
}

// TestProductionWorkflows: production's nightly workflows, their shell
// verbatim but for the host names, against serve: the test runner starts a
// TEST with no body (branch main, the configured test cluster), and the
// test report finds it passed and recent; before any TEST it fails.
func TestProductionWorkflows(t *testing.T) {
	runner, report := workflowScript(t, "sliderule-testrunner.yml"), workflowScript(t, "sliderule-testreport.yml")
	repo := fixtureSliderule(t)
	passingMain(t, repo)
	plans := filepath.Join(t.TempDir(), "test.yaml")
	if err := os.WriteFile(plans, []byte(fixturePlan), 0o600); err != nil {
		t.Fatal(err)
	}
	srv, adminTok := clientsServe(t, "--sliderule-repo", repo, "--plans", plans, "--test-cluster", "nightly")
	if code, m := apiCall(t, srv.URL, "POST", "/clusters/register", adminTok, map[string]any{"cluster": "nightly", "is_public": false}); code != http.StatusOK {
		t.Fatalf("register: %d %v", code, m)
	}
	routes := clientRoutes("slideruleearth.io", srv.URL, nil)

	if code, out := runWorkflow(t, report, routes, patAdmin); code == 0 {
		t.Fatalf("the test report passed before any TEST:\n%s", out)
	}
	code, out := runWorkflow(t, runner, routes, patAdmin)
	if code != 0 || !strings.Contains(out, `"operation"`) {
		t.Fatalf("test runner workflow: exit %d\n%s\n%s", code, out, srv.stderr)
	}
	jobs := waitJobs(t, srv.URL, adminTok)
	if len(jobs) != 1 || jobs[0]["version"] != "main" || jobs[0]["cluster"] != "nightly" || jobs[0]["state"] != "passed" {
		t.Fatalf("the workflow's TEST: %v", jobs)
	}
	if code, out := runWorkflow(t, report, routes, patAdmin); code != 0 {
		t.Fatalf("test report workflow: exit %d\n%s", code, out)
	}
	code, m := apiCall(t, srv.URL, "POST", "/report/tests", adminTok, map[string]string{"branch": "main"})
	steps, _ := m["steps"].([]any)
	if code != http.StatusOK || m["status"] != true || m["job"] != jobs[0]["id"] || len(steps) < 2 ||
		m["log"] != srv.URL+"/jobs/"+jobs[0]["id"].(string)+"/log" {
		t.Fatalf("report: %d %v", code, m)
	}

	// A failing TEST of main makes the report fail.
	if code, m := apiCall(t, srv.URL, "POST", "/test", adminTok, map[string]string{"branch": "v2.0.0"}); code != http.StatusAccepted {
		t.Fatalf("test {branch}: %d %v", code, m)
	}
	waitJobs(t, srv.URL, adminTok)
	if code, m := apiCall(t, srv.URL, "POST", "/report/tests", adminTok, map[string]string{"branch": "v2.0.0"}); code != http.StatusOK || m["status"] != false || m["result"] != "failed" {
		t.Fatalf("report of a failed TEST: %d %v", code, m)
	}
}

// TestReleasedCLICommands: sliderule-cli's sliderule-provisioner, as
// released, runs each of its commands against serve, and what it prints is
// filled in.
func TestReleasedCLICommands(t *testing.T) {
	c := newReleasedClients(t)
	repo := fixtureSliderule(t)
	passingMain(t, repo)
	plans := filepath.Join(t.TempDir(), "test.yaml")
	if err := os.WriteFile(plans, []byte(fixturePlan), 0o600); err != nil {
		t.Fatal(err)
	}
	srv, adminTok := clientsServe(t, "--sliderule-repo", repo, "--plans", plans, "--test-cluster", "demo")
	c.routes = clientRoutes(clientsDomain, srv.URL, nil)

	cmd := func(pat string, args ...string) map[string]any {
		t.Helper()
		args = append(args, "--domain", clientsDomain, "--cluster", "demo", "--timezone", "UTC")
		code, out, errs := c.command(t, pat, "sliderule-provisioner", args...)
		var v map[string]any
		if code != 0 || strings.Contains(errs, "Unhandled error") || json.Unmarshal([]byte(out), &v) != nil {
			t.Fatalf("sliderule-provisioner %v: exit %d\n%s\n%s", args, code, out, errs)
		}
		noError(t, "sliderule-provisioner "+args[0], v)
		return v
	}
	filled := func(what string, v map[string]any, keys ...string) {
		t.Helper()
		for _, k := range keys {
			if x, ok := v[k]; !ok || x == nil || x == "" {
				t.Errorf("%s prints no %s: %v", what, k, v)
			}
		}
	}

	cmd(patMember, "deploy", "--node_capacity", "1", "--ttl", "30", "--version", "latest")
	waitState(t, srv.URL, adminTok, "demo", "running", time.Minute)
	st := cmd(patMember, "status")
	filled("status", st, "stack_name", "stack_status", "creation_time", "auto_shutdown", "current_nodes", "version", "is_public", "node_capacity")
	if st["stack_status"] != "CREATE_COMPLETE" || st["current_nodes"] != 1.0 || st["is_public"] != "false" {
		t.Errorf("status: %v", st)
	}
	ext := cmd(patMember, "extend", "--ttl", "60")
	filled("extend", ext, "state")
	ev := cmd(patMember, "events")
	if evs, _ := ev["events"].([]any); len(evs) == 0 {
		t.Errorf("events: %v", ev)
	}
	rep := cmd(patMember, "report")
	demo, _ := rep["demo"].(map[string]any)
	filled("report", demo, "auto_shutdown", "current_nodes", "version", "is_public", "node_capacity")
	if len(rep) != 1 {
		t.Errorf("report: %v", rep)
	}
	info := cmd(patMember, "info")
	filled("info", info, "username", "orgRoles", "knownClusters", "deployableClusters", "maxNodes", "maxTTL")
	if info["username"] != "otto" || !strings.Contains(strings.Join(strings.Fields(jsonString(info["knownClusters"])), ""), `"demo"`) {
		t.Errorf("info: %v", info)
	}
	// test --branch X sends {"branch": X}: a TEST of X on the configured cluster.
	started := cmd(patAdmin, "test", "--branch", "v1.0.0")
	job, _ := started["job"].(map[string]any)
	if started["status"] != "pending" || job["version"] != "v1.0.0" || job["cluster"] != "demo" {
		t.Errorf("test: %v", started)
	}
	waitJobs(t, srv.URL, adminTok)
	cmd(patMember, "destroy")
	waitState(t, srv.URL, adminTok, "demo", "", time.Minute)
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestReleasedClientDeviceFlowErrors: the released Python client's device
// flow (no PAT) against serve. Its loop re-polls at once on status "error"
// and stops only on success, its own timeout or an exception: a denied
// login is answered "error" with the reason, which the client logs, held
// back by --device-pace, so it polls at that pace rather than spinning.
// Throttling answers "pending" with the longer interval, which it sleeps.
func TestReleasedClientDeviceFlowErrors(t *testing.T) {
	c := newReleasedClients(t)
	const pace, expires = time.Second, 5
	srv, _, gh := clientsServeGitHub(t, "--device-pace", pace.String())
	c.routes = clientRoutes(clientsDomain, srv.URL, nil)
	gh.SetDeviceExpiresIn(expires)

	gh.AddDevice("dev-denied", "DENY-0001")
	gh.DenyDevice("dev-denied")
	start := time.Now()
	run := c.session(t, "", sessionSpec{Session: map[string]any{"domain": clientsDomain, "cluster": "demo"}})
	took := time.Since(start)
	polls := requestsTo(c.requests(t), "POST", "https://login."+clientsDomain+"/auth/github/device/poll")
	if run.Token != "" {
		t.Errorf("a denied login holds a token")
	}
	if !strings.Contains(run.Stderr, "access_denied") {
		t.Errorf("the client does not say why:\n%s", run.Stderr)
	}
	// Within its timeout (expires_in) it polls about once per pace; a hot
	// loop would make hundreds of polls.
	if max := int(time.Duration(expires)*time.Second/pace) + 2; len(polls) < 2 || len(polls) > max {
		t.Errorf("%d polls in %s (want 2..%d at one per %s)", len(polls), took, max, pace)
	}
	for _, p := range polls {
		if p.Status == nil || *p.Status != http.StatusForbidden {
			t.Errorf("denied poll answered %+v", p)
		}
	}

	// Throttled: slow_down answers pending with the raised interval, and
	// the client waits it (one poll after the throttle, then its timeout).
	gh.AddDevice("dev-slow", "SLOW-0001")
	gh.SlowDownDevice("dev-slow")
	start = time.Now()
	run = c.session(t, "", sessionSpec{Session: map[string]any{"domain": clientsDomain, "cluster": "demo"}})
	polls = requestsTo(c.requests(t), "POST", "https://login."+clientsDomain+"/auth/github/device/poll")
	if run.Token != "" || len(polls) != 1 || polls[0].Status == nil || *polls[0].Status != http.StatusAccepted {
		t.Errorf("throttled flow: token %t, polls %+v after %s", run.Token != "", polls, time.Since(start))
	}
}
