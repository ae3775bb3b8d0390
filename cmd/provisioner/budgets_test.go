package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeBudgets: serve refuses to start on a bad budgets file, saying
// what is wrong; under a good one, a DEPLOY whose TTL the budget cuts
// says so, the next is refused with the amounts, and `budgets` shows
// where the budget stands.
func TestServeBudgets(t *testing.T) {
	t.Setenv("PROVISIONER_CONFIG_DIR", t.TempDir())
	t.Setenv("PROVISIONER_TOKEN", "")
	dir := t.TempDir()
	file := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	bad := file("bad.json", `{"budgets": [{"scope": "user:*", "monthly": 1, "policy": "refuse", "grace": "1m"}]}`)
	if errs := serveRefused(t, t.TempDir(), "--budgets", bad); !strings.Contains(errs, "--budgets") || !strings.Contains(errs, "grace 1m0s must be between") {
		t.Errorf("bad --budgets: %s", errs)
	}
	typo := file("typo.json", `{"budgets": [{"scope": "user:*", "montly": 1, "policy": "refuse"}]}`)
	if errs := serveRefused(t, t.TempDir(), "--budgets", typo); !strings.Contains(errs, `unknown field "montly"`) {
		t.Errorf("a typo in --budgets: %s", errs)
	}
	if errs := serveRefused(t, t.TempDir(), "--budgets", filepath.Join(dir, "missing.json")); !strings.Contains(errs, "--budgets") {
		t.Errorf("a missing --budgets: %s", errs)
	}

	// 0.50 a month each: an hour of 1 node (0.496909 at the shipped
	// us-west-2 prices) and no more.
	good := file("budgets.json", `{"budgets": [{"scope": "user:*", "monthly": 0.5, "policy": "shrink"}]}`)
	srv := clusterServe(t, t.TempDir(), "127.0.0.1:0", "PROVISIONER_BUDGETS="+good)
	t.Setenv("PROVISIONER_URL", srv.URL)
	mustCLI(t, "login", "--pat", "member-token-1")
	code, out, errs := cli(t, "", "deploy", "demo", "--ttl", "2h")
	if code != 0 || !strings.Contains(errs, "budget: the TTL was cut from 2h to 1h: the budget of user:otto has $0.50 left") {
		t.Fatalf("deploy: exit %d\n%s%s", code, out, errs)
	}
	code, _, errs = cli(t, "", "deploy", "second", "--ttl", "1h")
	if code == 0 || !strings.Contains(errs, "the budget of user:otto has $0.00 left") || !strings.Contains(errs, "less than the shortest TTL") {
		t.Fatalf("a deploy beyond the budget: exit %d\n%s", code, errs)
	}
	if out := mustCLI(t, "budgets"); !strings.HasPrefix(out, "user:otto\tshrink\t0.5\t") || !strings.Contains(out, "\twarning\n") {
		t.Errorf("budgets: %q", out)
	}
	mustCLI(t, "destroy", "demo", "--wait")
}
