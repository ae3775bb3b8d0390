package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"provisioner/prices"
	"provisioner/prices/pricestest"
)

// TestPricesAndCosts: the operator refreshes the price table from the
// Price List API (recorded answers behind the real SDK) and overrides a
// price; serve estimates with both; --dry-run deploys nothing; a DEPLOY
// prints its estimate before waiting; `costs` reports the metered spend.
func TestPricesAndCosts(t *testing.T) {
	t.Setenv("PROVISIONER_CONFIG_DIR", t.TempDir())
	t.Setenv("PROVISIONER_TOKEN", "")
	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-west-2",
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": filepath.Join(t.TempDir(), "none"), "AWS_PROFILE": ""} {
		t.Setenv(k, v)
	}
	rec, err := pricestest.Load()
	if err != nil {
		t.Fatal(err)
	}
	api := rec.Server(t)
	data := t.TempDir()
	mustCLI(t, "prices", "update", "--aws-endpoint", api.URL, "--data", data)
	b, err := os.ReadFile(filepath.Join(data, "prices.json"))
	if err != nil {
		t.Fatal(err)
	}
	refreshed, err := prices.Parse(b, false)
	if err != nil || len(refreshed.Regions) != 2 || refreshed.Regions["us-west-2"].Instances["t4g.2xlarge"].OnDemand != 0.2688 || refreshed.Source != prices.RefreshSource {
		t.Fatalf("refreshed table: %+v %v", refreshed, err)
	}
	if code, _, errs := cli(t, "", "prices", "update", "--aws-endpoint", api.URL, "--data", data, "--region", "us west"); code != exitUsage || !strings.Contains(errs, "invalid region") {
		t.Errorf("bad region: exit %d %s", code, errs)
	}
	if code, _, _ := cli(t, "", "prices", "update", "--aws-endpoint", api.URL, "--data", data, "--region", "eu-west-1"); code == 0 {
		t.Error("a region without prices refreshed")
	}

	// The operator's override: t4g.2xlarge at $1 an hour in us-west-2.
	override := filepath.Join(t.TempDir(), "override.json")
	if err := os.WriteFile(override, []byte(`{"regions":{"us-west-2":{"instances":{"t4g.2xlarge":{"on_demand":1}}}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	// A bad override, or a bad region, refuses to start.
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(`{"regions":{"us-west-2":{"instances":{"t4g.2xlarge":{"on_demand":-1}}}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if errs := serveRefused(t, t.TempDir(), "--prices", bad); !strings.Contains(errs, "--prices") || !strings.Contains(errs, "not a price") {
		t.Errorf("bad --prices: %s", errs)
	}
	if errs := serveRefused(t, t.TempDir(), "--cost-region", "mars"); !strings.Contains(errs, "--cost-region") {
		t.Errorf("bad --cost-region: %s", errs)
	}
	srv := clusterServe(t, data, "127.0.0.1:0", "PROVISIONER_PRICES="+override)
	t.Setenv("PROVISIONER_URL", srv.URL)
	mustCLI(t, "login", "--pat", "member-token-1")

	// Fixed 0.2210953 + 2 × (1 + 0.0070137) = 2.2351227 an hour, 4.4702454 for 2 hours.
	code, out, errs := cli(t, "", "deploy", "demo", "--nodes", "2", "--ttl", "2h", "--dry-run")
	if code != 0 || !strings.HasPrefix(out, "demo (absent now): $2.24 an hour, $4.47 for 2h (2 nodes, us-west-2, prices of ") ||
		!strings.Contains(out, "nodes\tt4g.2xlarge\ton_demand\t2\tinstance-hour\t1\t2\tper node\n") || !strings.Contains(errs, "nothing was deployed") {
		t.Fatalf("dry run: exit %d\n%s%s", code, out, errs)
	}
	if st := statusOf(t, "demo"); st["state"] != "absent" {
		t.Fatalf("the dry run deployed: %v", st)
	}
	// A real DEPLOY: the estimate first, then the wait. 0.2210953 +
	// 1.0070137 = 1.228109 an hour; 0.6140545 for the 30 minutes, less
	// the moments gone by the time of the answer.
	code, out, errs = cli(t, "", "deploy", "demo", "--nodes", "1", "--ttl", "30m", "--wait")
	if code != 0 || !strings.HasPrefix(errs, "estimated cost of demo: $1.23 an hour, $0.614") || !strings.Contains(out, "state:      running") {
		t.Fatalf("deploy: exit %d\n%s%s", code, out, errs)
	}
	mustCLI(t, "destroy", "demo", "--wait")

	var rep struct {
		Source string  `json:"source"`
		Total  float64 `json:"total"`
		Groups []struct {
			Key   string  `json:"key"`
			Total float64 `json:"total"`
		} `json:"groups"`
	}
	if err := json.Unmarshal([]byte(mustCLI(t, "costs", "--json")), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Source != "metered" || len(rep.Groups) != 1 || rep.Groups[0].Key != "demo" || rep.Groups[0].Total <= 0 || rep.Total != rep.Groups[0].Total {
		t.Errorf("costs: %+v", rep)
	}
	if out := mustCLI(t, "costs", "--by", "user"); !strings.HasPrefix(out, "otto\t") {
		t.Errorf("costs by user: %q", out)
	}
	if code, _, errs := cli(t, "", "costs", "--by", "zone"); code != exitUsage || !strings.Contains(errs, "--by must be") {
		t.Errorf("bad --by: exit %d %s", code, errs)
	}
	// Another user sees none of it.
	mustCLI(t, "login", "--pat", "guest-token-1")
	if out := mustCLI(t, "costs"); out != "" {
		t.Errorf("a guest sees: %q", out)
	}
}
