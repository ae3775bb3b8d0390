package http_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"provisioner"
)

// TestAccessDecisions is ACCESS for every level on public, private and
// unknown clusters.
func TestAccessDecisions(t *testing.T) {
	e := newEnv(t)
	e.register("pub", true)
	e.register("priv", false)
	tokens := map[string]string{
		"anonymous":  "",
		"member":     e.login("tok-member"),
		"org_member": e.login("tok-org"),
		"admin":      e.login("tok-admin"),
	}
	want := map[string]map[string]int{
		"anonymous": {"pub": 401, "priv": 401, "nowhere": 401},
		// A private cluster a member may not see is answered as a missing one.
		"member":     {"pub": 200, "priv": 404, "nowhere": 404},
		"org_member": {"pub": 200, "priv": 200, "nowhere": 404},
		"admin":      {"pub": 200, "priv": 200, "nowhere": 404},
	}
	for level, byCluster := range want {
		for cluster, status := range byCluster {
			t.Run(fmt.Sprintf("%s/%s", level, cluster), func(t *testing.T) {
				r := e.do("POST", "/access", tokens[level], map[string]string{"cluster": cluster})
				if r.status != status {
					t.Fatalf("want %d, got %d %s", status, r.status, r.raw)
				}
				if status != 200 {
					if r.str("status") != "failure" {
						t.Errorf("error body %s", r.raw)
					}
					return
				}
				claims, err := e.tokens.VerifyCluster(t.Context(), r.str("token"), cluster)
				if err != nil {
					t.Fatalf("jwt_cluster does not verify: %v", err)
				}
				if claims.Level.String() != level || claims.Type != provisioner.TypeClusterToken || !slices.Equal(claims.Audience, []string{cluster}) {
					t.Errorf("claims %+v", claims)
				}
				exp, err := time.Parse(time.RFC3339, r.str("expires_at"))
				if err != nil || !exp.Equal(claims.ExpiresAt) {
					t.Errorf("expires_at %q vs exp %v", r.str("expires_at"), claims.ExpiresAt)
				}
				// A jwt_cluster opens its own cluster only, and never the provisioner.
				if _, err := e.tokens.VerifyCluster(t.Context(), r.str("token"), "other"); provisioner.ErrorCode(err) != provisioner.EFORBIDDEN {
					t.Errorf("token for %s accepted for another cluster: %v", cluster, err)
				}
				wantError(t, e.do("POST", "/access", r.str("token"), map[string]string{"cluster": cluster}), 401, provisioner.EUNAUTHORIZED)
			})
		}
	}
}

func TestClusterRegistration(t *testing.T) {
	e := newEnv(t)
	admin, member := e.login("tok-admin"), e.login("tok-org")
	wantError(t, e.do("POST", "/clusters/register", member, map[string]any{"cluster": "c1", "is_public": false}), 403, provisioner.EFORBIDDEN)
	wantError(t, e.do("POST", "/clusters/register", admin, map[string]any{"cluster": "c1"}), 400, provisioner.EINVALID)
	wantError(t, e.do("POST", "/clusters/register", admin, map[string]any{"cluster": "Bad_Name", "is_public": true}), 400, provisioner.EINVALID)
	r := e.do("POST", "/clusters/register", admin, map[string]any{"cluster": "c1", "is_public": false})
	if r.status != 200 || r.str("cluster") != "c1" || r.body["is_public"] != "false" || r.str("created_by") != "ada" {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	e.register("pub1", true)
	guest := e.login("tok-member")
	r = e.do("GET", "/clusters", guest, nil)
	if list, _ := r.body["clusters"].([]any); r.status != 200 || len(list) != 1 {
		t.Fatalf("member sees only public clusters: %d %s", r.status, r.raw)
	}
	r = e.do("GET", "/clusters", member, nil)
	if list, _ := r.body["clusters"].([]any); r.status != 200 || len(list) != 2 {
		t.Fatalf("org member sees all: %d %s", r.status, r.raw)
	}
	// Production's report: a map keyed by cluster name, nothing else in it.
	r = e.do("POST", "/report/clusters", guest, nil)
	if _, ok := r.body["pub1"].(map[string]any); r.status != 200 || len(r.body) != 1 || !ok {
		t.Fatalf("member's report: %d %s", r.status, r.raw)
	}
	r = e.do("POST", "/report/clusters", member, map[string]any{})
	c1, _ := r.body["c1"].(map[string]any)
	if r.status != 200 || len(r.body) != 2 || c1 == nil || c1["is_public"] != "false" || c1["users"] == nil {
		t.Fatalf("org member's report: %d %s", r.status, r.raw)
	}
	if r = e.do("POST", "/report/clusters/c1", member, map[string]any{}); r.status != 200 || len(r.body) != 1 || r.body["c1"] == nil {
		t.Fatalf("report of c1: %d %s", r.status, r.raw)
	}
	if r = e.do("POST", "/report/clusters/nothing", member, nil); r.status != 200 || len(r.body) != 0 {
		t.Fatalf("report of an absent cluster: %d %s", r.status, r.raw)
	}
	// A member outside the organization: a private cluster's report is a
	// missing one's.
	for _, name := range []string{"c1", "nothing"} {
		if r = e.do("POST", "/report/clusters/"+name, guest, nil); r.status != 200 || len(r.body) != 0 {
			t.Fatalf("member's report of %s: %d %s", name, r.status, r.raw)
		}
	}
	r = e.do("POST", "/info", member, nil)
	if roles, _ := r.body["orgRoles"].([]any); r.status != 200 || r.str("username") == "" || len(roles) != 1 || roles[0] != "member" ||
		fmt.Sprint(r.body["deployableClusters"]) != "[*]" || fmt.Sprint(r.body["knownClusters"]) == "[]" {
		t.Fatalf("info: %d %s", r.status, r.raw)
	}
	if r = e.do("POST", "/info", guest, map[string]any{}); r.status != 200 || fmt.Sprint(r.body["deployableClusters"]) != "[]" ||
		fmt.Sprint(r.body["knownClusters"]) != "[pub1]" || r.body["maxNodes"] != 0.0 {
		t.Fatalf("info of an outsider: %d %s", r.status, r.raw)
	}
	wantError(t, e.do("POST", "/info", "", nil), 401, provisioner.EUNAUTHORIZED)
	if r = e.do("POST", "/clusters/unregister", admin, map[string]string{"cluster": "c1"}); r.status != 200 {
		t.Fatalf("unregister: %d %s", r.status, r.raw)
	}
	wantError(t, e.do("POST", "/access", member, map[string]string{"cluster": "c1"}), 404, provisioner.ENOTFOUND)
	if r = e.do("POST", "/clusters/unregister", admin, map[string]string{"cluster": "c1"}); r.status != 200 {
		t.Fatalf("unregister twice is fine: %d %s", r.status, r.raw)
	}
}
