package cluster

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"provisioner"
	"provisioner/api"
	"provisioner/client"
	"provisioner/cmd/provisioner/internal/cmdutil"
	"provisioner/cmd/provisioner/internal/iostreams"
)

// StatusOptions are the options of `provisioner status`.
type StatusOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*client.Client, error)
	JSON   bool

	Cluster string
}

// NewCmdStatus is `provisioner status CLUSTER`; runF nil is the real run.
func NewCmdStatus(f *cmdutil.Factory, runF func(*StatusOptions) error) *cobra.Command {
	opts := &StatusOptions{IO: f.IOStreams, Client: f.Client}
	return &cobra.Command{
		Use:   "status CLUSTER",
		Short: "Show a cluster's state, endpoint and schedule (STATUS)",
		Args:  cmdutil.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cmdutil.ValidCluster(args[0]); err != nil {
				return err
			}
			opts.Cluster, opts.JSON = args[0], f.JSON
			if runF != nil {
				return runF(opts)
			}
			return statusRun(cmd.Context(), opts)
		},
	}
}

func statusRun(ctx context.Context, opts *StatusOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	st, err := c.Status(ctx, opts.Cluster)
	if err != nil {
		return err
	}
	return printStatus(opts.IO, opts.JSON, st)
}

// printStatus prints a cluster's status as "key: value" lines, the keys
// padded so the values line up, terminal or not.
func printStatus(io *iostreams.IOStreams, asJSON bool, st api.Status) error {
	if asJSON {
		return cmdutil.PrintJSON(io.Out, st)
	}
	rows := [][]string{{"cluster", st.Cluster}, {"state", st.State}}
	add := func(k, v string) {
		if v != "" {
			rows = append(rows, []string{k, v})
		}
	}
	if st.State != string(provisioner.StateAbsent) {
		add("visibility", visibility(bool(st.IsPublic)))
		add("nodes", fmt.Sprint(st.NodeCapacity))
		add("version", st.Version)
		add("endpoint", st.Endpoint)
		add("created by", st.CreatedBy)
		add("created", timeOrEmpty(st.CreatedAt))
		add("expires", timeOrEmpty(st.ExpiresAt))
		add("destroy at", timeOrEmpty(st.DestroyAt))
		add("reason", st.Reason)
	}
	for _, r := range rows {
		fmt.Fprintf(io.Out, "%-11s %s\n", r[0]+":", r[1])
	}
	return nil
}

func visibility(public bool) string {
	if public {
		return "public"
	}
	return "private"
}

func timeOrEmpty(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
