package cost

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"provisioner/api"
	"provisioner/client"
	"provisioner/cmd/provisioner/internal/cmdutil"
)

// BudgetsOptions are the options of `provisioner budgets`.
type BudgetsOptions struct {
	cmdutil.APIOptions
}

// NewCmdBudgets is `provisioner budgets`; runF nil is the real run.
func NewCmdBudgets(f *cmdutil.Factory, runF func(*BudgetsOptions) error) *cobra.Command {
	opts := &BudgetsOptions{}
	return cmdutil.NoArgsCmd(f, &cobra.Command{
		Use:   "budgets",
		Short: "Show the budgets this month: what each has, spent, reserved and has left",
		Long: `Show the operator's monthly budgets that cover you (your own, your teams',
the organization's; administrators see all) and where each stands this month:
what it has (the allowance and what it carried over), what was spent (the
bill on AWS, the meter on the embedded service), what the live clusters and
node groups it covers are estimated to cost until their destroy times
(reserved), and what is left.

A DEPLOY or EXTEND must fit every budget that covers it: a budget with the
refuse policy refuses one that does not, one with the shrink policy cuts its
TTL to what is left. When a budget runs out, its live clusters get notice and
are destroyed after its grace period.`,
		Example: "  provisioner budgets\n  provisioner budgets --json",
	}, opts, runF, budgetsRun)
}

func budgetsRun(ctx context.Context, opts *BudgetsOptions) error {
	return cmdutil.Show(&opts.APIOptions, func(c *client.Client) (api.BudgetReport, error) { return c.Budgets(ctx) },
		func(r api.BudgetReport) error {
			tty := opts.IO.IsStdoutTTY()
			amount := func(v float64) string {
				if tty {
					return strings.TrimPrefix(Dollars(v), "$")
				}
				return num(v)
			}
			if len(r.Budgets) == 0 {
				fmt.Fprintln(opts.IO.ErrOut, "no budgets: this provisioner has none")
				return nil
			}
			rows := make([][]string, 0, len(r.Budgets))
			for _, b := range r.Budgets {
				rows = append(rows, []string{b.Scope, b.Policy, amount(b.Available), amount(b.Spent), amount(b.Reserved),
					amount(b.Left), num(b.UsedPercent) + "%", b.State})
			}
			cmdutil.Table(opts.IO, []string{"SCOPE", "POLICY", "AVAILABLE (" + r.Currency + ")", "SPENT", "RESERVED", "LEFT", "USED", "STATE"}, rows)
			source := "spend from the bill (Cost Explorer)"
			if r.Source == "metered" {
				source = "spend metered: runtime × estimated price"
			}
			fmt.Fprintf(opts.IO.ErrOut, "budgets of %s, %s; reserved: live clusters until their destroy times\n", r.Month, source)
			return nil
		})
}
