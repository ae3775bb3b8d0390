package job

import (
	"context"

	"github.com/spf13/cobra"

	"provisioner"
	"provisioner/client"
	"provisioner/cmd/provisioner/internal/cmdutil"
	"provisioner/cmd/provisioner/internal/iostreams"
)

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
			if runF != nil {
				return runF(opts)
			}
			return logsRun(cmd.Context(), opts)
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
