package cluster

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"provisioner/client"
	"provisioner/cmd/provisioner/internal/cmdutil"
	"provisioner/cmd/provisioner/internal/iostreams"
)

// ScheduleDestroyOptions are the options of `provisioner schedule-destroy`.
type ScheduleDestroyOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*client.Client, error)
	JSON   bool

	Cluster string
	At      time.Time // --at, or now plus --in
}

// NewCmdScheduleDestroy is `provisioner schedule-destroy CLUSTER`; runF nil is the real run.
func NewCmdScheduleDestroy(f *cmdutil.Factory, runF func(*ScheduleDestroyOptions) error) *cobra.Command {
	opts := &ScheduleDestroyOptions{IO: f.IOStreams, Client: f.Client}
	var at string
	var in time.Duration
	cmd := &cobra.Command{
		Use:     "schedule-destroy CLUSTER (--at RFC3339 | --in DURATION)",
		Short:   "Replace a cluster's destroy schedule (SCHEDULE_DESTROY)",
		Example: "  provisioner schedule-destroy my-cluster --in 30m\n  provisioner schedule-destroy my-cluster --at 2026-12-01T18:00:00Z",
		Args:    cmdutil.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if at != "" {
				t, err := time.Parse(time.RFC3339, at)
				if err != nil {
					return cmdutil.FlagErrorf("--at must be an RFC 3339 time such as 2026-12-01T18:00:00Z")
				}
				opts.At = t
			} else {
				if in <= 0 {
					return cmdutil.FlagErrorf("--in must be positive, e.g. 30m")
				}
				opts.At = f.Now().Add(in)
			}
			if err := cmdutil.ValidCluster(args[0]); err != nil {
				return err
			}
			opts.Cluster, opts.JSON = args[0], f.JSON
			if runF != nil {
				return runF(opts)
			}
			return scheduleDestroyRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&at, "at", "", "destroy at this time (RFC 3339)")
	cmd.Flags().DurationVar(&in, "in", 0, "destroy this long from now")
	cmd.MarkFlagsMutuallyExclusive("at", "in")
	cmd.MarkFlagsOneRequired("at", "in")
	return cmd
}

func scheduleDestroyRun(ctx context.Context, opts *ScheduleDestroyOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	st, err := c.ScheduleDestroy(ctx, opts.Cluster, opts.At)
	if err != nil {
		return err
	}
	return printStatus(opts.IO, opts.JSON, st)
}
