package cluster

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"provisioner/client"
	"provisioner/cmd/provisioner/internal/cmdutil"
	"provisioner/cmd/provisioner/internal/iostreams"
)

// NewCmdCluster is `provisioner cluster`, the admin's commands on known clusters.
func NewCmdCluster(f *cmdutil.Factory) *cobra.Command {
	cmd := cmdutil.Group(&cobra.Command{Use: "cluster", Short: "Manage the clusters the provisioner knows (admin)"})
	cmd.AddCommand(NewCmdRegister(f, nil), NewCmdUnregister(f, nil))
	return cmd
}

// RegisterOptions are the options of `provisioner cluster register`.
type RegisterOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*client.Client, error)
	JSON   bool

	Cluster string
	Public  bool
}

// NewCmdRegister is `provisioner cluster register`; runF nil is the real run.
func NewCmdRegister(f *cmdutil.Factory, runF func(*RegisterOptions) error) *cobra.Command {
	opts := &RegisterOptions{IO: f.IOStreams, Client: f.Client}
	var private bool
	cmd := &cobra.Command{
		Use:   "register NAME (--public | --private)",
		Short: "Register an existing cluster so ACCESS can issue tokens for it",
		Args:  cmdutil.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cmdutil.ValidCluster(args[0]); err != nil {
				return err
			}
			opts.Cluster, opts.JSON = args[0], f.JSON
			if runF != nil {
				return runF(opts)
			}
			return registerRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Public, "public", false, "anyone logged in may get a token")
	cmd.Flags().BoolVar(&private, "private", false, "only organization members may get a token")
	cmd.MarkFlagsMutuallyExclusive("public", "private")
	cmd.MarkFlagsOneRequired("public", "private")
	return cmd
}

func registerRun(ctx context.Context, opts *RegisterOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	cl, err := c.RegisterCluster(ctx, opts.Cluster, opts.Public)
	if err != nil {
		return err
	}
	if opts.JSON {
		return cmdutil.PrintJSON(opts.IO.Out, cl)
	}
	fmt.Fprintf(opts.IO.ErrOut, "Registered %s cluster %s\n", visibility(bool(cl.IsPublic)), cl.Cluster)
	return nil
}

// UnregisterOptions are the options of `provisioner cluster unregister`.
type UnregisterOptions struct {
	Client func() (*client.Client, error)

	Cluster string
}

// NewCmdUnregister is `provisioner cluster unregister`; runF nil is the real run.
func NewCmdUnregister(f *cmdutil.Factory, runF func(*UnregisterOptions) error) *cobra.Command {
	opts := &UnregisterOptions{Client: f.Client}
	return &cobra.Command{
		Use:   "unregister NAME",
		Short: "Forget a registered cluster",
		Args:  cmdutil.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cmdutil.ValidCluster(args[0]); err != nil {
				return err
			}
			opts.Cluster = args[0]
			if runF != nil {
				return runF(opts)
			}
			c, err := opts.Client()
			if err != nil {
				return err
			}
			return c.UnregisterCluster(cmd.Context(), opts.Cluster)
		},
	}
}
