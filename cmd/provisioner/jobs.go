package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"provisioner"
	"provisioner/client"
)

func newJobCmd(g *globals, kind provisioner.JobKind) *cobra.Command {
	var version string
	var wait bool
	var timeout time.Duration
	short := map[provisioner.JobKind]string{
		provisioner.JobTest:    "Run SlideRule's tests for VERSION against CLUSTER on a machine of its own (admin)",
		provisioner.JobRelease: "Build and push SlideRule's cluster images for VERSION (admin)",
	}[kind]
	cmd := &cobra.Command{
		Use:     string(kind) + " CLUSTER --version VERSION",
		Short:   short,
		Example: fmt.Sprintf("  provisioner %s my-cluster --version v4.5.1 --wait", kind),
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := validCluster(args[0]); err != nil {
				return err
			}
			if err := provisioner.ValidateVersion(version); err != nil {
				return usageError{err}
			}
			c, err := g.authedClient()
			if err != nil {
				return err
			}
			j, err := c.StartJob(cmd.Context(), kind, args[0], version)
			if err != nil {
				return err
			}
			if !wait {
				if g.JSON {
					return printJSON(g.io.Out, j)
				}
				fmt.Fprintf(g.io.Err, "%s job %s started; follow it with 'provisioner logs %s --follow'\n", kind, j.ID, j.ID)
				fmt.Fprintln(g.io.Out, j.ID)
				return nil
			}
			return g.waitJob(cmd.Context(), c, j, timeout)
		},
	}
	cmd.Flags().StringVar(&version, "version", "", "SlideRule version: a git tag or branch")
	_ = cmd.MarkFlagRequired("version")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait for the result and exit 0 only if the job passed")
	cmd.Flags().DurationVar(&timeout, "timeout", 4*time.Hour, "with --wait, give up waiting after this long")
	return cmd
}

// waitJob follows a job to its end, prints its steps, and fails unless it passed.
func (g *globals) waitJob(ctx context.Context, c *client.Client, j provisioner.Job, timeout time.Duration) error {
	p := newProgress(g.io.Err, fmt.Sprintf("%s %s %s", j.Kind, j.Cluster, j.Version))
	deadline := time.Now().Add(timeout)
	for !j.State.Final() {
		if time.Now().After(deadline) {
			p.done()
			return provisioner.Errorf(provisioner.EUNAVAILABLE, "gave up waiting after %s; job %s goes on", timeout, j.ID)
		}
		var err error
		if j, err = c.Job(ctx, j.ID, 20*time.Second); err != nil {
			p.done()
			return err
		}
		p.update(string(j.State) + stepNote(j))
	}
	p.done()
	if err := g.printJob(j); err != nil {
		return err
	}
	if j.State != provisioner.JobPassed {
		msg := fmt.Sprintf("%s job %s %s", j.Kind, j.ID, j.State)
		if j.Reason != "" {
			msg += ": " + j.Reason
		}
		return provisioner.Errorf(provisioner.EFAILED, "%s (log: provisioner logs %s)", msg, j.ID)
	}
	return nil
}

func stepNote(j provisioner.Job) string {
	if n := len(j.Steps); n > 0 {
		return ", step " + j.Steps[n-1].Name
	}
	return ""
}

func (g *globals) printJob(j provisioner.Job) error {
	if g.JSON {
		return printJSON(g.io.Out, j)
	}
	fmt.Fprintf(g.io.Out, "job %s: %s %s %s: %s\n", j.ID, j.Kind, j.Cluster, j.Version, j.State)
	if j.Reason != "" {
		fmt.Fprintf(g.io.Out, "reason: %s\n", j.Reason)
	}
	rows := make([][]string, 0, len(j.Steps))
	for _, s := range j.Steps {
		tests := "-"
		if s.Tests > 0 || s.Failures > 0 || s.Errors > 0 {
			tests = fmt.Sprintf("%d tests, %d failed, %d errors, %d skipped", s.Tests, s.Failures, s.Errors, s.Skipped)
		}
		rows = append(rows, []string{s.Name, s.Status, fmt.Sprint(s.ExitCode), s.Duration.Round(time.Second).String(), tests})
	}
	table(g.io.Out, []string{"STEP", "RESULT", "EXIT", "TIME", "TESTS"}, rows)
	return nil
}

func newJobsCmd(g *globals) *cobra.Command {
	var f provisioner.JobFilter
	var state string
	cmd := &cobra.Command{
		Use:   "jobs [JOB]",
		Short: "List TEST and RELEASE jobs, or show one with its steps (admin)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.authedClient()
			if err != nil {
				return err
			}
			if len(args) == 1 {
				j, err := c.Job(cmd.Context(), args[0], 0)
				if err != nil {
					return err
				}
				return g.printJob(j)
			}
			f.State = provisioner.JobState(state)
			js, err := c.Jobs(cmd.Context(), f)
			if err != nil {
				return err
			}
			if g.JSON {
				return printJSON(g.io.Out, js)
			}
			rows := make([][]string, 0, len(js))
			for _, j := range js {
				rows = append(rows, []string{j.ID, string(j.Kind), j.Cluster, j.Version, string(j.State), j.RequestedBy, j.CreatedAt.UTC().Format(time.RFC3339)})
			}
			table(g.io.Out, []string{"JOB", "KIND", "CLUSTER", "VERSION", "STATE", "BY", "CREATED"}, rows)
			return nil
		},
	}
	cmd.AddCommand(newHistoryCmd(g))
	cmd.Flags().StringVar(&f.Cluster, "cluster", "", "only jobs of this cluster")
	cmd.Flags().StringVar(&state, "state", "", "only jobs in this state")
	cmd.Flags().IntVar(&f.Limit, "limit", 50, "at most this many")
	return cmd
}

func newLogsCmd(g *globals) *cobra.Command {
	var follow bool
	cmd := &cobra.Command{
		Use:   "logs JOB",
		Short: "Print a job's log; --follow keeps printing until the job ends",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.authedClient()
			if err != nil {
				return err
			}
			var offset int64
			for {
				var state provisioner.JobState
				if offset, state, err = c.JobLog(cmd.Context(), args[0], offset, follow, g.io.Out); err != nil {
					return err
				}
				if !follow || state.Final() {
					return nil
				}
			}
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing while the job runs")
	return cmd
}
