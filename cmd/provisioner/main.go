// Command provisioner is the SlideRule Provisioner: the service (serve), the
// cluster gateway (gateway) and the client for Makefiles and GitHub Actions.
// The service on AWS is the Lambda built from ../provisioner-lambda.
//
// The client commands live under internal/cmd, one package per area, on
// the Factory of internal/cmdutil; this package adds the server commands,
// which wire the embedded service, and turns errors into exit codes.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"provisioner"
	"provisioner/aws/lambda"
	"provisioner/buildinfo"
	"provisioner/cmd/provisioner/internal/cmd/root"
	"provisioner/cmd/provisioner/internal/cmd/version"
	"provisioner/cmd/provisioner/internal/cmdutil"
	"provisioner/cmd/provisioner/internal/iostreams"
)

func main() {
	if lambda.Detect() && len(os.Args) == 1 {
		// Uploaded as a Lambda's bootstrap by mistake: say so, rather
		// than print the CLI's help and leave the function failing.
		fmt.Fprintln(os.Stderr, "error: this is the provisioner CLI; the Lambda is cmd/provisioner-lambda (make package builds its bootstrap)")
		os.Exit(1)
	}
	os.Exit(Main(os.Args[1:], iostreams.System()))
}

// Exit codes, documented in `provisioner help exit-codes`.
const (
	exitOK        = 0
	exitFailure   = 1
	exitUsage     = 2
	exitAuth      = 3 // not authenticated or not allowed
	exitCancelled = 130
)

// Main runs the CLI on ios and returns its exit code.
func Main(args []string, ios *iostreams.IOStreams) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	f := cmdutil.New(ios)
	root := newRoot(f)
	root.SetArgs(args)
	root.SetIn(ios.In)
	root.SetOut(ios.Out)
	root.SetErr(ios.ErrOut)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	code := exitCode(err)
	msg := err.Error()
	var pe *provisioner.Error
	if errors.As(err, &pe) {
		msg = pe.Message
		if msg == "" {
			msg = pe.Code
		}
	}
	fmt.Fprintln(ios.ErrOut, "error:", msg)
	f.SignatureHint(err)
	if code == exitUsage {
		fmt.Fprintf(ios.ErrOut, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
	return code
}

// newRoot is the whole CLI: the client commands and the server commands.
func newRoot(f *cmdutil.Factory) *cobra.Command {
	cmd := root.NewCmdRoot(f, buildinfo.Version())
	cmd.AddCommand(newCmdServe(f, nil), newCmdGateway(f, nil), newCmdQuarantine(f), newCmdNode(f), newCmdPrices(f), version.NewCmdVersion(f, nil))
	return cmd
}

func exitCode(err error) int {
	var fe *cmdutil.FlagError
	var ue usageError
	switch {
	case errors.As(err, &fe), errors.As(err, &ue):
		return exitUsage
	case errors.Is(err, context.Canceled):
		return exitCancelled
	}
	switch provisioner.ErrorCode(err) {
	case provisioner.EUNAUTHORIZED, provisioner.EFORBIDDEN, provisioner.EDENIED,
		provisioner.ESIGREQUIRED, provisioner.EBADSIGNATURE:
		return exitAuth
	}
	return exitFailure
}

// usageError is a usage error (exit 2) of the server commands in this
// package, shown as the error it holds reads; usagef makes a
// cmdutil.FlagError, as the client commands do.
type usageError struct{ error }

func usagef(format string, args ...any) error { return cmdutil.FlagErrorf(format, args...) }
