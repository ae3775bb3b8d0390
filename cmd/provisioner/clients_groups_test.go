package main

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestReleasedClientUserService: sliderule==5.7.0 with user_service=True,
// unchanged, against a public local cluster behind production's ILB. A
// GitHub user outside the organization (a member) names the public
// cluster the client's way ("sliderule"): scaleout() deploys the user's
// node group through /deploy/{username} and waits on /discovery/status
// {"service": <sub>} until it has capacity; /source/version with
// x-sliderule-service: <sub> is answered by the group's nodes;
// provisioner.status() reads /status/{username}; the client's destroy(),
// which posts the parent ({"cluster": "sliderule"}), is refused and
// leaves the cluster; /destroy/{username} removes the group alone; the
// cluster's DESTROY would take it with it.
func TestReleasedClientUserService(t *testing.T) {
	c := newReleasedClients(t)
	srv, adminTok := clientsServe(t, ilbArgs(t)...)
	code, body := apiCall(t, srv.URL, "POST", "/deploy", adminTok,
		map[string]any{"cluster": "earth", "is_public": true, "node_capacity": 1, "ttl": 60})
	if code != http.StatusOK && code != http.StatusAccepted {
		t.Fatalf("deploy of the public cluster: %d %v", code, body)
	}
	waitState(t, srv.URL, adminTok, "earth", "running", time.Minute)
	c.routes = clientRoutes(clientsDomain, srv.URL, map[string]string{"sliderule": clusterFront(t, srv.URL, adminTok, "earth")})

	run := c.session(t, patGuest, sessionSpec{
		Session: map[string]any{"domain": clientsDomain, "user_service": true, "rethrow": true},
		Calls: []clientCall{
			{Call: "scaleout", Args: []any{2, 30}},
			{Call: "source", Args: []any{"version"}},
			{Call: "provisioner.status"},
		}})
	if run.Service != "gus" {
		t.Fatalf("the client's service is %q, want gus\n%s", run.Service, run.Stderr)
	}
	var reached []int
	run.result(t, 0, &reached)
	if len(reached) != 2 || reached[0] < 2 || reached[1] != 2 {
		t.Fatalf("scaleout(2, 30) returned %v\nclient log:\n%s", reached, run.Stderr)
	}
	var version map[string]any
	run.result(t, 1, &version)
	if version["cluster"] != "gus" || version["account"] != "gus" {
		t.Errorf("/source/version was not answered by gus's nodes: %v", version)
	}
	var status map[string]any
	run.result(t, 2, &status)
	if status["state"] != "running" || status["cluster"] != "earth" || status["current_nodes"] != 2.0 || status["auto_shutdown"] == nil {
		t.Errorf("status/gus: %v", status)
	}
	reqs := c.requests(t)
	if got := requestsTo(reqs, "POST", "https://provisioner."+clientsDomain+"/deploy/gus"); len(got) != 1 || got[0].Status == nil || *got[0].Status/100 != 2 {
		t.Errorf("scaleout's deploy: %+v", got)
	}
	if got := requestsTo(reqs, "GET", "https://sliderule."+clientsDomain+"/source/version"); len(got) != 1 || *got[0].Status != http.StatusOK {
		t.Errorf("/source/version: %+v", got)
	}

	// 5.7.0's destroy() in user-service mode posts the parent: refused.
	done := c.session(t, patGuest, sessionSpec{
		Session: map[string]any{"domain": clientsDomain, "user_service": true},
		Calls:   []clientCall{{Call: "provisioner.destroy"}}})
	var refused map[string]any
	done.result(t, 0, &refused)
	if e, _ := refused["error"].(string); !strings.Contains(e, "403") || !strings.Contains(refused["error_description"].(string), "/destroy/") {
		t.Errorf("the parent's destroy was not refused with a pointer to /destroy/{username}: %v", refused)
	}
	waitState(t, srv.URL, adminTok, "earth", "running", time.Second)

	// The report lists the group under the cluster.
	code, report := apiCall(t, srv.URL, "POST", "/report/clusters", adminTok, map[string]any{})
	users, _ := report["earth"].(map[string]any)["users"].(map[string]any)
	if code != http.StatusOK || users["gus"] == nil {
		t.Errorf("report: %d %v", code, report)
	}

	// Its own group goes by /destroy/{username}; the cluster stays.
	guestTok := patLogin(t, srv.URL, patGuest)
	code, body = apiCall(t, srv.URL, "POST", "/destroy/gus", guestTok, map[string]any{"cluster": "sliderule"})
	if code != http.StatusOK && code != http.StatusAccepted {
		t.Fatalf("destroy/gus: %d %v", code, body)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		_, st := apiCall(t, srv.URL, "POST", "/status/gus", guestTok, map[string]any{"cluster": "earth"})
		if st["state"] == "absent" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("group not gone: %v", st)
		}
	}
	waitState(t, srv.URL, adminTok, "earth", "running", time.Second)

	// A new group, then the cluster's DESTROY takes it with it.
	code, body = apiCall(t, srv.URL, "POST", "/deploy/gus", guestTok, map[string]any{"cluster": "earth", "node_capacity": 1, "ttl": 30})
	if code != http.StatusOK && code != http.StatusAccepted {
		t.Fatalf("deploy/gus: %d %v", code, body)
	}
	apiCall(t, srv.URL, "POST", "/destroy", adminTok, map[string]string{"cluster": "earth"})
	waitState(t, srv.URL, adminTok, "earth", "", time.Minute)
	if _, st := apiCall(t, srv.URL, "POST", "/status/gus", adminTok, map[string]any{"cluster": "earth"}); st["state"] != "absent" {
		t.Errorf("the group outlived its cluster: %v", st)
	}
}
