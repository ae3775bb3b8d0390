package job

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"provisioner"
	"provisioner/client"
	"provisioner/cmd/provisioner/internal/cmdutil"
	"provisioner/cmd/provisioner/internal/iostreams"
)

// JobsOptions are the options of `provisioner jobs`.
type JobsOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*client.Client, error)
	JSON   bool

	ID     string // one job to show; "" lists
	Filter provisioner.JobFilter
}

// NewCmdJobs is `provisioner jobs [JOB]`; runF nil is the real run.
func NewCmdJobs(f *cmdutil.Factory, runF func(*JobsOptions) error) *cobra.Command {
	opts := &JobsOptions{IO: f.IOStreams, Client: f.Client}
	var state string
	cmd := &cobra.Command{
		Use:   "jobs [JOB]",
		Short: "List TEST and RELEASE jobs, or show one with its steps (admin)",
		Args:  cmdutil.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.ID = args[0]
			}
			opts.Filter.State, opts.JSON = provisioner.JobState(state), f.JSON
			if runF != nil {
				return runF(opts)
			}
			return jobsRun(cmd.Context(), opts)
		},
	}
	cmd.AddCommand(NewCmdHistory(f, nil))
	cmd.Flags().StringVar(&opts.Filter.Cluster, "cluster", "", "only jobs of this cluster")
	cmd.Flags().StringVar(&state, "state", "", "only jobs in this state")
	cmd.Flags().IntVar(&opts.Filter.Limit, "limit", 50, "at most this many")
	return cmd
}

func jobsRun(ctx context.Context, opts *JobsOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	if opts.ID != "" {
		j, err := c.Job(ctx, opts.ID, 0)
		if err != nil {
			return err
		}
		return printJob(opts.IO, opts.JSON, j)
	}
	js, err := c.Jobs(ctx, opts.Filter)
	if err != nil {
		return err
	}
	if opts.JSON {
		return cmdutil.PrintJSON(opts.IO.Out, js)
	}
	rows := make([][]string, 0, len(js))
	for _, j := range js {
		rows = append(rows, []string{j.ID, string(j.Kind), j.Cluster, j.Version, string(j.State), j.RequestedBy, j.CreatedAt.UTC().Format(time.RFC3339)})
	}
	cmdutil.Table(opts.IO, []string{"JOB", "KIND", "CLUSTER", "VERSION", "STATE", "BY", "CREATED"}, rows)
	return nil
}

// printJob prints a job and a table of its steps.
func printJob(io *iostreams.IOStreams, asJSON bool, j provisioner.Job) error {
	if asJSON {
		return cmdutil.PrintJSON(io.Out, j)
	}
	fmt.Fprintf(io.Out, "job %s: %s %s %s: %s\n", j.ID, j.Kind, j.Cluster, j.Version, j.State)
	if j.Reason != "" {
		fmt.Fprintf(io.Out, "reason: %s\n", j.Reason)
	}
	rows := make([][]string, 0, len(j.Steps))
	for _, s := range j.Steps {
		tests := "-"
		if s.Tests > 0 || s.Failures > 0 || s.Errors > 0 {
			tests = fmt.Sprintf("%d tests, %d failed, %d errors, %d skipped", s.Tests, s.Failures, s.Errors, s.Skipped)
		}
		rows = append(rows, []string{s.Name, s.Status, fmt.Sprint(s.ExitCode), s.Duration.Round(time.Second).String(), tests})
	}
	cmdutil.Table(io, []string{"STEP", "RESULT", "EXIT", "TIME", "TESTS"}, rows)
	return nil
}
