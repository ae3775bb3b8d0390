package app

import (
	"testing"

	"provisioner"
)

// TestStartTestDefaultsAndLatestTest: TEST with no body tests main on the
// configured cluster, {branch} names the version, and the test report is
// the latest finished TEST of the branch, passing over running and
// cancelled ones.
func TestStartTestDefaultsAndLatestTest(t *testing.T) {
	f, r := jobFixture(t)
	if _, err := f.app.StartTest(bg, admin, TestRequest{}); provisioner.ErrorCode(err) != provisioner.EINVALID {
		t.Fatalf("no default cluster: %v", err)
	}
	f.app.jobs.testCluster = "c1"
	if _, err := f.app.StartTest(bg, admin, TestRequest{Version: "v1", Branch: "v2"}); provisioner.ErrorCode(err) != provisioner.EINVALID {
		t.Fatalf("version and branch disagree: %v", err)
	}
	if _, err := f.app.LatestTest(bg, orgMem, ""); provisioner.ErrorCode(err) != provisioner.ENOTFOUND {
		t.Fatalf("no TEST yet: %v", err)
	}
	r.outcome["main"] = provisioner.JobStatus{State: provisioner.JobPassed, Steps: []provisioner.StepResult{{Name: "pytest", Status: "passed"}}}
	j, err := f.app.StartTest(bg, admin, TestRequest{})
	if err != nil || j.Version != "main" || j.Cluster != "c1" {
		t.Fatalf("default TEST: %+v %v", j, err)
	}
	passed := f.waitJob(t, j.ID)
	if passed.State != provisioner.JobPassed {
		t.Fatalf("TEST of main: %+v", passed)
	}
	// A later TEST of main still running, and one cancelled: neither is the report.
	delete(r.outcome, "main")
	running, err := f.app.StartTest(bg, admin, TestRequest{Branch: "main"})
	if err != nil {
		t.Fatal(err)
	}
	cancelled, err := f.app.StartTest(bg, admin, TestRequest{Branch: "main"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.app.CancelJob(bg, admin, cancelled.ID); err != nil {
		t.Fatal(err)
	}
	rep, err := f.app.LatestTest(bg, orgMem, "main")
	if err != nil || rep.Job.ID != j.ID || rep.Branch != "main" {
		t.Fatalf("report: %+v %v (running %s, cancelled %s)", rep, err, running.ID, cancelled.ID)
	}
	if _, err := f.app.LatestTest(bg, anon, "main"); provisioner.ErrorCode(err) != provisioner.EUNAUTHORIZED {
		t.Fatalf("anonymous report: %v", err)
	}
	if _, err := f.app.LatestTest(bg, orgMem, "../x"); provisioner.ErrorCode(err) != provisioner.EINVALID {
		t.Fatalf("bad branch: %v", err)
	}
}
