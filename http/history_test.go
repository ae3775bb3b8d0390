package http_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"provisioner"
	"provisioner/api"
)

// TestTestHistoryEndpoint: GET /report/tests beside production's POST at
// the same path: members read a branch's finished TESTs newest first, with
// the failed test names, the commit and the flags; answers match the spec.
func TestTestHistoryEndpoint(t *testing.T) {
	e := newEnv(t)
	member := e.login("tok-org")
	base := time.Date(2026, 8, 1, 10, 0, 0, 0, time.UTC)
	for i := 1; i <= 3; i++ {
		st := provisioner.StepResult{Name: "pytest", Status: "passed", Tests: 3}
		state := provisioner.JobPassed
		if i == 2 {
			st.Status, st.Failures, st.FailedTests, state = "failed", 1, []string{"t.test_time"}, provisioner.JobFailed
		}
		j := provisioner.Job{ID: fmt.Sprintf("%032x", i), Kind: provisioner.JobTest, Cluster: "c1", Version: "main",
			Commit: "abcdef0123456789abcdef0123456789abcdef01", State: state, CreatedAt: base.Add(time.Duration(i) * time.Minute),
			FinishedAt: base.Add(time.Duration(i)*time.Minute + time.Second), Deadline: base.Add(time.Hour),
			Steps: []provisioner.StepResult{st}}
		if _, err := e.store.PutJob(context.Background(), j); err != nil {
			t.Fatal(err)
		}
	}
	r := e.do("GET", "/report/tests?branch=main&limit=2", member, nil)
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	var h api.TestHistory
	if err := json.Unmarshal(r.raw, &h); err != nil {
		t.Fatal(err)
	}
	if h.Branch != "main" || len(h.Runs) != 2 || h.Runs[0].Job != fmt.Sprintf("%032x", 3) || h.Runs[1].Result != provisioner.JobFailed ||
		h.Runs[1].Steps[0].FailedTests[0] != "t.test_time" || h.Runs[0].Commit == "" || !h.Runs[0].Date.Equal(base.Add(3*time.Minute+time.Second)) {
		t.Fatalf("history: %s", r.raw)
	}
	if len(h.Flaky) != 1 || h.Flaky[0].Test != "t.test_time" || h.Flaky[0].Step != "pytest" || len(h.Failing) != 0 {
		t.Fatalf("flags: %s", r.raw)
	}
	if r := e.do("GET", "/report/tests", "", nil); r.status != 401 {
		t.Fatalf("anonymous: %d %s", r.status, r.raw)
	}
	wantError(t, e.do("GET", "/report/tests?limit=0", member, nil), 400, provisioner.EINVALID)
	wantError(t, e.do("GET", "/report/tests?limit=101", member, nil), 400, provisioner.EINVALID)
	// Production's POST at the same path still answers its latest summary.
	if r := e.do("POST", "/report/tests", member, map[string]string{"branch": "main"}); r.status != 200 || r.body["status"] != true {
		t.Fatalf("POST: %d %s", r.status, r.raw)
	}
}
