// Package cost holds the commands about money: `provisioner costs` (the
// spend report), and the printing of estimates that DEPLOY and its dry
// run share.
package cost

import (
	"context"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"provisioner"
	"provisioner/api"
	"provisioner/client"
	"provisioner/cmd/provisioner/internal/cmdutil"
	"provisioner/cmd/provisioner/internal/iostreams"
)

// Dollars formats an amount for people: cents, or four decimals under a
// dollar, where an hour of a small part would read $0.00.
func Dollars(v float64) string {
	if v != 0 && math.Abs(v) < 1 {
		return fmt.Sprintf("$%.4f", v)
	}
	return fmt.Sprintf("$%.2f", v)
}

// Hours formats a number of hours as 2h, 1h30m or 45m.
func Hours(h float64) string {
	d := time.Duration(math.Round(h*60)) * time.Minute
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d >= time.Hour:
		return fmt.Sprintf("%dh%dm", d/time.Hour, (d%time.Hour)/time.Minute)
	}
	return fmt.Sprintf("%dm", d/time.Minute)
}

// Summary is an estimate in one line: per hour, for its hours, and what
// it rests on.
func Summary(e provisioner.Estimate) string {
	asOf := ""
	if e.PricesAsOf != "" {
		asOf = ", prices of " + e.PricesAsOf
	}
	nodes := fmt.Sprintf("%d nodes", e.Nodes)
	if e.Nodes == 1 {
		nodes = "1 node"
	}
	return fmt.Sprintf("%s an hour, %s for %s (%s, %s%s)", Dollars(e.Hourly), Dollars(e.Total), Hours(e.Hours), nodes, e.Region, asOf)
}

// PrintEstimate says what a deployment is estimated to cost, on w (the
// standard error while a DEPLOY is followed, so the standard output keeps
// the status).
func PrintEstimate(w io.Writer, what string, e *provisioner.Estimate) {
	if e == nil {
		return
	}
	fmt.Fprintf(w, "estimated cost of %s: %s until its destroy time; not included: %s\n", what, Summary(*e), e.Excludes)
}

// PrintPlan prints a dry run: a summary line, the estimate's lines as a
// table (aligned under a header on a terminal, tab-separated otherwise),
// and on the standard error what is left out and that nothing was done.
func PrintPlan(ios *iostreams.IOStreams, p api.DeployPlan) {
	what := p.Cluster
	if p.User != "" {
		what = "the node group of " + p.User + " on " + p.Cluster
	}
	fmt.Fprintf(ios.Out, "%s (%s now): %s\n", what, p.State, Summary(p.EstimatedCost))
	rows := make([][]string, 0, len(p.EstimatedCost.Lines))
	for _, l := range p.EstimatedCost.Lines {
		fixed := "per node"
		if l.Fixed {
			fixed = "fixed"
		}
		rows = append(rows, []string{l.Part, l.Item, cmdutil.Dash(string(l.Market)), num(l.Quantity), l.Unit, num(l.UnitPrice), num(l.Hourly), fixed})
	}
	cmdutil.Table(ios, []string{"PART", "ITEM", "MARKET", "QUANTITY", "UNIT", "UNIT PRICE", "PER HOUR", "SCALES"}, rows)
	fmt.Fprintf(ios.ErrOut, "not included: %s\n", p.EstimatedCost.Excludes)
	PrintBudgetNote(ios.ErrOut, p.Budget)
	fmt.Fprintf(ios.ErrOut, "dry run: nothing was deployed\n")
}

// PrintBudgetNote says, on w, that a budget cut the TTL asked, and why;
// nothing when none did.
func PrintBudgetNote(w io.Writer, n *api.BudgetNote) {
	if n == nil {
		return
	}
	fmt.Fprintf(w, "budget: %s\n", n.Message)
}

func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// CostsOptions are the options of `provisioner costs`.
type CostsOptions struct {
	cmdutil.APIOptions

	By    string // cluster, user or team
	Since string // YYYY-MM-DD, or "" for the server's default
	Daily bool
}

