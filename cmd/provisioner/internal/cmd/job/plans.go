package job

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"provisioner/cmd/provisioner/internal/cmdutil"
	"provisioner/cmd/provisioner/internal/iostreams"
	"provisioner/plan"
)

// NewCmdPlans is `provisioner plans`: checks of TEST and RELEASE plans
// against SlideRule's layout at every release (tag files, made by
// scripts/make-tags.sh). Local: it talks to no server.
func NewCmdPlans(f *cmdutil.Factory) *cobra.Command {
	return cmdutil.Group(&cobra.Command{Use: "plans", Short: "Check TEST and RELEASE plans"}, NewCmdPlansCheck(f, nil))
}

// PlansCheckOptions are the options of `provisioner plans check`.
type PlansCheckOptions struct {
	IO *iostreams.IOStreams

	Plans   string // directory or file; "" the built-in plans
	Tags    string
	Verbose bool
}

// NewCmdPlansCheck is `provisioner plans check`; runF nil is the real run.
func NewCmdPlansCheck(f *cmdutil.Factory, runF func(*PlansCheckOptions) error) *cobra.Command {
	opts := &PlansCheckOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
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
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Tags == "" {
				return cmdutil.FlagErrorf("--tags DIR is required")
			}
			return cmdutil.Run(cmd.Context(), opts, runF, plansCheckRun)
		},
	}
	cmd.Flags().StringVar(&opts.Tags, "tags", "", "directory of tag files (<tag>.txt)")
	cmd.Flags().StringVar(&opts.Plans, "plans", "", "directory or file of plans; default the built-in ones")
	cmd.Flags().BoolVarP(&opts.Verbose, "verbose", "v", false, "also list the commands the tag files cannot confirm")
	return cmd
}

func plansCheckRun(_ context.Context, opts *PlansCheckOptions) error {
	set, err := plan.Load(opts.Plans)
	if err != nil {
		return err
	}
	tags, err := plan.LoadTags(opts.Tags)
	if err != nil {
		return err
	}
	errs, unchecked := 0, 0
	for _, f := range plan.CheckTags(set, tags) {
		if f.Unchecked {
			unchecked++
			if !opts.Verbose {
				continue
			}
		} else {
			errs++
		}
		fmt.Fprintln(opts.IO.Out, f)
	}
	fmt.Fprintf(opts.IO.Out, "%d tags (%s to %s): %d errors, %d unchecked commands\n",
		len(tags), tags[0].Name, tags[len(tags)-1].Name, errs, unchecked)
	if errs > 0 {
		return fmt.Errorf("the plans do not hold at every version they claim: %d errors", errs)
	}
	return nil
}
