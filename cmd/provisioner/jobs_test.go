package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fixtureSliderule makes a git repository standing in for sliderule: its
// tests pass at v1.0.0, fail at v2.0.0, and at v3.0.0 exit 0 while their
// JUnit report counts a failure.
func fixtureSliderule(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	git := func(args ...string) {
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.org"}, args...)...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	git("init", "-q", "-b", "main")
	junit := `<testsuite name="s" tests="2" failures="%d"><testcase name="a"/><testcase name="b">%s</testcase></testsuite>`
	for _, v := range []struct{ tag, run, report string }{
		{"v1.0.0", "echo all good; exit 0", strings.ReplaceAll(strings.Replace(junit, "%d", "0", 1), "%s", "")},
		{"v2.0.0", "echo broken >&2; exit 1", strings.ReplaceAll(strings.Replace(junit, "%d", "0", 1), "%s", "")},
		{"v3.0.0", "echo looks fine; exit 0", strings.ReplaceAll(strings.Replace(junit, "%d", "1", 1), "%s", `<failure message="nope"/>`)},
	} {
		write("run-tests.sh", "#!/bin/sh\n"+v.run+"\n")
		write("report.xml", v.report)
		git("add", ".")
		git("commit", "-q", "-m", v.tag)
		git("tag", v.tag)
	}
	return dir
}

const fixturePlan = `kind: test
description: the fixture's tests
timeout: 10m
steps:
  - name: client-tests
    run: ./run-tests.sh && cp report.xml "$WORK_DIR/report.xml" && mkdir -p out && cp report.xml out/
    junit: out/*.xml
  - name: selftest
    run: echo "selftest of $VERSION on $CLUSTER"
    container: true
`

// TestJobsEndToEnd: `provisioner test … --wait` on the embedded service
// exits 0 for a passing plan and non-zero for a failing one.
func TestJobsEndToEnd(t *testing.T) {
	t.Setenv("PROVISIONER_CONFIG_DIR", t.TempDir())
	t.Setenv("PROVISIONER_TOKEN", "")
	plans := filepath.Join(t.TempDir(), "test.yaml")
	if err := os.WriteFile(plans, []byte(fixturePlan), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startServe(t, nil, "--identity", "static:"+writeIdentity(t), "--sliderule-repo", fixtureSliderule(t),
		"--plans", plans, "--cluster-upstream", "http://127.0.0.1:1")
	t.Setenv("PROVISIONER_URL", srv.URL)
	mustCLI(t, "login", "--pat", "admin-token-1")
	mustCLI(t, "cluster", "register", "nightly", "--private")

	code, out, errs := cli(t, "", "test", "nightly", "--version", "v1.0.0", "--wait")
	if code != 0 || !strings.Contains(out, "passed") || !strings.Contains(out, "client-tests") {
		t.Fatalf("passing plan: exit %d\n%s\n%s\n%s", code, out, errs, srv.stderr)
	}
	code, out, errs = cli(t, "", "test", "nightly", "--version", "v2.0.0", "--wait")
	if code != exitFailure || !strings.Contains(errs, "failed") {
		t.Fatalf("failing plan: exit %d\n%s\n%s", code, out, errs)
	}
	code, out, errs = cli(t, "", "test", "nightly", "--version", "v3.0.0", "--wait")
	if code != exitFailure || !strings.Contains(out, "1 failed") {
		t.Fatalf("exit 0 with a failing JUnit test must fail: exit %d\n%s\n%s", code, out, errs)
	}
	code, _, errs = cli(t, "", "test", "nightly", "--version", "v9.9.9", "--wait")
	if code != exitFailure || !strings.Contains(errs, "error") {
		t.Fatalf("unknown version: exit %d %s", code, errs)
	}

	// The jobs list, one job and its log.
	var jobs []map[string]any
	if err := json.Unmarshal([]byte(mustCLI(t, "jobs", "--json")), &jobs); err != nil || len(jobs) != 4 {
		t.Fatalf("jobs: %v %v", err, jobs)
	}
	first := jobs[len(jobs)-1]["id"].(string)
	if log := mustCLI(t, "logs", first); !strings.Contains(log, "all good") || !strings.Contains(log, "selftest of v1.0.0 on nightly") {
		t.Errorf("log of the passing job:\n%s", log)
	}
	if out := mustCLI(t, "jobs", first); !strings.Contains(out, "selftest") {
		t.Errorf("job view:\n%s", out)
	}

	// Bad input and levels.
	for _, args := range [][]string{
		{"test", "nightly", "--version", "--upload-pack=touch /tmp/pwned"},
		{"test", "nightly", "--version", "v1;rm -rf /"},
		{"release", "nightly"},
	} {
		if code, _, errs := cli(t, "", args...); code != exitUsage {
			t.Errorf("%v: exit %d %s", args, code, errs)
		}
	}
	if code, _, errs := cli(t, "", "test", "nosuch", "--version", "v1.0.0"); code != exitFailure || !strings.Contains(errs, "does not exist") {
		t.Errorf("unknown cluster: exit %d %s", code, errs)
	}
	mustCLI(t, "login", "--pat", "member-token-1")
	if code, _, _ := cli(t, "", "test", "nightly", "--version", "v1.0.0"); code != exitAuth {
		t.Errorf("org member may not TEST: exit %d", code)
	}
}
