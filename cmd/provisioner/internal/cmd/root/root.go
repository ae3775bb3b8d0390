// Package root assembles the CLI's client commands under the root command.
// The server-side commands (serve, gateway, node, quarantine) are added by
// package main, which wires the embedded service.
package root

import (
	"github.com/spf13/cobra"

	"provisioner"
	"provisioner/cmd/provisioner/internal/cmd/admin"
	"provisioner/cmd/provisioner/internal/cmd/auth"
	"provisioner/cmd/provisioner/internal/cmd/cluster"
	"provisioner/cmd/provisioner/internal/cmd/cost"
	"provisioner/cmd/provisioner/internal/cmd/job"
	"provisioner/cmd/provisioner/internal/cmdutil"
)

// NewCmdRoot is `provisioner` with its global flags and client commands.
func NewCmdRoot(f *cmdutil.Factory, version string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "provisioner",
		Short: "Deploy, reach and test SlideRule clusters",
		Long: `provisioner is the SlideRule Provisioner in one binary:

  provisioner serve      the service (HTTP API, store, scheduler) on this machine
  provisioner gateway    the token check in front of a cluster
  provisioner login ...  the client, for people, Makefiles and GitHub Actions

Every flag can also be set from the environment: --server is PROVISIONER_URL,
and any other --some-flag is PROVISIONER_SOME_FLAG.`,
		Version: version,
	}
	cmdutil.InitRoot(cmd, f)
	cmd.AddCommand(
		auth.NewCmdLogin(f, nil), auth.NewCmdLogout(f, nil), auth.NewCmdWhoami(f, nil),
		cluster.NewCmdAccess(f, nil), cluster.NewCmdList(f, nil), cluster.NewCmdCluster(f),
		cluster.NewCmdDeploy(f, nil), cluster.NewCmdDestroy(f, nil), cluster.NewCmdExtend(f, nil),
		cluster.NewCmdScheduleDestroy(f, nil), cluster.NewCmdStatus(f, nil), cluster.NewCmdEvents(f, nil),
		cost.NewCmdCosts(f, nil), cost.NewCmdBudgets(f, nil),
		job.NewCmdStart(f, provisioner.JobTest, nil), job.NewCmdStart(f, provisioner.JobRelease, nil),
		job.NewCmdJobs(f, nil), job.NewCmdLogs(f, nil), job.NewCmdPlans(f),
		admin.NewCmdAudit(f, nil), admin.NewCmdKeys(f, nil), admin.NewCmdUsers(f),
		newCmdExitCodes(),
	)
	// Cobra adds its help and completion commands when the root runs; added
	// now, they can be adjusted.
	cmd.InitDefaultHelpCmd()
	cmd.InitDefaultCompletionCmd()
	for _, c := range cmd.Commands() {
		switch c.Name() {
		case "help":
			c.Run = unknownTopic(c.Run)
		case "completion":
			cmdutil.UsageArgs(c)
		}
	}
	return cmd
}

// unknownTopic makes `help NAME` with an unknown NAME say so, as cobra's
// help does: it relies on the root's lookup failing, which it no longer
// does since the root validates its arguments itself.
func unknownTopic(help func(*cobra.Command, []string)) func(*cobra.Command, []string) {
	return func(c *cobra.Command, args []string) {
		if found, rest, err := c.Root().Find(args); err == nil && found == c.Root() && len(rest) > 0 {
			c.Printf("Unknown help topic %#q\n", args)
			cobra.CheckErr(c.Root().Usage())
			return
		}
		help(c, args)
	}
}

func newCmdExitCodes() *cobra.Command {
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
