// Package cluster holds the commands about clusters: deploy, destroy,
// extend, schedule-destroy, status, events, access, list and cluster
// register/unregister.
package cluster

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"provisioner/client"
	"provisioner/cmd/provisioner/internal/cmdutil"
	"provisioner/cmd/provisioner/internal/iostreams"
)

// AccessOptions are the options of `provisioner access`.
type AccessOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*client.Client, error)
	JSON   bool

	Cluster string
}

// NewCmdAccess is `provisioner access CLUSTER`; runF nil is the real run.
func NewCmdAccess(f *cmdutil.Factory, runF func(*AccessOptions) error) *cobra.Command {
	opts := &AccessOptions{IO: f.IOStreams, Client: f.Client}
	return &cobra.Command{
		Use:   "access CLUSTER",
		Short: "Get a cluster token (jwt_cluster) and print it",
		Long: `Print a token for one cluster, bare, so it can be used directly:

  curl -H "Authorization: Bearer $(provisioner access my-cluster)" https://my-cluster.example/source/version`,
		Args: cmdutil.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cmdutil.ValidCluster(args[0]); err != nil {
				return err
			}
			opts.Cluster, opts.JSON = args[0], f.JSON
			if runF != nil {
				return runF(opts)
			}
			return accessRun(cmd.Context(), opts)
		},
	}
}

func accessRun(ctx context.Context, opts *AccessOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	a, err := c.Access(ctx, opts.Cluster)
	if err != nil {
		return err
	}
	if opts.JSON {
		return cmdutil.PrintJSON(opts.IO.Out, a)
	}
	fmt.Fprintln(opts.IO.Out, a.Token)
	return nil
}
