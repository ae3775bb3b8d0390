package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"provisioner"
	"provisioner/cmd/provisioner/internal/cmdutil"
	"provisioner/local"
	"provisioner/sqlite"
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
			names, err := unrecorded(cmd.Context(), data)
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
			name := args[0]
			unlock, err := lockData(data)
			if err != nil {
				return err
			}
			defer unlock()
			names, err := unrecorded(cmd.Context(), data)
			if err != nil {
				return err
			}
			found := false
			for _, n := range names {
				found = found || n == name
			}
			if !found {
				return provisioner.Errorf(provisioner.ENOTFOUND,
					"%s is not a cluster without a record under %s (a recorded cluster is destroyed with `provisioner destroy`)", name, data)
			}
			// Destroy starts nothing; the driver needs a command only to be valid.
			d, err := local.NewDriver(local.DriverConfig{Dir: filepath.Join(data, "clusters"), Issuer: "http://127.0.0.1",
				Command: "false", Logger: nil})
			if err != nil {
				return err
			}
			if err := d.Destroy(cmd.Context(), name); err != nil {
				return err
			}
			fmt.Fprintf(f.IOStreams.ErrOut, "Destroyed quarantined cluster %s\n", name)
			return nil
		},
	}
	cmd.AddCommand(destroy)
	return cmd
}

// unrecorded lists the clusters with local state under data and no record
// in its database.
func unrecorded(ctx context.Context, data string) ([]string, error) {
	names, err := local.ClusterNames(filepath.Join(data, "clusters"))
	if err != nil {
		return nil, err
	}
	path := filepath.Join(data, "provisioner.db")
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		return names, nil // no database: nothing is recorded (and none is created here)
	}
	store, err := sqlite.Open(path)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	known := knownIn(store)
	var out []string
	for _, n := range names {
		ok, err := known(ctx, n)
		if err != nil {
			return nil, err
		}
		if !ok {
			out = append(out, n)
		}
	}
	return out, nil
}
