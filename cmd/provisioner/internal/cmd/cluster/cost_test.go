package cluster

import (
	"net/http"
	"strings"
	"testing"

	"provisioner"
	"provisioner/api"
	"provisioner/cmd/provisioner/internal/cmdtest"
)

// estimate is a default cluster of 2 nodes for 2 hours at the shipped
// us-west-2 prices.
var estimate = provisioner.Estimate{Currency: "USD", Region: "us-west-2", Nodes: 2, Hours: 2, Hourly: 0.772723, FixedHourly: 0.221095,
	Total: 1.545445, PricesAsOf: "2026-01-15", Excludes: "data transfer, NAT gateway data processing, S3 requests and taxes",
	Lines: []provisioner.CostLine{
		{Part: "load_balancer", Item: "c8g.large", Market: provisioner.OnDemand, Quantity: 1, Unit: "instance-hour", UnitPrice: 0.07976, Hourly: 0.07976, Fixed: true},
		{Part: "nodes", Item: "t4g.2xlarge", Market: provisioner.OnDemand, Quantity: 2, Unit: "instance-hour", UnitPrice: 0.2688, Hourly: 0.5376},
	}}

// TestDeployDryRun: --dry-run posts the dry run only (any other request
// fails the test), prints the estimate and says nothing was deployed.
func TestDeployDryRun(t *testing.T) {
	plan := api.DeployPlan{Status: "success", DryRun: true, Cluster: "demo", State: "absent", NodeCapacity: 2, TTL: 120, EstimatedCost: estimate}
	for _, tty := range []bool{false, true} {
		f, out, errb := cmdtest.Factory(t)
		f.IOStreams.SetStdoutTTY(tty)
		cmdtest.API(t, f, map[string][]cmdtest.Answer{"POST /deploy": cmdtest.OK(plan)})
		if err := cmdtest.Run(f, NewCmdDeploy(f, nil), "deploy demo --nodes 2 --ttl 2h --dry-run"); err != nil {
			t.Fatal(err)
		}
		want := "demo (absent now): $0.7727 an hour, $1.55 for 2h (2 nodes, us-west-2, prices of 2026-01-15)\n" +
			"load_balancer\tc8g.large\ton_demand\t1\tinstance-hour\t0.07976\t0.07976\tfixed\n" +
			"nodes\tt4g.2xlarge\ton_demand\t2\tinstance-hour\t0.2688\t0.5376\tper node\n"
		if tty {
			want = "demo (absent now): $0.7727 an hour, $1.55 for 2h (2 nodes, us-west-2, prices of 2026-01-15)\n" +
				"PART           ITEM         MARKET     QUANTITY  UNIT           UNIT PRICE  PER HOUR  SCALES\n" +
				"load_balancer  c8g.large    on_demand  1         instance-hour  0.07976     0.07976   fixed\n" +
				"nodes          t4g.2xlarge  on_demand  2         instance-hour  0.2688      0.5376    per node\n"
		}
		if out.String() != want {
			t.Errorf("tty=%v:\n%s\nwant:\n%s", tty, out.String(), want)
		}
		if !strings.Contains(errb.String(), "dry run: nothing was deployed") || !strings.Contains(errb.String(), "not included: data transfer") {
			t.Errorf("stderr: %q", errb.String())
		}
	}
	f, out, _ := cmdtest.Factory(t)
	cmdtest.API(t, f, map[string][]cmdtest.Answer{"POST /deploy": cmdtest.OK(plan)})
	if err := cmdtest.Run(f, NewCmdDeploy(f, nil), "deploy demo --dry-run --json"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"dry_run": true`) || !strings.Contains(out.String(), `"total": 1.545445`) {
		t.Errorf("--json: %s", out.String())
	}
}

// TestDeployPrintsEstimateFirst: the estimate of the DEPLOY's answer is
// on stderr before the progress of --wait; stdout keeps the status.
func TestDeployPrintsEstimateFirst(t *testing.T) {
	answers := deployAnswers()
	pending := answers["POST /deploy"][0].Body.(api.PendingOp)
	pending.EstimatedCost = &estimate
	answers["POST /deploy"] = []cmdtest.Answer{{Status: http.StatusAccepted, Body: pending}}
	f, out, errb := cmdtest.Factory(t)
	cmdtest.API(t, f, answers)
	if err := cmdtest.Run(f, NewCmdDeploy(f, nil), "deploy demo --nodes 2 --ttl 2h --wait"); err != nil {
		t.Fatal(err)
	}
	want := "estimated cost of demo: $0.7727 an hour, $1.55 for 2h (2 nodes, us-west-2, prices of 2026-01-15) until its destroy time; " +
		"not included: data transfer, NAT gateway data processing, S3 requests and taxes\n" +
		"deploy demo: deploying after 0s\n"
	if !strings.HasPrefix(errb.String(), want) {
		t.Errorf("stderr:\n%s\nwant it to start with:\n%s", errb.String(), want)
	}
	if !strings.HasPrefix(out.String(), "cluster:    demo\nstate:      running\n") {
		t.Errorf("stdout: %q", out.String())
	}
	// No estimate in the answer (a provisioner without prices): no line.
	f, _, errb = cmdtest.Factory(t)
	cmdtest.API(t, f, deployAnswers())
	if err := cmdtest.Run(f, NewCmdDeploy(f, nil), "deploy demo"); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(errb.String(), "estimated cost") {
		t.Errorf("stderr: %q", errb.String())
	}
}

// budgetNote is a budget's cut of a 4-hour TTL to 2 hours.
var budgetNote = &api.BudgetNote{Scope: "user:otto", AskedTTL: 240, TTL: 120, Left: 1,
	Message: "the TTL was cut from 4h to 2h: the budget of user:otto has $1.00 left in August 2026"}

// TestDeployShrunkByBudget: a DEPLOY whose TTL a budget cut says so on
// stderr, as its dry run and an EXTEND do; --json carries the note.
func TestDeployShrunkByBudget(t *testing.T) {
	want := "budget: the TTL was cut from 4h to 2h: the budget of user:otto has $1.00 left in August 2026\n"
	answers := deployAnswers()
	pending := answers["POST /deploy"][0].Body.(api.PendingOp)
	pending.Budget = budgetNote
	answers["POST /deploy"] = []cmdtest.Answer{{Status: http.StatusAccepted, Body: pending}}
	f, _, errb := cmdtest.Factory(t)
	cmdtest.API(t, f, answers)
	if err := cmdtest.Run(f, NewCmdDeploy(f, nil), "deploy demo --ttl 4h"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errb.String(), want) {
		t.Errorf("deploy stderr:\n%s\nwant:\n%s", errb.String(), want)
	}

	plan := api.DeployPlan{Status: "success", DryRun: true, Cluster: "demo", State: "absent", NodeCapacity: 2, TTL: 120, EstimatedCost: estimate, Budget: budgetNote}
	f, _, errb = cmdtest.Factory(t)
	cmdtest.API(t, f, map[string][]cmdtest.Answer{"POST /deploy": cmdtest.OK(plan)})
	if err := cmdtest.Run(f, NewCmdDeploy(f, nil), "deploy demo --ttl 4h --dry-run"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errb.String(), want) || !strings.HasSuffix(errb.String(), "dry run: nothing was deployed\n") {
		t.Errorf("dry run stderr: %q", errb.String())
	}

	st := api.Status{Status: "success", Cluster: "demo", State: "running", Budget: budgetNote}
	f, out, errb := cmdtest.Factory(t)
	cmdtest.API(t, f, map[string][]cmdtest.Answer{"POST /extend": cmdtest.OK(st)})
	if err := cmdtest.Run(f, NewCmdExtend(f, nil), "extend demo --ttl 4h"); err != nil {
		t.Fatal(err)
	}
	if errb.String() != want || !strings.HasPrefix(out.String(), "cluster:    demo\n") {
		t.Errorf("extend: stdout %q stderr %q", out.String(), errb.String())
	}
	f, out, errb = cmdtest.Factory(t)
	cmdtest.API(t, f, map[string][]cmdtest.Answer{"POST /extend": cmdtest.OK(st)})
	if err := cmdtest.Run(f, NewCmdExtend(f, nil), "extend demo --ttl 4h --json"); err != nil {
		t.Fatal(err)
	}
	if errb.String() != "" || !strings.Contains(out.String(), `"ttl_asked": 240`) {
		t.Errorf("extend --json: stdout %q stderr %q", out.String(), errb.String())
	}
}
