package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"provisioner"
	"provisioner/buildinfo"
)

// Exit codes, documented in `provisioner help exit-codes`.
const (
	exitOK        = 0
	exitFailure   = 1
	exitUsage     = 2
	exitAuth      = 3 // not authenticated or not allowed
	exitCancelled = 130
)

// Streams are a command's I/O, swapped for buffers in tests.
type Streams struct {
	In       io.Reader
	Out, Err io.Writer
}

// usageError marks errors in how the command was called (exit 2).
type usageError struct{ error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// Main runs the CLI and returns its exit code.
func Main(args []string, io Streams) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root, g := newRoot(io)
	root.SetArgs(args)
	root.SetIn(io.In)
	root.SetOut(io.Out)
	root.SetErr(io.Err)
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
	fmt.Fprintln(io.Err, "error:", msg)
	g.signatureHint(err)
	if code == exitUsage {
		fmt.Fprintf(io.Err, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
	return code
}

func exitCode(err error) int {
	var ue usageError
	switch {
	case errors.As(err, &ue):
		return exitUsage
	case errors.Is(err, context.Canceled):
		return exitCancelled
	}
	switch provisioner.ErrorCode(err) {
	case provisioner.EUNAUTHORIZED, provisioner.EFORBIDDEN, provisioner.EDENIED,
		provisioner.ESIGREQUIRED, provisioner.EBADSIGNATURE:
		return exitAuth
	case provisioner.EINTERNAL:
		// Cobra's own flag and argument errors are plain errors.
		if isCobraUsage(err) {
			return exitUsage
		}
	}
	return exitFailure
}

func isCobraUsage(err error) bool {
	s := err.Error()
	for _, p := range []string{"unknown flag", "unknown shorthand", "unknown command", "flag needs an argument",
		"invalid argument", "accepts ", "requires at least", "requires at most", "if any flags in the group",
		"none of the others can be", "at least one of the flags", "required flag"} {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}

// globals are the flags every client command shares.
type globals struct {
	Server     string
	JSON       bool
	SigningKey string
	io         Streams

	signedWith string // the key file the last client signs with, if any
}

func newRoot(io Streams) (*cobra.Command, *globals) {
	g := &globals{io: io}
	root := &cobra.Command{
		Use:   "provisioner",
		Short: "Deploy, reach and test SlideRule clusters",
		Long: `provisioner is the SlideRule Provisioner in one binary:

  provisioner serve      the service (HTTP API, store, scheduler) on this machine
  provisioner gateway    the token check in front of a cluster
  provisioner login ...  the client, for people, Makefiles and GitHub Actions

Every flag can also be set from the environment: --server is PROVISIONER_URL,
and any other --some-flag is PROVISIONER_SOME_FLAG.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return bindEnv(cmd)
		},
	}
	root.Version = buildinfo.Version()
	root.PersistentFlags().StringVar(&g.Server, "server", "http://127.0.0.1:8080", "provisioner URL (env PROVISIONER_URL)")
	root.PersistentFlags().BoolVar(&g.JSON, "json", false, "print JSON instead of text")
	root.PersistentFlags().StringVar(&g.SigningKey, "signing-key", "",
		"ssh-ed25519 private key (OpenSSH format, no passphrase) that signs deploy, extend, destroy, schedule-destroy, test, release and job cancels; default ~/.sliderule_key if it exists, the SlideRule Python client's key")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })

	root.AddCommand(
		newServeCmd(io), newGatewayCmd(io),
		newLoginCmd(g), newLogoutCmd(g), newWhoamiCmd(g),
		newAccessCmd(g), newListCmd(g), newClusterCmd(g), newAuditCmd(g),
		newDeployCmd(g), newDestroyCmd(g), newExtendCmd(g), newScheduleDestroyCmd(g), newStatusCmd(g), newEventsCmd(g),
		newJobCmd(g, provisioner.JobTest), newJobCmd(g, provisioner.JobRelease), newJobsCmd(g), newLogsCmd(g),
		newKeysCmd(g), newQuarantineCmd(g), newUsersCmd(g), newNodeCmd(io), newPlansCmd(io),
		newExitCodesTopic(),
	)
	root.AddCommand(newVersionCmd(g))
	return root, g
}

// envName is the environment variable that sets a flag.
func envName(flag string) string {
	if flag == "server" {
		return "PROVISIONER_URL"
	}
	return "PROVISIONER_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// bindEnv fills every flag not given on the command line from its
// environment variable, so Makefiles and CI can configure by environment.
func bindEnv(cmd *cobra.Command) error {
	var err error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed || f.Name == "help" {
			return
		}
		v, ok := os.LookupEnv(envName(f.Name))
		if !ok {
			return
		}
		if serr := f.Value.Set(v); serr != nil {
			err = usagef("invalid %s=%q: %v", envName(f.Name), v, serr)
			return
		}
		f.Changed = true
	})
	return err
}

func newExitCodesTopic() *cobra.Command {
	return &cobra.Command{
		Use:   "exit-codes",
		Short: "What the exit codes mean",
		Long: `Exit codes:
  0    success
  1    failure (the request was refused for a state reason, or something failed)
  2    usage error (bad flags or arguments)
  3    not authenticated, or not allowed at your level (log in, or ask an admin),
       or a request signature is missing or refused (see --signing-key)
  130  interrupted`,
	}
}
