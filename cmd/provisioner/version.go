package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"provisioner/buildinfo"
)

// newVersionCmd prints what --version prints ("provisioner version V"), or
// with --json the version, VCS revision, Go version and platform.
func newVersionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the provisioner's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if g.JSON {
				return printJSON(g.io.Out, buildinfo.Get())
			}
			_, err := fmt.Fprintf(g.io.Out, "%s version %s\n", cmd.Root().Name(), buildinfo.Version())
			return err
		},
	}
}
