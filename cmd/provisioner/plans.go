package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"provisioner/plan"
)

// newPlansCmd checks TEST and RELEASE plans against SlideRule's layout at
// every release (tag files, made by scripts/make-tags.sh). Local: it talks
// to no server.
func newPlansCmd(io Streams) *cobra.Command {
	cmd := &cobra.Command{Use: "plans", Short: "Check TEST and RELEASE plans"}
	var plansPath, tagsDir string
	var verbose bool
	check := &cobra.Command{
		Use:   "check --tags DIR [--plans DIR|FILE]",
		Short: "Check that every step's directories and make targets exist at each release the plan claims",
		Long: `Check the plans (the built-in ones, or --plans DIR|FILE as serve takes) against
tag files: one <tag>.txt per SlideRule release, made from a clone by
scripts/make-tags.sh (README "Plans and tag files" describes the format).

For every tag and every step the plan runs at that version, each literal
'cd DIR' must be a directory of that release and each 'make [TARGET...]' a
Makefile with those targets. Commands the tag files cannot confirm (a make
outside the root and targets/* Makefiles, a cd to a variable) are listed
as unchecked with --verbose, and counted. Exit 1 if anything is wrong.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if tagsDir == "" {
				return usagef("--tags DIR is required")
			}
			set, err := plan.Load(plansPath)
			if err != nil {
				return err
			}
			tags, err := plan.LoadTags(tagsDir)
			if err != nil {
				return err
			}
			errs, unchecked := 0, 0
			for _, f := range plan.CheckTags(set, tags) {
				if f.Unchecked {
					unchecked++
					if !verbose {
						continue
					}
				} else {
					errs++
				}
				fmt.Fprintln(io.Out, f)
			}
			fmt.Fprintf(io.Out, "%d tags (%s to %s): %d errors, %d unchecked commands\n",
				len(tags), tags[0].Name, tags[len(tags)-1].Name, errs, unchecked)
			if errs > 0 {
				return fmt.Errorf("the plans do not hold at every version they claim: %d errors", errs)
			}
			return nil
		},
	}
	check.Flags().StringVar(&tagsDir, "tags", "", "directory of tag files (<tag>.txt)")
	check.Flags().StringVar(&plansPath, "plans", "", "directory or file of plans; default the built-in ones")
	check.Flags().BoolVarP(&verbose, "verbose", "v", false, "also list the commands the tag files cannot confirm")
	cmd.AddCommand(check)
	return cmd
}
