package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"provisioner"
	"provisioner/api"
	"provisioner/client"
)

// validCluster checks a CLUSTER argument before any request is made.
func validCluster(name string) error {
	if err := provisioner.ValidateClusterName(name); err != nil {
		return usageError{err}
	}
	return nil
}

// onCluster is the RunE of a command about one CLUSTER: the name is checked
// before any request, then run gets a client carrying the login.
func (g *globals) onCluster(run func(ctx context.Context, c *client.Client, cluster string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if err := validCluster(args[0]); err != nil {
			return err
		}
		c, err := g.authedClient()
		if err != nil {
			return err
		}
		return run(cmd.Context(), c, args[0])
	}
}

// ttlMinutes turns a --ttl duration into the API's whole minutes, rounding up.
func ttlMinutes(d time.Duration) (int, error) {
	if d < time.Minute {
		return 0, usagef("--ttl must be at least 1m, e.g. 2h")
	}
	return int((d + time.Minute - 1) / time.Minute), nil
}

func newDeployCmd(g *globals) *cobra.Command {
	var public, private, wait bool
	var req api.DeployRequest
	var ttl, timeout time.Duration
	cmd := &cobra.Command{
		Use:   "deploy CLUSTER",
		Short: "Deploy a cluster (DEPLOY); with --wait, until it runs",
		Long: `Deploy a cluster, or succeed at once if it already runs. Every cluster gets a
destroy schedule from its TTL, so it goes away even if nobody destroys it.

Private clusters need an org member, public ones an admin.`,
		Example: `  provisioner deploy my-cluster --nodes 4 --ttl 2h --version v4.5.1 --wait`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := validCluster(args[0]); err != nil {
				return err
			}
			if err := provisioner.ValidateClusterVersion(req.Version); err != nil {
				return usageError{err}
			}
			if req.NodeCapacity < 1 {
				return usagef("--nodes must be at least 1")
			}
			m, err := ttlMinutes(ttl)
			if err != nil {
				return err
			}
			req.Cluster, req.IsPublic, req.TTL = args[0], public, m
			c, err := g.authedClient()
			if err != nil {
				return err
			}
			res, err := c.Deploy(cmd.Context(), req)
			return g.finishLong(cmd.Context(), c, "deploy", args[0], res, err, wait, timeout)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&public, "public", false, "a public cluster (admins only)")
	f.BoolVar(&private, "private", false, "a private cluster (the default)")
	cmd.MarkFlagsMutuallyExclusive("public", "private")
	f.IntVar(&req.NodeCapacity, "nodes", 1, "number of nodes")
	f.DurationVar(&ttl, "ttl", time.Hour, "time to live; the cluster is destroyed after it")
	f.StringVar(&req.Version, "version", "latest", "SlideRule version: a git tag or branch, or latest")
	f.BoolVar(&wait, "wait", false, "wait until the cluster runs (exit 0 only then)")
	f.DurationVar(&timeout, "timeout", 15*time.Minute, "with --wait, give up waiting after this long")
	return cmd
}

func newDestroyCmd(g *globals) *cobra.Command {
	var wait bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "destroy CLUSTER",
		Short: "Destroy a cluster (DESTROY) and remove its schedules; with --wait, until it is gone",
		Args:  cobra.ExactArgs(1),
		RunE: g.onCluster(func(ctx context.Context, c *client.Client, cluster string) error {
			res, err := c.Destroy(ctx, cluster)
			return g.finishLong(ctx, c, "destroy", cluster, res, err, wait, timeout)
		}),
	}
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until the cluster is gone (exit 0 only then)")
	cmd.Flags().DurationVar(&timeout, "timeout", 15*time.Minute, "with --wait, give up waiting after this long")
	return cmd
}

// finishLong reports a DEPLOY or DESTROY: done, pending, or followed to
// its end with progress on a terminal and plain lines elsewhere.
func (g *globals) finishLong(ctx context.Context, c *client.Client, verb, cluster string, res client.LongResult, err error, wait bool, timeout time.Duration) error {
	if err != nil {
		return err
	}
	if res.Done {
		return g.printStatus(res.Status)
	}
	if !wait {
		if g.JSON {
			return printJSON(g.io.Out, res.Operation)
		}
		fmt.Fprintf(g.io.Err, "%s of %s started (operation %s); follow it with 'provisioner status %s'\n", verb, cluster, res.Operation.ID, cluster)
		return nil
	}
	op, err := g.waitOperation(ctx, c, res.Operation, timeout)
	if err != nil {
		return err
	}
	if op.State == provisioner.OpFailure {
		return &provisioner.Error{Code: op.ErrorCode, Message: op.Message}
	}
	st, err := c.Status(ctx, cluster)
	if err != nil {
		return err
	}
	return g.printStatus(st)
}

// waitOperation long-polls an operation until it ends or timeout passes.
func (g *globals) waitOperation(ctx context.Context, c *client.Client, op provisioner.Operation, timeout time.Duration) (provisioner.Operation, error) {
	p := newProgress(g.io.Err, fmt.Sprintf("%s %s", op.Kind, op.Cluster))
	defer p.done()
	deadline := time.Now().Add(timeout)
	for !op.Done() {
		if time.Now().After(deadline) {
			return op, provisioner.Errorf(provisioner.EUNAVAILABLE, "gave up waiting after %s; the %s goes on (operation %s)", timeout, op.Kind, op.ID)
		}
		r, err := c.Operation(ctx, op.ID, 20*time.Second)
		if err != nil {
			return op, err
		}
		op = r.Operation
		state := "pending"
		if st, err := c.Status(ctx, op.Cluster); err == nil {
			state = st.State
		}
		p.update(state)
	}
	p.update(string(op.State))
	return op, nil
}

