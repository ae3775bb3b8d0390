package auth

import (
	"context"

	"github.com/spf13/cobra"

	"provisioner"
	"provisioner/client"
	"provisioner/cmd/provisioner/internal/cmdutil"
	"provisioner/cmd/provisioner/internal/creds"
)

// LogoutOptions are the options of `provisioner logout`.
type LogoutOptions struct {
	Creds  *creds.Cache
	Client func() (*client.Client, error)
	Server string
}

// NewCmdLogout is `provisioner logout`; runF nil is the real run.
func NewCmdLogout(f *cmdutil.Factory, runF func(*LogoutOptions) error) *cobra.Command {
	opts := &LogoutOptions{Creds: f.Creds, Client: f.Client}
	return &cobra.Command{
		Use:   "logout",
		Short: "End the session at the server and forget the cached token",
		Long: `logout revokes the cached token's session at the server, so the token
stops working there (and at gateways within seconds) even if a copy leaked,
then deletes it here. A token the server no longer accepts is deleted all
the same; a server that cannot be reached leaves the token in place, so
logout can be retried.`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Server = f.Server
			return cmdutil.Run(cmd.Context(), opts, runF, logoutRun)
		},
	}
}

func logoutRun(ctx context.Context, opts *LogoutOptions) error {
	m, err := opts.Creds.Load()
	if err != nil {
		return err
	}
	if c, cerr := opts.Client(); cerr == nil {
		err := c.Logout(ctx)
		if err != nil && provisioner.ErrorCode(err) != provisioner.EUNAUTHORIZED {
			return err
		}
	}
	delete(m, opts.Server)
	return opts.Creds.Save(m)
}
