// Package job holds the commands about TEST and RELEASE: test, release,
// jobs (and jobs history), logs, and plans check.
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

// StartOptions are the options of `provisioner test` and `provisioner release`.
type StartOptions struct {
	cmdutil.APIOptions
	Now func() time.Time

	Kind    provisioner.JobKind
	Cluster string
	Version string
	Wait    bool
	Timeout time.Duration
}

// NewCmdStart is `provisioner test` or `provisioner release`, after kind;
// runF nil is the real run.
func NewCmdStart(f *cmdutil.Factory, kind provisioner.JobKind, runF func(*StartOptions) error) *cobra.Command {
	opts := cmdutil.UseAPI(f, &StartOptions{Now: f.Now, Kind: kind})
	short := map[provisioner.JobKind]string{
		provisioner.JobTest:    "Run SlideRule's tests for VERSION against CLUSTER on a machine of its own (admin)",
		provisioner.JobRelease: "Build and push SlideRule's cluster images for VERSION (admin)",
	}[kind]
	cmd := &cobra.Command{
		Use:     string(kind) + " CLUSTER --version VERSION",
		Short:   short,
		Example: fmt.Sprintf("  provisioner %s my-cluster --version v4.5.1 --wait", kind),
		Args:    cmdutil.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cmdutil.ValidCluster(args[0]); err != nil {
				return err
			}
			if err := provisioner.ValidateVersion(opts.Version); err != nil {
				return cmdutil.FlagErrorWrap(err)
			}
			opts.Cluster, opts.JSON = args[0], f.JSON
			return cmdutil.Run(cmd.Context(), opts, runF, startRun)
		},
	}
	cmd.Flags().StringVar(&opts.Version, "version", "", "SlideRule version: a git tag or branch")
	_ = cmd.MarkFlagRequired("version")
	cmd.Flags().BoolVar(&opts.Wait, "wait", false, "wait for the result and exit 0 only if the job passed")
	cmd.Flags().DurationVar(&opts.Timeout, "timeout", 4*time.Hour, "with --wait, give up waiting after this long")
	return cmd
}

func startRun(ctx context.Context, opts *StartOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	j, err := c.StartJob(ctx, opts.Kind, opts.Cluster, opts.Version)
	if err != nil {
		return err
	}
	if !opts.Wait {
		return opts.Print(j, func() error {
			fmt.Fprintf(opts.IO.ErrOut, "%s job %s started; follow it with 'provisioner logs %s --follow'\n", opts.Kind, j.ID, j.ID)
			fmt.Fprintln(opts.IO.Out, j.ID)
			return nil
		})
	}
	return waitJob(ctx, opts, c, j)
}

// waitJob follows a job to its end, prints its steps, and fails unless it passed.
func waitJob(ctx context.Context, opts *StartOptions, c *client.Client, j provisioner.Job) error {
	p := cmdutil.NewProgress(opts.IO, opts.Now, fmt.Sprintf("%s %s %s", j.Kind, j.Cluster, j.Version))
	deadline := opts.Now().Add(opts.Timeout)
	for !j.State.Final() {
		if opts.Now().After(deadline) {
			p.Done()
			return provisioner.Errorf(provisioner.EUNAVAILABLE, "gave up waiting after %s; job %s goes on", opts.Timeout, j.ID)
		}
		var err error
		if j, err = c.Job(ctx, j.ID, 20*time.Second); err != nil {
			p.Done()
			return err
		}
		p.Update(string(j.State) + stepNote(j))
	}
	p.Done()
	if err := printJob(&opts.APIOptions, j); err != nil {
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

// JobsOptions are the options of `provisioner jobs`.
type JobsOptions struct {
	cmdutil.APIOptions

	ID     string // one job to show; "" lists
	Filter provisioner.JobFilter
}

// NewCmdJobs is `provisioner jobs [JOB]`; runF nil is the real run.
func NewCmdJobs(f *cmdutil.Factory, runF func(*JobsOptions) error) *cobra.Command {
	opts := cmdutil.UseAPI(f, &JobsOptions{})
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
			return cmdutil.Run(cmd.Context(), opts, runF, jobsRun)
		},
	}
	cmd.AddCommand(NewCmdHistory(f, nil))
	cmd.Flags().StringVar(&opts.Filter.Cluster, "cluster", "", "only jobs of this cluster")
	cmd.Flags().StringVar(&state, "state", "", "only jobs in this state")
	cmd.Flags().IntVar(&opts.Filter.Limit, "limit", 50, "at most this many")
	return cmd
}

func jobsRun(ctx context.Context, opts *JobsOptions) error {
	if opts.ID != "" {
		return cmdutil.Show(&opts.APIOptions, func(c *client.Client) (provisioner.Job, error) { return c.Job(ctx, opts.ID, 0) },
			func(j provisioner.Job) error { return printJob(&opts.APIOptions, j) })
	}
	return cmdutil.Show(&opts.APIOptions, func(c *client.Client) ([]provisioner.Job, error) { return c.Jobs(ctx, opts.Filter) },
		cmdutil.TableOf(opts.IO, []string{"JOB", "KIND", "CLUSTER", "VERSION", "STATE", "BY", "CREATED"}, func(j provisioner.Job) []string {
			return []string{j.ID, string(j.Kind), j.Cluster, j.Version, string(j.State), j.RequestedBy, j.CreatedAt.UTC().Format(time.RFC3339)}
		}))
}

// printJob prints a job and a table of its steps, or with --json the job.
func printJob(o *cmdutil.APIOptions, j provisioner.Job) error {
	return o.Print(j, func() error {
		fmt.Fprintf(o.IO.Out, "job %s: %s %s %s: %s\n", j.ID, j.Kind, j.Cluster, j.Version, j.State)
		if j.Reason != "" {
			fmt.Fprintf(o.IO.Out, "reason: %s\n", j.Reason)
		}
		return cmdutil.TableOf(o.IO, []string{"STEP", "RESULT", "EXIT", "TIME", "TESTS"}, func(s provisioner.StepResult) []string {
			tests := "-"
			if s.Tests > 0 || s.Failures > 0 || s.Errors > 0 {
				tests = fmt.Sprintf("%d tests, %d failed, %d errors, %d skipped", s.Tests, s.Failures, s.Errors, s.Skipped)
			}
			return []string{s.Name, s.Status, fmt.Sprint(s.ExitCode), s.Duration.Round(time.Second).String(), tests}
		})(j.Steps)
	})
}

// LogsOptions are the options of `provisioner logs`.
type LogsOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*client.Client, error)

	ID     string
	Follow bool
}

// NewCmdLogs is `provisioner logs JOB`; runF nil is the real run.
func NewCmdLogs(f *cmdutil.Factory, runF func(*LogsOptions) error) *cobra.Command {
	opts := &LogsOptions{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:   "logs JOB",
		Short: "Print a job's log; --follow keeps printing until the job ends",
		Args:  cmdutil.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			return cmdutil.Run(cmd.Context(), opts, runF, logsRun)
		},
	}
	cmd.Flags().BoolVarP(&opts.Follow, "follow", "f", false, "keep printing while the job runs")
	return cmd
}

func logsRun(ctx context.Context, opts *LogsOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	var offset int64
	for {
		var state provisioner.JobState
		if offset, state, err = c.JobLog(ctx, opts.ID, offset, opts.Follow, opts.IO.Out); err != nil {
			return err
		}
		if !opts.Follow || state.Final() {
			return nil
		}
	}
}