// progress shows a spinner with state and elapsed time when stderr is a
// terminal, and one plain line per state change otherwise (CI logs).
type progress struct {
	w     io.Writer
	what  string
	start time.Time
	last  string
	bar   *progressbar.ProgressBar
}

func newProgress(w io.Writer, what string) *progress {
	p := &progress{w: w, what: what, start: time.Now()}
	if isTTY(w) && os.Getenv("TERM") != "dumb" {
		p.bar = progressbar.NewOptions(-1, progressbar.OptionSetWriter(w), progressbar.OptionSpinnerType(14),
			progressbar.OptionSetDescription(what), progressbar.OptionShowElapsedTimeOnFinish(),
			progressbar.OptionEnableColorCodes(os.Getenv("NO_COLOR") == ""))
	}
	return p
}

func (p *progress) update(state string) {
	elapsed := time.Since(p.start).Round(time.Second)
	if p.bar != nil {
		p.bar.Describe(fmt.Sprintf("%s: %s (%s)", p.what, state, elapsed))
		_ = p.bar.Add(1)
		return
	}
	if state != p.last {
		fmt.Fprintf(p.w, "%s: %s after %s\n", p.what, state, elapsed)
		p.last = state
	}
}

func (p *progress) done() {
	if p.bar != nil {
		_ = p.bar.Finish()
		fmt.Fprintln(p.w)
	}
}

func (g *globals) printStatus(st api.Status) error {
	if g.JSON {
		return printJSON(g.io.Out, st)
	}
	rows := [][]string{{"cluster", st.Cluster}, {"state", st.State}}
	add := func(k, v string) {
		if v != "" {
			rows = append(rows, []string{k, v})
		}
	}
	if st.State != string(provisioner.StateAbsent) {
		add("visibility", visibility(bool(st.IsPublic)))
		add("nodes", fmt.Sprint(st.NodeCapacity))
		add("version", st.Version)
		add("endpoint", st.Endpoint)
		add("created by", st.CreatedBy)
		add("created", timeOrEmpty(st.CreatedAt))
		add("expires", timeOrEmpty(st.ExpiresAt))
		add("destroy at", timeOrEmpty(st.DestroyAt))
		add("reason", st.Reason)
	}
	for _, r := range rows {
		fmt.Fprintf(g.io.Out, "%-11s %s\n", r[0]+":", r[1])
	}
	return nil
}

func timeOrEmpty(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func newStatusCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status CLUSTER",
		Short: "Show a cluster's state, endpoint and schedule (STATUS)",
		Args:  cobra.ExactArgs(1),
		RunE: g.onCluster(func(ctx context.Context, c *client.Client, cluster string) error {
			st, err := c.Status(ctx, cluster)
			if err != nil {
				return err
			}
			return g.printStatus(st)
		}),
	}
}

func newExtendCmd(g *globals) *cobra.Command {
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "extend CLUSTER --ttl DURATION",
		Short: "Keep a cluster for DURATION from now, replacing its destroy schedule",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := ttlMinutes(ttl)
			if err != nil {
				return err
			}
			return g.onCluster(func(ctx context.Context, c *client.Client, cluster string) error {
				st, err := c.Extend(ctx, cluster, m)
				if err != nil {
					return err
				}
				return g.printStatus(st)
			})(cmd, args)
		},
	}
	cmd.Flags().DurationVar(&ttl, "ttl", 0, "time to keep the cluster from now, e.g. 2h")
	_ = cmd.MarkFlagRequired("ttl")
	return cmd
}

func newScheduleDestroyCmd(g *globals) *cobra.Command {
	var at string
	var in time.Duration
	cmd := &cobra.Command{
		Use:     "schedule-destroy CLUSTER (--at RFC3339 | --in DURATION)",
		Short:   "Replace a cluster's destroy schedule (SCHEDULE_DESTROY)",
		Example: "  provisioner schedule-destroy my-cluster --in 30m\n  provisioner schedule-destroy my-cluster --at 2026-12-01T18:00:00Z",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var t time.Time
			if at != "" {
				var err error
				if t, err = time.Parse(time.RFC3339, at); err != nil {
					return usagef("--at must be an RFC 3339 time such as 2026-12-01T18:00:00Z")
				}
			} else {
				if in <= 0 {
					return usagef("--in must be positive, e.g. 30m")
				}
				t = time.Now().Add(in)
			}
			return g.onCluster(func(ctx context.Context, c *client.Client, cluster string) error {
				st, err := c.ScheduleDestroy(ctx, cluster, t)
				if err != nil {
					return err
				}
				return g.printStatus(st)
			})(cmd, args)
		},
	}
	cmd.Flags().StringVar(&at, "at", "", "destroy at this time (RFC 3339)")
	cmd.Flags().DurationVar(&in, "in", 0, "destroy this long from now")
	cmd.MarkFlagsMutuallyExclusive("at", "in")
	cmd.MarkFlagsOneRequired("at", "in")
	return cmd
}

func newEventsCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "events CLUSTER",
		Short: "Show a cluster's recent events, oldest first",
		Args:  cobra.ExactArgs(1),
		RunE: g.onCluster(func(ctx context.Context, c *client.Client, cluster string) error {
			evs, err := c.Events(ctx, cluster)
			if err != nil {
				return err
			}
			if g.JSON {
				return printJSON(g.io.Out, evs)
			}
			rows := make([][]string, 0, len(evs))
			for _, e := range evs {
				rows = append(rows, []string{e.Time.UTC().Format(time.RFC3339), e.Type, dash(e.Actor), strings.ReplaceAll(e.Message, "\n", " ")})
			}
			table(g.io.Out, []string{"TIME", "EVENT", "ACTOR", "MESSAGE"}, rows)
			return nil
		}),
	}
}
