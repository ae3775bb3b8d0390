package cmdutil

import (
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// InitRoot makes cmd the root of the CLI: the global flags, bound to f,
// every flag settable from the environment, usage errors as FlagErrors,
// and no usage dump on errors (Main prints one line and a pointer to
// --help instead).
func InitRoot(cmd *cobra.Command, f *Factory) {
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.Server, "server", "http://127.0.0.1:8080", "provisioner URL (env PROVISIONER_URL)")
	pf.BoolVar(&f.JSON, "json", false, "print JSON instead of text")
	pf.StringVar(&f.SigningKey, "signing-key", "",
		"ssh-ed25519 private key (OpenSSH format, no passphrase) that signs deploy, extend, destroy, schedule-destroy, test, release and job cancels; default ~/.sliderule_key if it exists, the SlideRule Python client's key")
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return FlagErrorWrap(err) })
	cmd.PersistentPreRunE = func(c *cobra.Command, _ []string) error {
		if isGroup(c) {
			return nil // it only shows its help
		}
		if err := bindEnv(c); err != nil {
			return err
		}
		// Cobra checks required flags and flag groups after this hook, with
		// plain errors; checked here first (the environment counted), they
		// are usage errors.
		if err := c.ValidateRequiredFlags(); err != nil {
			return FlagErrorWrap(err)
		}
		return FlagErrorWrap(c.ValidateFlagGroups())
	}
	// A group's usage shows no line of its own: it only shows its help.
	cmd.SetUsageTemplate(strings.Replace(cmd.UsageTemplate(), "{{if .Runnable}}", "{{if and .Runnable (not (isGroup .))}}", 1))
	Group(cmd)
}

func init() { cobra.AddTemplateFunc("isGroup", isGroup) }

// groupAnnotation marks a command that only groups others.
const groupAnnotation = "provisioner/group"

// Group makes cmd a command that only groups subcommands, adding subs:
// alone it shows its help, and an unknown subcommand is a usage error.
// (Cobra would show the help for both, and exit 0.)
func Group(cmd *cobra.Command, subs ...*cobra.Command) *cobra.Command {
	cmd.AddCommand(subs...)
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	cmd.Annotations[groupAnnotation] = "true"
	cmd.Args = func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		return FlagErrorf("unknown command %q for %q%s", args[0], c.CommandPath(), suggestions(c, args[0]))
	}
	cmd.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
	return cmd
}

// suggestions are cobra's "Did you mean this?" lines for an unknown
// subcommand, worded as cobra words them for the root.
func suggestions(c *cobra.Command, typed string) string {
	if c.DisableSuggestions {
		return ""
	}
	if c.SuggestionsMinimumDistance <= 0 {
		c.SuggestionsMinimumDistance = 2
	}
	var b strings.Builder
	if s := c.SuggestionsFor(typed); len(s) > 0 {
		b.WriteString("\n\nDid you mean this?\n")
		for _, name := range s {
			b.WriteString("\t" + name + "\n")
		}
	}
	return b.String()
}

func isGroup(c *cobra.Command) bool { return c.Annotations[groupAnnotation] == "true" }

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
			err = FlagErrorf("invalid %s=%q: %v", envName(f.Name), v, serr)
			return
		}
		f.Changed = true
	})
	return err
}
