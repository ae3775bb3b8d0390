package auth

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"provisioner/api"
	"provisioner/client"
	"provisioner/cmd/provisioner/internal/cmdutil"
)

// WhoamiOptions are the options of `provisioner whoami`.
type WhoamiOptions struct {
	cmdutil.APIOptions
}

// NewCmdWhoami is `provisioner whoami`; runF nil is the real run.
func NewCmdWhoami(f *cmdutil.Factory, runF func(*WhoamiOptions) error) *cobra.Command {
	return cmdutil.NoArgsCmd(f, &cobra.Command{
		Use:   "whoami",
		Short: "Show who the cached token says you are, as the server verifies it",
	}, &WhoamiOptions{}, runF, whoamiRun)
}

func whoamiRun(ctx context.Context, opts *WhoamiOptions) error {
	return cmdutil.Show(&opts.APIOptions, func(c *client.Client) (api.Metadata, error) { return c.Whoami(ctx) }, func(m api.Metadata) error {
		cmdutil.Table(opts.IO, []string{"LOGIN", "LEVEL", "ORG", "EXPIRES"}, [][]string{{m.Subject, m.Level, cmdutil.Dash(m.Org),
			time.Unix(m.ExpiresAt, 0).UTC().Format(time.RFC3339)}})
		return nil
	})
}
