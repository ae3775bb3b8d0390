package cluster

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"provisioner"
	"provisioner/api"
	"provisioner/client"
	"provisioner/cmd/provisioner/internal/cmdutil"
	"provisioner/cmd/provisioner/internal/iostreams"
)

// DeployOptions are the options of `provisioner deploy`.
type DeployOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*client.Client, error)
	Now    func() time.Time
	JSON   bool

	Request api.DeployRequest // TTL in whole minutes
	Wait    bool
	Timeout time.Duration
}

// NewCmdDeploy is `provisioner deploy CLUSTER`; runF nil is the real run.
func NewCmdDeploy(f *cmdutil.Factory, runF func(*DeployOptions) error) *cobra.Command {
	opts := &DeployOptions{IO: f.IOStreams, Client: f.Client, Now: f.Now}
	var private bool
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "deploy CLUSTER",
		Short: "Deploy a cluster (DEPLOY); with --wait, until it runs",
		Long: `Deploy a cluster, or succeed at once if it already runs. Every cluster gets a
destroy schedule from its TTL, so it goes away even if nobody destroys it.

Private clusters need an org member, public ones an admin.`,
		Example: `  provisioner deploy my-cluster --nodes 4 --ttl 2h --version v4.5.1 --wait`,
		Args:    cmdutil.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cmdutil.ValidCluster(args[0]); err != nil {
				return err
			}
			if err := provisioner.ValidateClusterVersion(opts.Request.Version); err != nil {
				return cmdutil.FlagErrorWrap(err)
			}
			if opts.Request.NodeCapacity < 1 {
				return cmdutil.FlagErrorf("--nodes must be at least 1")
			}
			m, err := ttlMinutes(ttl)
			if err != nil {
				return err
			}
			opts.Request.Cluster, opts.Request.TTL, opts.JSON = args[0], m, f.JSON
			if runF != nil {
				return runF(opts)
			}
			return deployRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&opts.Request.IsPublic, "public", false, "a public cluster (admins only)")
	fl.BoolVar(&private, "private", false, "a private cluster (the default)")
	cmd.MarkFlagsMutuallyExclusive("public", "private")
	fl.IntVar(&opts.Request.NodeCapacity, "nodes", 1, "number of nodes")
	fl.DurationVar(&ttl, "ttl", time.Hour, "time to live; the cluster is destroyed after it")
	fl.StringVar(&opts.Request.Version, "version", "latest", "SlideRule version: a git tag or branch, or latest")
	fl.BoolVar(&opts.Wait, "wait", false, "wait until the cluster runs (exit 0 only then)")
	fl.DurationVar(&opts.Timeout, "timeout", 15*time.Minute, "with --wait, give up waiting after this long")
	return cmd
}

// ttlMinutes turns a --ttl duration into the API's whole minutes, rounding up.
func ttlMinutes(d time.Duration) (int, error) {
	if d < time.Minute {
		return 0, cmdutil.FlagErrorf("--ttl must be at least 1m, e.g. 2h")
	}
	return int((d + time.Minute - 1) / time.Minute), nil
}

func deployRun(ctx context.Context, opts *DeployOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	res, err := c.Deploy(ctx, opts.Request)
	return follower{opts.IO, opts.Now, opts.JSON, c}.finish(ctx, "deploy", opts.Request.Cluster, res, err, opts.Wait, opts.Timeout)
}
