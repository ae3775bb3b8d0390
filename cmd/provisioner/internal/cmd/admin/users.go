package admin

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"provisioner/client"
	"provisioner/cmd/provisioner/internal/cmdutil"
)

// NewCmdUsers is `provisioner users`, the admin's commands on users' sessions.
func NewCmdUsers(f *cmdutil.Factory) *cobra.Command {
	return cmdutil.Group(&cobra.Command{Use: "users", Short: "Manage users' sessions (admin)"}, NewCmdUsersRevoke(f, nil))
}

// UsersRevokeOptions are the options of `provisioner users revoke`.
type UsersRevokeOptions struct {
	cmdutil.APIOptions

	Login string
}

// NewCmdUsersRevoke is `provisioner users revoke LOGIN`; runF nil is the real run.
func NewCmdUsersRevoke(f *cmdutil.Factory, runF func(*UsersRevokeOptions) error) *cobra.Command {
	opts := cmdutil.UseAPI(f, &UsersRevokeOptions{})
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
			return cmdutil.Run(cmd.Context(), opts, runF, usersRevokeRun)
		},
	}
}

// revoked is what users revoke prints with --json.
type revoked struct {
	Login   string `json:"login"`
	Revoked int    `json:"revoked"`
}

func usersRevokeRun(ctx context.Context, opts *UsersRevokeOptions) error {
	return cmdutil.Show(&opts.APIOptions, func(c *client.Client) (revoked, error) {
		n, err := c.RevokeUser(ctx, opts.Login)
		return revoked{opts.Login, n}, err
	}, func(r revoked) error {
		_, err := fmt.Fprintf(opts.IO.Out, "revoked %d session(s) of %s\n", r.Revoked, r.Login)
		return err
	})
}
