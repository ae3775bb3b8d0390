package admin

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"provisioner/client"
	"provisioner/cmd/provisioner/internal/cmdutil"
	"provisioner/cmd/provisioner/internal/iostreams"
)

// NewCmdUsers is `provisioner users`, the admin's commands on users' sessions.
func NewCmdUsers(f *cmdutil.Factory) *cobra.Command {
	cmd := cmdutil.Group(&cobra.Command{Use: "users", Short: "Manage users' sessions (admin)"})
	cmd.AddCommand(NewCmdUsersRevoke(f, nil))
	return cmd
}

// UsersRevokeOptions are the options of `provisioner users revoke`.
type UsersRevokeOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*client.Client, error)
	JSON   bool

	Login string
}

// NewCmdUsersRevoke is `provisioner users revoke LOGIN`; runF nil is the real run.
func NewCmdUsersRevoke(f *cmdutil.Factory, runF func(*UsersRevokeOptions) error) *cobra.Command {
	opts := &UsersRevokeOptions{IO: f.IOStreams, Client: f.Client}
	return &cobra.Command{
		Use:   "revoke LOGIN",
		Short: "Revoke every session of a user: its login tokens stop working at the provisioner at once",
		Long: `revoke ends every session of LOGIN: the user's login tokens and the
jwt_cluster tokens issued under them stop working at the provisioner at once
(at other instances sharing the store within seconds) and at gateways at
their next poll of the revocation feed. Clusters behind production's load
balancer (ILB) cannot consult sessions: there a login token keeps working
until it expires, unless its key is revoked (provisioner keys revoke).`,
		Args: cmdutil.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Login, opts.JSON = args[0], f.JSON
			if runF != nil {
				return runF(opts)
			}
			return usersRevokeRun(cmd.Context(), opts)
		},
	}
}

func usersRevokeRun(ctx context.Context, opts *UsersRevokeOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	n, err := c.RevokeUser(ctx, opts.Login)
	if err != nil {
		return err
	}
	if opts.JSON {
		return cmdutil.PrintJSON(opts.IO.Out, map[string]any{"login": opts.Login, "revoked": n})
	}
	_, err = fmt.Fprintf(opts.IO.Out, "revoked %d session(s) of %s\n", n, opts.Login)
	return err
}
