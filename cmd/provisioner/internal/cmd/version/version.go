// Package version is `provisioner version`.
package version

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"provisioner/buildinfo"
	"provisioner/cmd/provisioner/internal/cmdutil"
	"provisioner/cmd/provisioner/internal/iostreams"
)

// Options are the options of `provisioner version`.
type Options struct {
	IO   *iostreams.IOStreams
	Name string // the root command's name
	JSON bool
}

// NewCmdVersion prints what --version prints ("provisioner version V"), or
// with --json the version, VCS revision, Go version and platform; runF nil
// is the real run.
func NewCmdVersion(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	return &cobra.Command{
		Use:   "version",
		Short: "Print the provisioner's version",
		Args:  cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.JSON, opts.Name = f.JSON, cmd.Root().Name()
			return cmdutil.Run(cmd.Context(), opts, runF, run)
		},
	}
}

func run(_ context.Context, opts *Options) error {
	if opts.JSON {
		return cmdutil.PrintJSON(opts.IO.Out, buildinfo.Get())
	}
	_, err := fmt.Fprintf(opts.IO.Out, "%s version %s\n", opts.Name, buildinfo.Version())
	return err
}
