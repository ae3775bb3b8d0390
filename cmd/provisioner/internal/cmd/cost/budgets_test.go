package cost

import (
	"errors"
	"strings"
	"testing"

	"provisioner/api"
	"provisioner/cmd/provisioner/internal/cmdtest"
	"provisioner/cmd/provisioner/internal/cmdutil"
)

func TestNewCmdBudgets(t *testing.T) {
	f, _, _ := cmdtest.Factory(t)
	var got *BudgetsOptions
	if err := cmdtest.Run(f, NewCmdBudgets(f, func(o *BudgetsOptions) error { got = o; return nil }), "budgets --json"); err != nil {
		t.Fatal(err)
	}
	if got == nil || !got.JSON {
		t.Fatalf("options %+v", got)
	}
	err := cmdtest.Run(f, NewCmdBudgets(f, func(*BudgetsOptions) error { return nil }), "budgets demo")
	var fe *cmdutil.FlagError
	if !errors.As(err, &fe) {
		t.Fatalf("an argument: %v, want a usage error", err)
	}
}

var budgets = api.BudgetReport{Status: "success", Month: "2026-08", Currency: "USD", Source: "metered", Budgets: []api.Budget{
	{Scope: "user:otto", Policy: "shrink", Monthly: 1, Grace: 60, WarnAt: []int{80}, Available: 1, Spent: 0.496909,
		Reserved: 0.496909, Left: 0.006182, UsedPercent: 99.4, Live: 1, State: "warning"},
	{Scope: "org", Policy: "refuse", AdminsExempt: true, Monthly: 100, CarryOverCap: 50, Grace: 120, WarnAt: []int{}, Carried: 12.5,
		Available: 112.5, Spent: 0.496909, Reserved: 0.496909, Left: 111.506182, UsedPercent: 0.9, Live: 1, State: "ok"},
}}

// TestBudgetsOutput: aligned under a header on a terminal (cents),
// tab-separated rows with every digit for scripts; the month on stderr.
func TestBudgetsOutput(t *testing.T) {
	for _, tc := range []struct {
		tty  bool
		want string
	}{
		{false, "user:otto\tshrink\t1\t0.496909\t0.496909\t0.006182\t99.4%\twarning\norg\trefuse\t112.5\t0.496909\t0.496909\t111.506182\t0.9%\tok\n"},
		{true, "SCOPE      POLICY  AVAILABLE (USD)  SPENT   RESERVED  LEFT    USED   STATE\n" +
			"user:otto  shrink  1.00             0.4969  0.4969    0.0062  99.4%  warning\n" +
			"org        refuse  112.50           0.4969  0.4969    111.51  0.9%   ok\n"},
	} {
		f, out, errb := cmdtest.Factory(t)
		f.IOStreams.SetStdoutTTY(tc.tty)
		cmdtest.API(t, f, map[string][]cmdtest.Answer{"GET /report/budgets": cmdtest.OK(budgets)})
		if err := cmdtest.Run(f, NewCmdBudgets(f, nil), "budgets"); err != nil {
			t.Fatal(err)
		}
		if out.String() != tc.want {
			t.Errorf("tty=%v:\n%s\nwant:\n%s", tc.tty, out.String(), tc.want)
		}
		if want := "budgets of 2026-08, spend metered: runtime × estimated price; reserved: live clusters until their destroy times\n"; errb.String() != want {
			t.Errorf("stderr %q, want %q", errb.String(), want)
		}
	}
	f, out, _ := cmdtest.Factory(t)
	cmdtest.API(t, f, map[string][]cmdtest.Answer{"GET /report/budgets": cmdtest.OK(budgets)})
	if err := cmdtest.Run(f, NewCmdBudgets(f, nil), "budgets --json"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"scope": "user:otto"`) || !strings.Contains(out.String(), `"left": 0.006182`) {
		t.Errorf("--json: %s", out.String())
	}
	// None at all.
	f, out, errb := cmdtest.Factory(t)
	cmdtest.API(t, f, map[string][]cmdtest.Answer{"GET /report/budgets": cmdtest.OK(api.BudgetReport{Status: "success", Month: "2026-08", Currency: "USD", Budgets: []api.Budget{}})})
	if err := cmdtest.Run(f, NewCmdBudgets(f, nil), "budgets"); err != nil {
		t.Fatal(err)
	}
	if out.String() != "" || errb.String() != "no budgets: this provisioner has none\n" {
		t.Errorf("none: %q %q", out.String(), errb.String())
	}
}
