package cluster

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"provisioner/client"
	"provisioner/cmd/provisioner/internal/cmdutil"
	"provisioner/cmd/provisioner/internal/iostreams"
)

// ExtendOptions are the options of `provisioner extend`.
type ExtendOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*client.Client, error)
	JSON   bool

	Cluster    string
	TTLMinutes int
}

// NewCmdExtend is `provisioner extend CLUSTER --ttl DURATION`; runF nil is the real run.
func NewCmdExtend(f *cmdutil.Factory, runF func(*ExtendOptions) error) *cobra.Command {
	opts := &ExtendOptions{IO: f.IOStreams, Client: f.Client}
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "extend CLUSTER --ttl DURATION",
		Short: "Keep a cluster for DURATION from now, replacing its destroy schedule",
		Args:  cmdutil.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := ttlMinutes(ttl)
			if err != nil {
				return err
			}
			if err := cmdutil.ValidCluster(args[0]); err != nil {
				return err
			}
			opts.Cluster, opts.TTLMinutes, opts.JSON = args[0], m, f.JSON
			if runF != nil {
				return runF(opts)
			}
			return extendRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().DurationVar(&ttl, "ttl", 0, "time to keep the cluster from now, e.g. 2h")
	_ = cmd.MarkFlagRequired("ttl")
	return cmd
}

func extendRun(ctx context.Context, opts *ExtendOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	st, err := c.Extend(ctx, opts.Cluster, opts.TTLMinutes)
	if err != nil {
		return err
	}
	return printStatus(opts.IO, opts.JSON, st)
}
