package cluster

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"provisioner/client"
	"provisioner/cmd/provisioner/internal/cmdutil"
	"provisioner/cmd/provisioner/internal/iostreams"
)

// ListOptions are the options of `provisioner list`.
type ListOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*client.Client, error)
	JSON   bool
}

// NewCmdList is `provisioner list`; runF nil is the real run.
func NewCmdList(f *cmdutil.Factory, runF func(*ListOptions) error) *cobra.Command {
	opts := &ListOptions{IO: f.IOStreams, Client: f.Client}
	return &cobra.Command{
		Use:   "list",
		Short: "List the clusters you may reach",
		Args:  cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.JSON = f.JSON
			if runF != nil {
				return runF(opts)
			}
			return listRun(cmd.Context(), opts)
		},
	}
}

func listRun(ctx context.Context, opts *ListOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	list, err := c.ListClusters(ctx)
	if err != nil {
		return err
	}
	if opts.JSON {
		return cmdutil.PrintJSON(opts.IO.Out, list)
	}
	rows := make([][]string, 0, len(list))
	for _, cl := range list {
		rows = append(rows, []string{cl.Cluster, cl.State, visibility(bool(cl.IsPublic)), fmt.Sprint(cl.NodeCapacity),
			cmdutil.Dash(cl.Version), cmdutil.Dash(cl.CreatedBy), cmdutil.Dash(timeOrEmpty(cl.DestroyAt)), cmdutil.Dash(cl.Endpoint)})
	}
	cmdutil.Table(opts.IO, []string{"CLUSTER", "STATE", "VISIBILITY", "NODES", "VERSION", "CREATED BY", "DESTROY AT", "ENDPOINT"}, rows)
	return nil
}
