package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"provisioner"
	"provisioner/client"
)

func newAccessCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "access CLUSTER",
		Short: "Get a cluster token (jwt_cluster) and print it",
		Long: `Print a token for one cluster, bare, so it can be used directly:

  curl -H "Authorization: Bearer $(provisioner access my-cluster)" https://my-cluster.example/source/version`,
		Args: cobra.ExactArgs(1),
		RunE: g.onCluster(func(ctx context.Context, c *client.Client, cluster string) error {
			a, err := c.Access(ctx, cluster)
			if err != nil {
				return err
			}
			if g.JSON {
				return printJSON(g.io.Out, a)
			}
			fmt.Fprintln(g.io.Out, a.Token)
			return nil
		}),
	}
}

func newListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the clusters you may reach",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.authedClient()
			if err != nil {
				return err
			}
			list, err := c.ListClusters(cmd.Context())
			if err != nil {
				return err
			}
			if g.JSON {
				return printJSON(g.io.Out, list)
			}
			rows := make([][]string, 0, len(list))
			for _, cl := range list {
				rows = append(rows, []string{cl.Cluster, cl.State, visibility(bool(cl.IsPublic)), fmt.Sprint(cl.NodeCapacity),
					dash(cl.Version), dash(cl.CreatedBy), dash(timeOrEmpty(cl.DestroyAt)), dash(cl.Endpoint)})
			}
			table(g.io.Out, []string{"CLUSTER", "STATE", "VISIBILITY", "NODES", "VERSION", "CREATED BY", "DESTROY AT", "ENDPOINT"}, rows)
			return nil
		},
	}
}

func visibility(public bool) string {
	if public {
		return "public"
	}
	return "private"
}

func newClusterCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "cluster", Short: "Manage the clusters the provisioner knows (admin)"}
	var public, private bool
	reg := &cobra.Command{
		Use:   "register NAME (--public | --private)",
		Short: "Register an existing cluster so ACCESS can issue tokens for it",
		Args:  cobra.ExactArgs(1),
		RunE: g.onCluster(func(ctx context.Context, c *client.Client, cluster string) error {
			cl, err := c.RegisterCluster(ctx, cluster, public)
			if err != nil {
				return err
			}
			if g.JSON {
				return printJSON(g.io.Out, cl)
			}
			fmt.Fprintf(g.io.Err, "Registered %s cluster %s\n", visibility(bool(cl.IsPublic)), cl.Cluster)
			return nil
		}),
	}
	reg.Flags().BoolVar(&public, "public", false, "anyone logged in may get a token")
	reg.Flags().BoolVar(&private, "private", false, "only organization members may get a token")
	reg.MarkFlagsMutuallyExclusive("public", "private")
	reg.MarkFlagsOneRequired("public", "private")

	unreg := &cobra.Command{
		Use:   "unregister NAME",
		Short: "Forget a registered cluster",
		Args:  cobra.ExactArgs(1),
		RunE: g.onCluster(func(ctx context.Context, c *client.Client, cluster string) error {
			return c.UnregisterCluster(ctx, cluster)
		}),
	}
	cmd.AddCommand(reg, unreg)
	return cmd
}

func newAuditCmd(g *globals) *cobra.Command {
	var f provisioner.AuditFilter
	var since time.Duration
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Show the audit log of logins and access attempts (admin)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if since < 0 {
				return usagef("--since must be positive, e.g. 24h")
			}
			if since > 0 {
				f.Since = time.Now().Add(-since)
			}
			c, err := g.authedClient()
			if err != nil {
				return err
			}
			entries, err := c.Audit(cmd.Context(), f)
			if err != nil {
				return err
			}
			if g.JSON {
				return printJSON(g.io.Out, entries)
			}
			rows := make([][]string, 0, len(entries))
			for _, e := range entries {
				actor := e.Actor
				if actor == "" {
					actor = "-"
				}
				rows = append(rows, []string{e.Time.Format(time.RFC3339), actor, e.Level.String(), e.Action,
					dash(e.Target), e.Result, dash(e.Source), strconv.Quote(e.Detail)})
			}
			table(g.io.Out, []string{"TIME", "ACTOR", "LEVEL", "ACTION", "TARGET", "RESULT", "SOURCE", "DETAIL"}, rows)
			return nil
		},
	}
	var exportSince time.Duration
	export := &cobra.Command{
		Use:   "export --since DURATION",
		Short: "Write the audit entries of a window, as JSON lines, to the log store (S3 on AWS)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if exportSince <= 0 {
				return usagef("--since must be positive, e.g. 24h")
			}
			c, err := g.authedClient()
			if err != nil {
				return err
			}
			out, err := c.ExportAudit(cmd.Context(), time.Now().Add(-exportSince))
			if err != nil {
				return err
			}
			if g.JSON {
				return printJSON(g.io.Out, out)
			}
			fmt.Fprintf(g.io.Err, "Exported %d audit entries to %s\n", out.Entries, out.Key)
			return nil
		},
	}
	export.Flags().DurationVar(&exportSince, "since", 24*time.Hour, "export entries newer than this")
	cmd.AddCommand(export)
	cmd.Flags().StringVar(&f.Actor, "actor", "", "only entries of this login")
	cmd.Flags().StringVar(&f.Action, "action", "", "only this action (e.g. login.pat, access)")
	cmd.Flags().DurationVar(&since, "since", 0, "only entries newer than this (e.g. 24h)")
	cmd.Flags().IntVar(&f.Limit, "limit", 100, "at most this many entries")
	return cmd
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
