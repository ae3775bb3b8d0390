package cluster

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"provisioner/client"
	"provisioner/cmd/provisioner/internal/cmdutil"
	"provisioner/cmd/provisioner/internal/iostreams"
)

// DestroyOptions are the options of `provisioner destroy`.
type DestroyOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*client.Client, error)
	Now    func() time.Time
	JSON   bool

	Cluster string
	Wait    bool
	Timeout time.Duration
}

// NewCmdDestroy is `provisioner destroy CLUSTER`; runF nil is the real run.
func NewCmdDestroy(f *cmdutil.Factory, runF func(*DestroyOptions) error) *cobra.Command {
	opts := &DestroyOptions{IO: f.IOStreams, Client: f.Client, Now: f.Now}
	cmd := &cobra.Command{
		Use:   "destroy CLUSTER",
		Short: "Destroy a cluster (DESTROY) and remove its schedules; with --wait, until it is gone",
		Args:  cmdutil.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cmdutil.ValidCluster(args[0]); err != nil {
				return err
			}
			opts.Cluster, opts.JSON = args[0], f.JSON
			if runF != nil {
				return runF(opts)
			}
			return destroyRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Wait, "wait", false, "wait until the cluster is gone (exit 0 only then)")
	cmd.Flags().DurationVar(&opts.Timeout, "timeout", 15*time.Minute, "with --wait, give up waiting after this long")
	return cmd
}

func destroyRun(ctx context.Context, opts *DestroyOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	res, err := c.Destroy(ctx, opts.Cluster)
	return follower{opts.IO, opts.Now, opts.JSON, c}.finish(ctx, "destroy", opts.Cluster, res, err, opts.Wait, opts.Timeout)
}
