package cmdutil

import (
	"fmt"

	"github.com/spf13/cobra"

	"provisioner"
)

// FlagError is an error in how a command was called: bad or missing flags
// or arguments. The CLI exits 2 on it and points at --help. Its text is the
// whole message: it does not unwrap, so the error it was made from is shown
// as it reads.
type FlagError struct {
	err error
}

func (e *FlagError) Error() string { return e.err.Error() }

// FlagErrorf makes a FlagError from a message.
func FlagErrorf(format string, args ...any) error {
	return &FlagError{fmt.Errorf(format, args...)}
}

// FlagErrorWrap makes err a FlagError; nil stays nil.
func FlagErrorWrap(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := err.(*FlagError); ok {
		return err
	}
	return &FlagError{err}
}

// usageArgs turns a cobra validator's errors into FlagErrors, keeping
// cobra's wording.
func usageArgs(v cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error { return FlagErrorWrap(v(cmd, args)) }
}

// NoArgs is cobra.NoArgs with a FlagError.
func NoArgs(cmd *cobra.Command, args []string) error { return FlagErrorWrap(cobra.NoArgs(cmd, args)) }

// ExactArgs is cobra.ExactArgs with a FlagError.
func ExactArgs(n int) cobra.PositionalArgs { return usageArgs(cobra.ExactArgs(n)) }

// MaximumNArgs is cobra.MaximumNArgs with a FlagError.
func MaximumNArgs(n int) cobra.PositionalArgs { return usageArgs(cobra.MaximumNArgs(n)) }

// UsageArgs makes the validators of cmd and every command under it return
// FlagErrors: for commands cobra makes itself (completion).
func UsageArgs(cmd *cobra.Command) {
	if cmd.Args != nil {
		cmd.Args = usageArgs(cmd.Args)
	}
	for _, c := range cmd.Commands() {
		UsageArgs(c)
	}
}

// ValidCluster checks a CLUSTER argument before any request is made.
func ValidCluster(name string) error {
	return FlagErrorWrap(provisioner.ValidateClusterName(name))
}
