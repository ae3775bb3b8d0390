package main

import (
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"provisioner/cmd/provisioner/internal/cmdutil"
	"provisioner/local/ilb"
)

// newCmdNode is the stand-in SlideRule node local clusters run (hidden: a
// development aid, not part of the interface). It reads production's node
// environment: PORT, CLUSTER, VERSION, and, behind the real ILB,
// ORCHESTRATOR and IPV4, then registers as server.lua does.
func newCmdNode(f *cmdutil.Factory) *cobra.Command {
	return &cobra.Command{
		Use:    "node",
		Short:  "Run a stand-in SlideRule node (PORT, CLUSTER, VERSION, ORCHESTRATOR, IPV4 from the environment)",
		Hidden: true,
		Args:   cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			n, port, err := ilb.NodeFromEnv(os.Getenv)
			if err != nil {
				return usageError{err}
			}
			n.Logger = slog.New(slog.NewTextHandler(f.IOStreams.ErrOut, nil)).With("node", port)
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return n.Run(ctx, port)
		},
	}
}
