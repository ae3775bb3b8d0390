package admin

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"provisioner/cmd/provisioner/internal/cmdutil"
	"provisioner/cmd/provisioner/internal/iostreams"
	"provisioner/local/keyring"
)

// KeysOptions are the options of the `provisioner keys` commands, which
// work on the embedded service's files, not through its API.
type KeysOptions struct {
	IO   *iostreams.IOStreams
	JSON bool

	Action      string // rotate, list or revoke
	Data        string // the service's --data
	MaxLifetime time.Duration
	KID         string // revoke's argument
}

func (o *KeysOptions) dir() string { return filepath.Join(o.Data, "keys") }

// NewCmdKeys is `provisioner keys` and its rotate, list and revoke; runF
// nil is the real run of each.
func NewCmdKeys(f *cmdutil.Factory, runF func(*KeysOptions) error) *cobra.Command {
	opts := &KeysOptions{IO: f.IOStreams}
	cmd := cmdutil.Group(&cobra.Command{
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
	})
	cmd.PersistentFlags().StringVar(&opts.Data, "data", f.DataDir, "the service's data directory")
	cmd.PersistentFlags().DurationVar(&opts.MaxLifetime, "max-token-lifetime", 24*time.Hour, "the service's --user-token-ttl")

	run := map[string]func(context.Context, *KeysOptions) error{"rotate": keysRotateRun, "list": keysListRun, "revoke": keysRevokeRun}
	runE := func(cmd *cobra.Command, args []string) error {
		opts.Action, opts.JSON = cmd.Name(), f.JSON
		if len(args) == 1 {
			opts.KID = args[0]
		}
		return cmdutil.Run(cmd.Context(), opts, runF, run[opts.Action])
	}
	cmd.AddCommand(
		&cobra.Command{Use: "rotate", Short: "Make a new signing key current", Args: cmdutil.NoArgs, RunE: runE},
		&cobra.Command{Use: "revoke KID", Short: "Withdraw a signing key at once (a compromised key)", Args: cmdutil.ExactArgs(1), RunE: runE},
		&cobra.Command{Use: "list", Short: "List signing keys", Args: cmdutil.NoArgs, RunE: runE},
	)
	return cmd
}

func keysRotateRun(_ context.Context, opts *KeysOptions) error {
	kid, err := keyring.Rotate(keyring.Config{Dir: opts.dir(), MaxTokenLifetime: opts.MaxLifetime})
	if err != nil {
		return err
	}
	if opts.JSON {
		return cmdutil.PrintJSON(opts.IO.Out, map[string]string{"kid": kid})
	}
	fmt.Fprintf(opts.IO.ErrOut, "New signing key %s is current\n", kid)
	return nil
}

func keysListRun(_ context.Context, opts *KeysOptions) error {
	k, err := keyring.Open(keyring.Config{Dir: opts.dir(), MaxTokenLifetime: opts.MaxLifetime})
	if err != nil {
		return err
	}
	infos := k.Keys()
	if opts.JSON {
		return cmdutil.PrintJSON(opts.IO.Out, infos)
	}
	rows := [][]string{}
	for _, i := range infos {
		rows = append(rows, keyRow(i))
	}
	cmdutil.Table(opts.IO, []string{"KID", "ALG", "CREATED", "STATE"}, rows)
	return nil
}

func keysRevokeRun(_ context.Context, opts *KeysOptions) error {
	cur, err := keyring.Revoke(keyring.Config{Dir: opts.dir(), MaxTokenLifetime: opts.MaxLifetime}, opts.KID)
	if err != nil {
		return err
	}
	if opts.JSON {
		return cmdutil.PrintJSON(opts.IO.Out, map[string]string{"revoked": opts.KID, "kid": cur})
	}
	fmt.Fprintf(opts.IO.ErrOut, "Signing key %s revoked; %s is current\n", opts.KID, cur)
	return nil
}

func keyRow(i keyring.KeyInfo) []string {
	state := "current"
	if !i.Current {
		state = "retired " + i.RetiredAt.UTC().Format(time.RFC3339)
	}
	return []string{i.ID, i.Algorithm, i.CreatedAt.UTC().Format(time.RFC3339), state}
}
