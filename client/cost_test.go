package client

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"provisioner/api"
)

// TestCostCalls: the dry run posts dry_run (whatever the request said),
// the spend report sends its query, and DEPLOY's estimate is read from a
// 202 and from a 200.
func TestCostCalls(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/deploy":
			var req api.DeployRequest
			_ = json.NewDecoder(r.Body).Decode(&req)
			got = append(got, "deploy dry_run="+map[bool]string{true: "true", false: "false"}[req.DryRun])
			if req.DryRun {
				_, _ = w.Write([]byte(`{"status":"success","dry_run":true,"cluster":"c","state":"absent","node_capacity":1,"ttl":60,"estimated_cost":{"total":0.5}}`))
			} else if req.Cluster == "pending" {
				w.WriteHeader(http.StatusAccepted)
				_, _ = w.Write([]byte(`{"status":"pending","operation":{"id":"op"},"estimated_cost":{"total":1.5}}`))
			} else {
				_, _ = w.Write([]byte(`{"status":"success","cluster":"c","state":"running","is_public":"false","node_capacity":"1","estimated_cost":{"total":2.5}}`))
			}
		case "/report/costs":
			got = append(got, "costs "+r.URL.RawQuery)
			_, _ = w.Write([]byte(`{"status":"success","by":"user","total":3}`))
		}
	}))
	defer srv.Close()
	c := New(srv.URL, "tok")
	p, err := c.PlanDeploy(t.Context(), api.DeployRequest{Cluster: "c", NodeCapacity: 1})
	if err != nil || p.EstimatedCost.Total != 0.5 {
		t.Errorf("plan = %+v, %v", p, err)
	}
	r, err := c.Deploy(t.Context(), api.DeployRequest{Cluster: "pending", NodeCapacity: 1})
	if err != nil || r.Done || r.Estimate == nil || r.Estimate.Total != 1.5 {
		t.Errorf("pending deploy = %+v, %v", r, err)
	}
	r, err = c.Deploy(t.Context(), api.DeployRequest{Cluster: "c", NodeCapacity: 1})
	if err != nil || !r.Done || r.Estimate == nil || r.Estimate.Total != 2.5 {
		t.Errorf("done deploy = %+v, %v", r, err)
	}
	if rep, err := c.Costs(t.Context(), "user", "2026-03-01"); err != nil || rep.Total != 3 {
		t.Errorf("costs = %+v, %v", rep, err)
	}
	if _, err := c.Costs(t.Context(), "", ""); err != nil {
		t.Fatal(err)
	}
	want := []string{"deploy dry_run=true", "deploy dry_run=false", "deploy dry_run=false", "costs by=user&since=2026-03-01", "costs "}
	if len(got) != len(want) {
		t.Fatalf("calls = %q", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("call %d = %q, want %q", i, got[i], want[i])
		}
	}
}
