// Package admin holds the operators' commands: audit (and audit export),
// users revoke, and keys.
package admin

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"provisioner"
	"provisioner/api"
	"provisioner/client"
	"provisioner/cmd/provisioner/internal/cmdutil"
)

// AuditOptions are the options of `provisioner audit`.
type AuditOptions struct {
	cmdutil.APIOptions

	Filter provisioner.AuditFilter // Since from --since and the clock
}

// NewCmdAudit is `provisioner audit`; runF nil is the real run.
func NewCmdAudit(f *cmdutil.Factory, runF func(*AuditOptions) error) *cobra.Command {
	opts := &AuditOptions{}
	var since time.Duration
	cmd := cmdutil.NoArgsCmd(f, &cobra.Command{
		Use:   "audit",
		Short: "Show the audit log of logins and access attempts (admin)",
		PreRunE: func(*cobra.Command, []string) error {
			if since < 0 {
				return cmdutil.FlagErrorf("--since must be positive, e.g. 24h")
			}
			if since > 0 {
				opts.Filter.Since = f.Now().Add(-since)
			}
			return nil
		},
	}, opts, runF, auditRun)
	cmd.AddCommand(NewCmdAuditExport(f, nil))
	cmd.Flags().StringVar(&opts.Filter.Actor, "actor", "", "only entries of this login")
	cmd.Flags().StringVar(&opts.Filter.Action, "action", "", "only this action (e.g. login.pat, access)")
	cmd.Flags().DurationVar(&since, "since", 0, "only entries newer than this (e.g. 24h)")
	cmd.Flags().IntVar(&opts.Filter.Limit, "limit", 100, "at most this many entries")
	return cmd
}

func auditRun(ctx context.Context, opts *AuditOptions) error {
	return cmdutil.Show(&opts.APIOptions, func(c *client.Client) ([]provisioner.AuditEntry, error) { return c.Audit(ctx, opts.Filter) },
		cmdutil.TableOf(opts.IO, []string{"TIME", "ACTOR", "LEVEL", "ACTION", "TARGET", "RESULT", "SOURCE", "DETAIL"}, func(e provisioner.AuditEntry) []string {
			return []string{e.Time.Format(time.RFC3339), cmdutil.Dash(e.Actor), e.Level.String(), e.Action,
				cmdutil.Dash(e.Target), e.Result, cmdutil.Dash(e.Source), strconv.Quote(e.Detail)}
		}))
}

// AuditExportOptions are the options of `provisioner audit export`.
type AuditExportOptions struct {
	cmdutil.APIOptions

	Since time.Time
}

// NewCmdAuditExport is `provisioner audit export`; runF nil is the real run.
func NewCmdAuditExport(f *cmdutil.Factory, runF func(*AuditExportOptions) error) *cobra.Command {
	opts := &AuditExportOptions{}
	var since time.Duration
	cmd := cmdutil.NoArgsCmd(f, &cobra.Command{
		Use:   "export --since DURATION",
		Short: "Write the audit entries of a window, as JSON lines, to the log store (S3 on AWS)",
		PreRunE: func(*cobra.Command, []string) error {
			if since <= 0 {
				return cmdutil.FlagErrorf("--since must be positive, e.g. 24h")
			}
			opts.Since = f.Now().Add(-since)
			return nil
		},
	}, opts, runF, auditExportRun)
	cmd.Flags().DurationVar(&since, "since", 24*time.Hour, "export entries newer than this")
	return cmd
}

func auditExportRun(ctx context.Context, opts *AuditExportOptions) error {
	return cmdutil.Show(&opts.APIOptions, func(c *client.Client) (api.AuditExport, error) { return c.ExportAudit(ctx, opts.Since) },
		func(out api.AuditExport) error {
			fmt.Fprintf(opts.IO.ErrOut, "Exported %d audit entries to %s\n", out.Entries, out.Key)
			return nil
		})
}

// NewCmdUsers is `provisioner users`, the admin's commands on users' sessions.
func NewCmdUsers(f *cmdutil.Factory) *cobra.Command {
	return cmdutil.Group(&cobra.Command{Use: "users", Short: "Manage users' sessions (admin)"}, NewCmdUsersRevoke(f, nil))
}

// UsersRevokeOptions are the options of `provisioner users revoke`.
type UsersRevokeOptions struct {
	cmdutil.APIOptions

	Login string
}

// NewCmdUsersRevoke is `provisioner users revoke LOGIN`; runF nil is the real run.
func NewCmdUsersRevoke(f *cmdutil.Factory, runF func(*UsersRevokeOptions) error) *cobra.Command {
	opts := cmdutil.UseAPI(f, &UsersRevokeOptions{})
	return &cobra.Command{
		Use:   "revoke LOGIN",
		Short: "Revoke every session of a user: its login tokens stop working at the provisioner at once",
		Long: `revoke ends every session of LOGIN: the user's login tokens and the
jwt_cluster tokens issued under them stop working at the provisioner at once
(at other instances sharing the store within seconds) and at gateways at
their next poll of the revocation feed. Clusters behind production's load
balancer (ILB) cannot consult sessions: there a login token keeps working
until it expires, unless its key is revoked (provisioner keys revoke).`,
		Args: cmdutil.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Login, opts.JSON = args[0], f.JSON
			return cmdutil.Run(cmd.Context(), opts, runF, usersRevokeRun)
		},
	}
}

// revoked is what users revoke prints with --json.
type revoked struct {
	Login   string `json:"login"`
	Revoked int    `json:"revoked"`
}

func usersRevokeRun(ctx context.Context, opts *UsersRevokeOptions) error {
	return cmdutil.Show(&opts.APIOptions, func(c *client.Client) (revoked, error) {
		n, err := c.RevokeUser(ctx, opts.Login)
		return revoked{opts.Login, n}, err
	}, func(r revoked) error {
		_, err := fmt.Fprintf(opts.IO.Out, "revoked %d session(s) of %s\n", r.Revoked, r.Login)
		return err
	})
}
