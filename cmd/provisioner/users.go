package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newUsersCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "users",
		Short: "Manage users' sessions (admin)",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "revoke LOGIN",
		Short: "Revoke every session of a user: its login tokens stop working at the provisioner at once",
		Long: `revoke ends every session of LOGIN: the user's login tokens and the
jwt_cluster tokens issued under them stop working at the provisioner at once
(at other instances sharing the store within seconds) and at gateways at
their next poll of the revocation feed. Clusters behind production's load
balancer (ILB) cannot consult sessions: there a login token keeps working
until it expires, unless its key is revoked (provisioner keys revoke).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.authedClient()
			if err != nil {
				return err
			}
			n, err := c.RevokeUser(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if g.JSON {
				return printJSON(g.io.Out, map[string]any{"login": args[0], "revoked": n})
			}
			_, err = fmt.Fprintf(g.io.Out, "revoked %d session(s) of %s\n", n, args[0])
			return err
		},
	})
	return cmd
}
