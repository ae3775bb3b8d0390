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
	"provisioner/client"
	"provisioner/cmd/provisioner/internal/cmdutil"
	"provisioner/cmd/provisioner/internal/iostreams"
)

// AuditOptions are the options of `provisioner audit`.
type AuditOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*client.Client, error)
	JSON   bool

	Filter provisioner.AuditFilter // Since from --since and the clock
}

// NewCmdAudit is `provisioner audit`; runF nil is the real run.
func NewCmdAudit(f *cmdutil.Factory, runF func(*AuditOptions) error) *cobra.Command {
	opts := &AuditOptions{IO: f.IOStreams, Client: f.Client}
	var since time.Duration
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Show the audit log of logins and access attempts (admin)",
		Args:  cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if since < 0 {
				return cmdutil.FlagErrorf("--since must be positive, e.g. 24h")
			}
			if since > 0 {
				opts.Filter.Since = f.Now().Add(-since)
			}
			opts.JSON = f.JSON
			if runF != nil {
				return runF(opts)
			}
			return auditRun(cmd.Context(), opts)
		},
	}
	cmd.AddCommand(NewCmdAuditExport(f, nil))
	cmd.Flags().StringVar(&opts.Filter.Actor, "actor", "", "only entries of this login")
	cmd.Flags().StringVar(&opts.Filter.Action, "action", "", "only this action (e.g. login.pat, access)")
	cmd.Flags().DurationVar(&since, "since", 0, "only entries newer than this (e.g. 24h)")
	cmd.Flags().IntVar(&opts.Filter.Limit, "limit", 100, "at most this many entries")
	return cmd
}

func auditRun(ctx context.Context, opts *AuditOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	entries, err := c.Audit(ctx, opts.Filter)
	if err != nil {
		return err
	}
	if opts.JSON {
		return cmdutil.PrintJSON(opts.IO.Out, entries)
	}
	rows := make([][]string, 0, len(entries))
	for _, e := range entries {
		rows = append(rows, []string{e.Time.Format(time.RFC3339), cmdutil.Dash(e.Actor), e.Level.String(), e.Action,
			cmdutil.Dash(e.Target), e.Result, cmdutil.Dash(e.Source), strconv.Quote(e.Detail)})
	}
	cmdutil.Table(opts.IO, []string{"TIME", "ACTOR", "LEVEL", "ACTION", "TARGET", "RESULT", "SOURCE", "DETAIL"}, rows)
	return nil
}

// AuditExportOptions are the options of `provisioner audit export`.
type AuditExportOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*client.Client, error)
	JSON   bool

	Since time.Time
}

// NewCmdAuditExport is `provisioner audit export`; runF nil is the real run.
func NewCmdAuditExport(f *cmdutil.Factory, runF func(*AuditExportOptions) error) *cobra.Command {
	opts := &AuditExportOptions{IO: f.IOStreams, Client: f.Client}
	var since time.Duration
	cmd := &cobra.Command{
		Use:   "export --since DURATION",
		Short: "Write the audit entries of a window, as JSON lines, to the log store (S3 on AWS)",
		Args:  cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if since <= 0 {
				return cmdutil.FlagErrorf("--since must be positive, e.g. 24h")
			}
			opts.Since, opts.JSON = f.Now().Add(-since), f.JSON
			if runF != nil {
				return runF(opts)
			}
			return auditExportRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().DurationVar(&since, "since", 24*time.Hour, "export entries newer than this")
	return cmd
}

func auditExportRun(ctx context.Context, opts *AuditExportOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	out, err := c.ExportAudit(ctx, opts.Since)
	if err != nil {
		return err
	}
	if opts.JSON {
		return cmdutil.PrintJSON(opts.IO.Out, out)
	}
	fmt.Fprintf(opts.IO.ErrOut, "Exported %d audit entries to %s\n", out.Entries, out.Key)
	return nil
}
