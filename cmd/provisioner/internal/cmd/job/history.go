package job

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"provisioner/api"
	"provisioner/client"
	"provisioner/cmd/provisioner/internal/cmdutil"
)

// HistoryOptions are the options of `provisioner jobs history`.
type HistoryOptions struct {
	cmdutil.APIOptions

	Branch string
	Limit  int
}

// NewCmdHistory is `provisioner jobs history`; runF nil is the real run.
func NewCmdHistory(f *cmdutil.Factory, runF func(*HistoryOptions) error) *cobra.Command {
	opts := &HistoryOptions{}
	cmd := cmdutil.NoArgsCmd(f, &cobra.Command{
		Use:     "history --branch BRANCH",
		Short:   "A branch's last TEST runs as a per-step pass/fail grid, with flaky and failing tests (organization members)",
		Example: "  provisioner jobs history --branch main --limit 10",
	}, opts, runF, historyRun)
	cmd.Flags().StringVar(&opts.Branch, "branch", "main", "the branch (or version) tested")
	cmd.Flags().IntVar(&opts.Limit, "limit", 20, "at most this many runs (1 to 100)")
	return cmd
}

func historyRun(ctx context.Context, opts *HistoryOptions) error {
	return cmdutil.Show(&opts.APIOptions, func(c *client.Client) (api.TestHistory, error) { return c.TestHistory(ctx, opts.Branch, opts.Limit) },
		func(h api.TestHistory) error {
			printHistory(opts.IO.Out, h, opts.IO.IsStdoutTTY())
			return nil
		})
}

// printHistory writes a history as a grid: a row per step, a column per
// run, oldest on the left; ✓ ✗ – on a terminal, P F - otherwise. The runs
// are listed under it by column number, then the flagged tests.
func printHistory(w io.Writer, h api.TestHistory, tty bool) {
	pass, fail, none := "P", "F", "-"
	if tty {
		pass, fail, none = "✓", "✗", "–"
	}
	n := len(h.Runs)
	fmt.Fprintf(w, "TEST history of %s: %d runs, oldest first\n", h.Branch, n)
	if n == 0 {
		return
	}
	// Steps in the order of the newest run, then any others as met.
	var steps []string
	seen := map[string]bool{}
	for _, r := range h.Runs {
		for _, s := range r.Steps {
			if !seen[s.Name] {
				seen[s.Name] = true
				steps = append(steps, s.Name)
			}
		}
	}
	width := len("step")
	for _, s := range steps {
		width = max(width, len(s))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-*s", width, "step")
	for i := range n {
		fmt.Fprintf(&b, " %3d", i+1)
	}
	fmt.Fprintln(w, b.String())
	for _, name := range steps {
		b.Reset()
		fmt.Fprintf(&b, "%-*s", width, name)
		for i := n - 1; i >= 0; i-- {
			cell := none
			for _, s := range h.Runs[i].Steps {
				if s.Name != name {
					continue
				}
				switch s.Status {
				case "passed":
					cell = pass
				case "failed", "timed_out":
					cell = fail
				}
			}
			fmt.Fprintf(&b, " %3s", cell)
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
	fmt.Fprintln(w)
	for i := n - 1; i >= 0; i-- {
		r := h.Runs[i]
		commit := r.Commit
		if len(commit) > 12 {
			commit = commit[:12]
		}
		if commit == "" {
			commit = "-"
		}
		fmt.Fprintf(w, "%3d  %s  %s  %-12s  %s\n", n-i, r.Date.UTC().Format("2006-01-02T15:04:05Z"), r.Job, commit, r.Result)
	}
	printFlags(w, "flaky tests", h.Flaky)
	printFlags(w, "failing", h.Failing)
}

func printFlags(w io.Writer, title string, fs []api.TestFlag) {
	fmt.Fprintf(w, "\n%s: %d\n", title, len(fs))
	for _, f := range fs {
		what := f.Step + " " + f.Test
		if f.Test == "" {
			what = f.Step + " (the step)"
		}
		fmt.Fprintf(w, "  %s: %s\n", what, f.Evidence)
	}
}
