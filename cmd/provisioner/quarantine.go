package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"provisioner/cmd/provisioner/internal/cmdutil"
	"provisioner/local"
)

// newCmdQuarantine lists, and destroys on the operator's word, the local
// clusters serve found running without a record (a lost or recreated
// database). serve never destroys them itself.
func newCmdQuarantine(f *cmdutil.Factory) *cobra.Command {
	var data string
	cmd := &cobra.Command{
		Use:   "quarantine",
		Short: "List the local clusters that run without a record (serve leaves them alone)",
		Long: `When serve starts and finds a local cluster running that its database does
not know (the database was lost, restored from an older backup, or recreated
with --recreate-db), it quarantines the cluster: leaves it running, does not
manage it, refuses DEPLOY of its name, and says so in its log. Nothing destroys
it but the operator:

  provisioner quarantine --data DIR               list them
  provisioner quarantine destroy NAME --data DIR  stop one (serve must be stopped)`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			names, err := local.Quarantined(cmd.Context(), data)
			if err != nil {
				return err
			}
			if f.JSON {
				return cmdutil.PrintJSON(f.IOStreams.Out, map[string][]string{"quarantined": names})
			}
			for _, n := range names {
				fmt.Fprintln(f.IOStreams.Out, n)
			}
			return nil
		},
	}
	cmd.PersistentFlags().StringVar(&data, "data", f.DataDir, "the service's data directory")
	destroy := &cobra.Command{
		Use:   "destroy NAME",
		Short: "Stop a quarantined cluster's processes and remove its state (serve must be stopped)",
		Args:  cmdutil.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := local.DestroyQuarantined(cmd.Context(), data, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(f.IOStreams.ErrOut, "Destroyed quarantined cluster %s\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(destroy)
	return cmd
}
