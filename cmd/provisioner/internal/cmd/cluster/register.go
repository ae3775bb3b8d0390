package cluster

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"provisioner/api"
	"provisioner/client"
	"provisioner/cmd/provisioner/internal/cmdutil"
)

// NewCmdCluster is `provisioner cluster`, the admin's commands on known clusters.
func NewCmdCluster(f *cmdutil.Factory) *cobra.Command {
	return cmdutil.Group(&cobra.Command{Use: "cluster", Short: "Manage the clusters the provisioner knows (admin)"},
		NewCmdRegister(f, nil), NewCmdUnregister(f, nil))
}

// RegisterOptions are the options of `provisioner cluster register`.
type RegisterOptions struct {
	cmdutil.ClusterOptions

	Public bool
}

// NewCmdRegister is `provisioner cluster register`; runF nil is the real run.
func NewCmdRegister(f *cmdutil.Factory, runF func(*RegisterOptions) error) *cobra.Command {
	opts := &RegisterOptions{}
	var private bool
	cmd := cmdutil.ClusterCmd(f, &cobra.Command{
		Use:   "register NAME (--public | --private)",
		Short: "Register an existing cluster so ACCESS can issue tokens for it",
	}, opts, runF, registerRun)
	cmd.Flags().BoolVar(&opts.Public, "public", false, "anyone logged in may get a token")
	cmd.Flags().BoolVar(&private, "private", false, "only organization members may get a token")
	cmd.MarkFlagsMutuallyExclusive("public", "private")
	cmd.MarkFlagsOneRequired("public", "private")
	return cmd
}

func registerRun(ctx context.Context, opts *RegisterOptions) error {
	return cmdutil.Show(&opts.APIOptions, func(c *client.Client) (api.Status, error) { return c.RegisterCluster(ctx, opts.Cluster, opts.Public) },
		func(cl api.Status) error {
			fmt.Fprintf(opts.IO.ErrOut, "Registered %s cluster %s\n", visibility(bool(cl.IsPublic)), cl.Cluster)
			return nil
		})
}

// UnregisterOptions are the options of `provisioner cluster unregister`.
type UnregisterOptions struct {
	cmdutil.ClusterOptions
}

// NewCmdUnregister is `provisioner cluster unregister`; runF nil is the real run.
func NewCmdUnregister(f *cmdutil.Factory, runF func(*UnregisterOptions) error) *cobra.Command {
	return cmdutil.ClusterCmd(f, &cobra.Command{
		Use:   "unregister NAME",
		Short: "Forget a registered cluster",
	}, &UnregisterOptions{}, runF, unregisterRun)
}

func unregisterRun(ctx context.Context, opts *UnregisterOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	return c.UnregisterCluster(ctx, opts.Cluster)
}
