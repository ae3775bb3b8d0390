package main

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"provisioner/local"
)

func newKeysCmd(g *globals) *cobra.Command {
	var data string
	var maxLifetime time.Duration
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Manage the embedded service's token signing keys",
		Long: `Manage the signing keys kept under the service's --data directory.

Rotation makes a new key current at once; the old key keeps verifying the
tokens it signed until they expire (--max-token-lifetime), then is removed.
A running 'provisioner serve' picks the new key up without a restart.`,
	}
	cmd.PersistentFlags().StringVar(&data, "data", defaultDataDir(), "the service's data directory")
	cmd.PersistentFlags().DurationVar(&maxLifetime, "max-token-lifetime", 12*time.Hour, "the service's --user-token-ttl")

	rotate := &cobra.Command{
		Use:   "rotate",
		Short: "Make a new signing key current",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			kid, err := local.Rotate(filepath.Join(data, "keys"), local.WithMaxTokenLifetime(maxLifetime))
			if err != nil {
				return err
			}
			if g.JSON {
				return printJSON(g.io.Out, map[string]string{"kid": kid})
			}
			fmt.Fprintf(g.io.Err, "New signing key %s is current\n", kid)
			return nil
		},
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List signing keys",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, err := local.OpenKeyring(filepath.Join(data, "keys"), local.WithMaxTokenLifetime(maxLifetime))
			if err != nil {
				return err
			}
			infos := k.Keys()
			if g.JSON {
				return printJSON(g.io.Out, infos)
			}
			rows := [][]string{}
			for _, i := range infos {
				rows = append(rows, keyRow(i))
			}
			table(g.io.Out, []string{"KID", "ALG", "CREATED", "STATE"}, rows)
			return nil
		},
	}
	cmd.AddCommand(rotate, list)
	return cmd
}

func keyRow(i local.KeyInfo) []string {
	state := "current"
	if !i.Current {
		state = "retired " + i.RetiredAt.UTC().Format(time.RFC3339)
	}
	return []string{i.ID, i.Algorithm, i.CreatedAt.UTC().Format(time.RFC3339), state}
}
