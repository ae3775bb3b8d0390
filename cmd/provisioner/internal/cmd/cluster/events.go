package cluster

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"provisioner/client"
	"provisioner/cmd/provisioner/internal/cmdutil"
	"provisioner/cmd/provisioner/internal/iostreams"
)

// EventsOptions are the options of `provisioner events`.
type EventsOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*client.Client, error)
	JSON   bool

	Cluster string
}

// NewCmdEvents is `provisioner events CLUSTER`; runF nil is the real run.
func NewCmdEvents(f *cmdutil.Factory, runF func(*EventsOptions) error) *cobra.Command {
	opts := &EventsOptions{IO: f.IOStreams, Client: f.Client}
	return &cobra.Command{
		Use:   "events CLUSTER",
		Short: "Show a cluster's recent events, oldest first",
		Args:  cmdutil.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cmdutil.ValidCluster(args[0]); err != nil {
				return err
			}
			opts.Cluster, opts.JSON = args[0], f.JSON
			if runF != nil {
				return runF(opts)
			}
			return eventsRun(cmd.Context(), opts)
		},
	}
}

func eventsRun(ctx context.Context, opts *EventsOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	evs, err := c.Events(ctx, opts.Cluster)
	if err != nil {
		return err
	}
	if opts.JSON {
		return cmdutil.PrintJSON(opts.IO.Out, evs)
	}
	rows := make([][]string, 0, len(evs))
	for _, e := range evs {
		rows = append(rows, []string{e.Time.UTC().Format(time.RFC3339), e.Type, cmdutil.Dash(e.Actor), strings.ReplaceAll(e.Message, "\n", " ")})
	}
	cmdutil.Table(opts.IO, []string{"TIME", "EVENT", "ACTOR", "MESSAGE"}, rows)
	return nil
}
