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
	IO     *iostreams.IOStreams
	Client func() (*client.Client, error)
	Now    func() time.Time
	JSON   bool

	Kind    provisioner.JobKind
	Cluster string
	Version string
	Wait    bool
	Timeout time.Duration
}

// NewCmdStart is `provisioner test` or `provisioner release`, after kind;
// runF nil is the real run.
func NewCmdStart(f *cmdutil.Factory, kind provisioner.JobKind, runF func(*StartOptions) error) *cobra.Command {
	opts := &StartOptions{IO: f.IOStreams, Client: f.Client, Now: f.Now, Kind: kind}
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
			if runF != nil {
				return runF(opts)
			}
			return startRun(cmd.Context(), opts)
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
		if opts.JSON {
			return cmdutil.PrintJSON(opts.IO.Out, j)
		}
		fmt.Fprintf(opts.IO.ErrOut, "%s job %s started; follow it with 'provisioner logs %s --follow'\n", opts.Kind, j.ID, j.ID)
		fmt.Fprintln(opts.IO.Out, j.ID)
		return nil
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
	if err := printJob(opts.IO, opts.JSON, j); err != nil {
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
