package main

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"provisioner/local/keyring"
)

func newKeysCmd(g *globals) *cobra.Command {
	var data string
	var maxLifetime time.Duration
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Manage the embedded service's token signing keys",
		Long: `Manage the signing keys kept under the service's --data directory.

Keys are RSA-2048 and sign RS256, the only algorithm SlideRule's load
balancer (the ILB) checks. /auth/pem serves the current key; an ILB trusts
the one key it holds, and re-downloads it on a timer (local clusters of a
running 'provisioner serve' at once, AWS clusters within 5 minutes).

Rotation makes a new key current at once. At the provisioner and at
'provisioner gateway' the old key keeps verifying the tokens it signed until
they expire (--max-token-lifetime), then is removed. At an ILB, tokens of the
old key stop working when it picks up the new key: users log in again. Rotate
rarely, at a quiet time.

Revocation withdraws a key at once: it leaves the JWKS and /auth/pem, and no
token it signed verifies any more, at the provisioner, at gateways (within
their cache time) and at ILBs (at their next refresh). Revoking the current
key makes a new one current.

A running 'provisioner serve' picks up rotation and revocation without a
restart.`,
	}
	cmd.PersistentFlags().StringVar(&data, "data", defaultDataDir(), "the service's data directory")
	cmd.PersistentFlags().DurationVar(&maxLifetime, "max-token-lifetime", 24*time.Hour, "the service's --user-token-ttl")

	rotate := &cobra.Command{
		Use:   "rotate",
		Short: "Make a new signing key current",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			kid, err := keyring.Rotate(keyring.Config{Dir: filepath.Join(data, "keys"), MaxTokenLifetime: maxLifetime})
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
			k, err := keyring.Open(keyring.Config{Dir: filepath.Join(data, "keys"), MaxTokenLifetime: maxLifetime})
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
	revoke := &cobra.Command{
		Use:   "revoke KID",
		Short: "Withdraw a signing key at once (a compromised key)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cur, err := keyring.Revoke(keyring.Config{Dir: filepath.Join(data, "keys"), MaxTokenLifetime: maxLifetime}, args[0])
			if err != nil {
				return err
			}
			if g.JSON {
				return printJSON(g.io.Out, map[string]string{"revoked": args[0], "kid": cur})
			}
			fmt.Fprintf(g.io.Err, "Signing key %s revoked; %s is current\n", args[0], cur)
			return nil
		},
	}
	cmd.AddCommand(rotate, revoke, list)
	return cmd
}

func keyRow(i keyring.KeyInfo) []string {
	state := "current"
	if !i.Current {
		state = "retired " + i.RetiredAt.UTC().Format(time.RFC3339)
	}
	return []string{i.ID, i.Algorithm, i.CreatedAt.UTC().Format(time.RFC3339), state}
}