var daysRE = regexp.MustCompile(`^([0-9]{1,3})d$`)

// NewCmdCosts is `provisioner costs`; runF nil is the real run.
func NewCmdCosts(f *cmdutil.Factory, runF func(*CostsOptions) error) *cobra.Command {
	opts := &CostsOptions{}
	var since string
	cmd := cmdutil.NoArgsCmd(f, &cobra.Command{
		Use:   "costs [--by cluster|user|team] [--since DAY]",
		Short: "Show what was spent, by cluster, user or team",
		Long: `Show what was spent since a day, by cluster, user or team: on AWS from the
bill (Cost Explorer, by the resources' cost allocation tags; a day or so
behind), on the embedded service metered from each cluster's runtime at its
estimated price. You see what you own (your clusters, node groups and jobs),
what was spent on clusters shared with your teams, and administrators all.`,
		Example: "  provisioner costs\n  provisioner costs --by user --since 2026-03-01\n  provisioner costs --by team --since 30d --daily",
		PreRunE: func(*cobra.Command, []string) error {
			switch opts.By {
			case "cluster", "user", "team":
			default:
				return cmdutil.FlagErrorf("--by must be cluster, user or team, not %q", opts.By)
			}
			s, err := sinceFlag(since, f.Now())
			opts.Since = s
			return err
		},
	}, opts, runF, costsRun)
	cmd.Flags().StringVar(&opts.By, "by", "cluster", "group by cluster, user or team")
	cmd.Flags().StringVar(&since, "since", "", "from this day: YYYY-MM-DD, an RFC 3339 time, or a number of days back (30d); default the first of this month")
	cmd.Flags().BoolVar(&opts.Daily, "daily", false, "a row per day")
	return cmd
}

// sinceFlag turns --since into the API's since: a day, a time, or Nd.
func sinceFlag(v string, now time.Time) (string, error) {
	switch {
	case v == "":
		return "", nil
	case daysRE.MatchString(v):
		n, _ := strconv.Atoi(daysRE.FindStringSubmatch(v)[1])
		return now.UTC().AddDate(0, 0, -n).Format(time.DateOnly), nil
	}
	if _, err := time.Parse(time.DateOnly, v); err == nil {
		return v, nil
	}
	if _, err := time.Parse(time.RFC3339, v); err == nil {
		return v, nil
	}
	return "", cmdutil.FlagErrorf("--since must be a day (2026-03-01), an RFC 3339 time or a number of days (30d), not %q", v)
}

func costsRun(ctx context.Context, opts *CostsOptions) error {
	return cmdutil.Show(&opts.APIOptions, func(c *client.Client) (api.CostReport, error) { return c.Costs(ctx, opts.By, opts.Since) },
		func(r api.CostReport) error {
			tty := opts.IO.IsStdoutTTY()
			amount := func(v float64) string {
				if tty {
					return strings.TrimPrefix(Dollars(v), "$")
				}
				return num(v)
			}
			head := strings.ToUpper(r.By)
			var rows [][]string
			header := []string{head, "TOTAL (" + r.Currency + ")"}
			if opts.Daily {
				header = []string{head, "DAY", "AMOUNT (" + r.Currency + ")"}
			}
			for _, g := range r.Groups {
				if !opts.Daily {
					rows = append(rows, []string{cmdutil.Dash(g.Key), amount(g.Total)})
					continue
				}
				for _, d := range g.Days {
					rows = append(rows, []string{cmdutil.Dash(g.Key), d.Date, amount(d.Amount)})
				}
			}
			cmdutil.Table(opts.IO, header, rows)
			source := "the bill (Cost Explorer)"
			if r.Source == "metered" {
				source = "metered: runtime × estimated price"
			}
			fmt.Fprintf(opts.IO.ErrOut, "total %s since %s, %s\n", Dollars(r.Total), r.Since, source)
			return nil
		})
}
