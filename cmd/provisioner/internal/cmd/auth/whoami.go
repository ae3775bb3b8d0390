package auth

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"provisioner/client"
	"provisioner/cmd/provisioner/internal/cmdutil"
	"provisioner/cmd/provisioner/internal/iostreams"
)

// WhoamiOptions are the options of `provisioner whoami`.
type WhoamiOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*client.Client, error)
	JSON   bool
}

// NewCmdWhoami is `provisioner whoami`; runF nil is the real run.
func NewCmdWhoami(f *cmdutil.Factory, runF func(*WhoamiOptions) error) *cobra.Command {
	opts := &WhoamiOptions{IO: f.IOStreams, Client: f.Client}
	return &cobra.Command{
		Use:   "whoami",
		Short: "Show who the cached token says you are, as the server verifies it",
		Args:  cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.JSON = f.JSON
			if runF != nil {
				return runF(opts)
			}
			return whoamiRun(cmd.Context(), opts)
		},
	}
}

func whoamiRun(ctx context.Context, opts *WhoamiOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	m, err := c.Whoami(ctx)
	if err != nil {
		return err
	}
	if opts.JSON {
		return cmdutil.PrintJSON(opts.IO.Out, m)
	}
	cmdutil.Table(opts.IO, []string{"LOGIN", "LEVEL", "ORG", "EXPIRES"}, [][]string{{m.Subject, m.Level, cmdutil.Dash(m.Org),
		time.Unix(m.ExpiresAt, 0).UTC().Format(time.RFC3339)}})
	return nil
}
