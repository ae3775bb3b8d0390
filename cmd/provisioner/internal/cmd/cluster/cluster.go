// Package cluster holds the commands about clusters: deploy, destroy,
// extend, schedule-destroy, status, events, access, list and cluster
// register/unregister.
package cluster

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"provisioner"
	"provisioner/api"
	"provisioner/client"
	"provisioner/cmd/provisioner/internal/cmd/cost"
	"provisioner/cmd/provisioner/internal/cmdutil"
)

// StatusOptions are the options of `provisioner status`.
type StatusOptions struct {
	cmdutil.ClusterOptions
}

// NewCmdStatus is `provisioner status CLUSTER`; runF nil is the real run.
func NewCmdStatus(f *cmdutil.Factory, runF func(*StatusOptions) error) *cobra.Command {
	return cmdutil.ClusterCmd(f, &cobra.Command{
		Use:   "status CLUSTER",
		Short: "Show a cluster's state, endpoint and schedule (STATUS)",
	}, &StatusOptions{}, runF, statusRun)
}

func statusRun(ctx context.Context, opts *StatusOptions) error {
	return cmdutil.Show(&opts.APIOptions, func(c *client.Client) (api.Status, error) { return c.Status(ctx, opts.Cluster) },
		statusText(&opts.APIOptions))
}

// EventsOptions are the options of `provisioner events`.
type EventsOptions struct {
	cmdutil.ClusterOptions
}

// NewCmdEvents is `provisioner events CLUSTER`; runF nil is the real run.
func NewCmdEvents(f *cmdutil.Factory, runF func(*EventsOptions) error) *cobra.Command {
	return cmdutil.ClusterCmd(f, &cobra.Command{
		Use:   "events CLUSTER",
		Short: "Show a cluster's recent events, oldest first",
	}, &EventsOptions{}, runF, eventsRun)
}

func eventsRun(ctx context.Context, opts *EventsOptions) error {
	return cmdutil.Show(&opts.APIOptions, func(c *client.Client) ([]provisioner.Event, error) { return c.Events(ctx, opts.Cluster) },
		cmdutil.TableOf(opts.IO, []string{"TIME", "EVENT", "ACTOR", "MESSAGE"}, func(e provisioner.Event) []string {
			return []string{e.Time.UTC().Format(time.RFC3339), e.Type, cmdutil.Dash(e.Actor), strings.ReplaceAll(e.Message, "\n", " ")}
		}))
}

// AccessOptions are the options of `provisioner access`.
type AccessOptions struct {
	cmdutil.ClusterOptions
}

// NewCmdAccess is `provisioner access CLUSTER`; runF nil is the real run.
func NewCmdAccess(f *cmdutil.Factory, runF func(*AccessOptions) error) *cobra.Command {
	return cmdutil.ClusterCmd(f, &cobra.Command{
		Use:   "access CLUSTER",
		Short: "Get a cluster token (jwt_cluster) and print it",
		Long: `Print a token for one cluster, bare, so it can be used directly:

  curl -H "Authorization: Bearer $(provisioner access my-cluster)" https://my-cluster.example/source/version`,
	}, &AccessOptions{}, runF, accessRun)
}

func accessRun(ctx context.Context, opts *AccessOptions) error {
	return cmdutil.Show(&opts.APIOptions, func(c *client.Client) (api.Access, error) { return c.Access(ctx, opts.Cluster) },
		func(a api.Access) error {
			fmt.Fprintln(opts.IO.Out, a.Token)
			return nil
		})
}

// ListOptions are the options of `provisioner list`.
type ListOptions struct {
	cmdutil.APIOptions
}

// NewCmdList is `provisioner list`; runF nil is the real run.
func NewCmdList(f *cmdutil.Factory, runF func(*ListOptions) error) *cobra.Command {
	return cmdutil.NoArgsCmd(f, &cobra.Command{
		Use:   "list",
		Short: "List the clusters you may reach",
	}, &ListOptions{}, runF, listRun)
}

func listRun(ctx context.Context, opts *ListOptions) error {
	return cmdutil.Show(&opts.APIOptions, func(c *client.Client) ([]api.Status, error) { return c.ListClusters(ctx) },
		cmdutil.TableOf(opts.IO, []string{"CLUSTER", "STATE", "VISIBILITY", "NODES", "VERSION", "CREATED BY", "DESTROY AT", "ENDPOINT"},
			func(cl api.Status) []string {
				return []string{cl.Cluster, cl.State, visibility(bool(cl.IsPublic)), fmt.Sprint(cl.NodeCapacity),
					cmdutil.Dash(cl.Version), cmdutil.Dash(cl.CreatedBy), cmdutil.Dash(timeOrEmpty(cl.DestroyAt)), cmdutil.Dash(cl.Endpoint)}
			}))
}

// DeployOptions are the options of `provisioner deploy`.
type DeployOptions struct {
	cmdutil.APIOptions
	Now func() time.Time

	Request api.DeployRequest // TTL in whole minutes
	Wait    bool
	Timeout time.Duration
	// DryRun asks for the estimate only (Request.DryRun is set by the client).
	DryRun bool
}

// NewCmdDeploy is `provisioner deploy CLUSTER`; runF nil is the real run.
func NewCmdDeploy(f *cmdutil.Factory, runF func(*DeployOptions) error) *cobra.Command {
	opts := cmdutil.UseAPI(f, &DeployOptions{Now: f.Now})
	var private bool
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "deploy CLUSTER",
		Short: "Deploy a cluster (DEPLOY); with --wait, until it runs",
		Long: `Deploy a cluster, or succeed at once if it already runs. Every cluster gets a
destroy schedule from its TTL, so it goes away even if nobody destroys it.

Private clusters need an org member, public ones an admin.

The provisioner answers with the cluster's estimated cost, printed (on the
standard error) before any waiting; --dry-run checks the request, prints the
estimate part by part and deploys nothing.`,
		Example: `  provisioner deploy my-cluster --nodes 4 --ttl 2h --version v4.5.1 --wait
  provisioner deploy my-cluster --nodes 4 --ttl 2h --dry-run`,
		Args: cmdutil.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cmdutil.ValidCluster(args[0]); err != nil {
				return err
			}
			if err := provisioner.ValidateClusterVersion(opts.Request.Version); err != nil {
				return cmdutil.FlagErrorWrap(err)
			}
			if opts.Request.NodeCapacity < 1 {
				return cmdutil.FlagErrorf("--nodes must be at least 1")
			}
			m, err := ttlMinutes(ttl)
			if err != nil {
				return err
			}
			opts.Request.Cluster, opts.Request.TTL, opts.JSON = args[0], m, f.JSON
			return cmdutil.Run(cmd.Context(), opts, runF, deployRun)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&opts.Request.IsPublic, "public", false, "a public cluster (admins only)")
	fl.BoolVar(&private, "private", false, "a private cluster (the default)")
	cmd.MarkFlagsMutuallyExclusive("public", "private")
	fl.IntVar(&opts.Request.NodeCapacity, "nodes", 1, "number of nodes")
	fl.DurationVar(&ttl, "ttl", time.Hour, "time to live; the cluster is destroyed after it")
	fl.StringVar(&opts.Request.Version, "version", "latest", "SlideRule version: a git tag or branch, or latest")
	fl.BoolVar(&opts.Wait, "wait", false, "wait until the cluster runs (exit 0 only then)")
	fl.DurationVar(&opts.Timeout, "timeout", 15*time.Minute, "with --wait, give up waiting after this long")
	fl.BoolVar(&opts.DryRun, "dry-run", false, "check the request and print its estimated cost; deploy nothing")
	cmd.MarkFlagsMutuallyExclusive("dry-run", "wait")
	return cmd
}

// ttlMinutes turns a --ttl duration into the API's whole minutes, rounding up.
func ttlMinutes(d time.Duration) (int, error) {
	if d < time.Minute {
		return 0, cmdutil.FlagErrorf("--ttl must be at least 1m, e.g. 2h")
	}
	return int((d + time.Minute - 1) / time.Minute), nil
}

func deployRun(ctx context.Context, opts *DeployOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	if opts.DryRun {
		p, err := c.PlanDeploy(ctx, opts.Request)
		if err != nil {
			return err
		}
		return opts.Print(p, func() error { cost.PrintPlan(opts.IO, p); return nil })
	}
	res, err := c.Deploy(ctx, opts.Request)
	if err == nil && !opts.JSON {
		cost.PrintEstimate(opts.IO.ErrOut, opts.Request.Cluster, res.Estimate)
		cost.PrintBudgetNote(opts.IO.ErrOut, res.Budget)
	}
	return follower{&opts.APIOptions, opts.Now, c}.finish(ctx, "deploy", opts.Request.Cluster, res, err, opts.Wait, opts.Timeout)
}

// DestroyOptions are the options of `provisioner destroy`.
type DestroyOptions struct {
	cmdutil.ClusterOptions
	Now func() time.Time

	Wait    bool
	Timeout time.Duration
}

// NewCmdDestroy is `provisioner destroy CLUSTER`; runF nil is the real run.
func NewCmdDestroy(f *cmdutil.Factory, runF func(*DestroyOptions) error) *cobra.Command {
	opts := &DestroyOptions{Now: f.Now}
	cmd := cmdutil.ClusterCmd(f, &cobra.Command{
		Use:   "destroy CLUSTER",
		Short: "Destroy a cluster (DESTROY) and remove its schedules; with --wait, until it is gone",
	}, opts, runF, destroyRun)
	cmd.Flags().BoolVar(&opts.Wait, "wait", false, "wait until the cluster is gone (exit 0 only then)")
	cmd.Flags().DurationVar(&opts.Timeout, "timeout", 15*time.Minute, "with --wait, give up waiting after this long")
	return cmd
}

func destroyRun(ctx context.Context, opts *DestroyOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	res, err := c.Destroy(ctx, opts.Cluster)
	return follower{&opts.APIOptions, opts.Now, c}.finish(ctx, "destroy", opts.Cluster, res, err, opts.Wait, opts.Timeout)
}

// ExtendOptions are the options of `provisioner extend`.
type ExtendOptions struct {
	cmdutil.ClusterOptions

	TTLMinutes int
}

// NewCmdExtend is `provisioner extend CLUSTER --ttl DURATION`; runF nil is the real run.
func NewCmdExtend(f *cmdutil.Factory, runF func(*ExtendOptions) error) *cobra.Command {
	opts := &ExtendOptions{}
	var ttl time.Duration
	cmd := cmdutil.ClusterCmd(f, &cobra.Command{
		Use:   "extend CLUSTER --ttl DURATION",
		Short: "Keep a cluster for DURATION from now, replacing its destroy schedule",
		PreRunE: func(*cobra.Command, []string) (err error) {
			opts.TTLMinutes, err = ttlMinutes(ttl)
			return err
		},
	}, opts, runF, extendRun)
	cmd.Flags().DurationVar(&ttl, "ttl", 0, "time to keep the cluster from now, e.g. 2h")
	_ = cmd.MarkFlagRequired("ttl")
	return cmd
}

func extendRun(ctx context.Context, opts *ExtendOptions) error {
	return cmdutil.Show(&opts.APIOptions, func(c *client.Client) (api.Status, error) { return c.Extend(ctx, opts.Cluster, opts.TTLMinutes) },
		statusText(&opts.APIOptions))
}

// ScheduleDestroyOptions are the options of `provisioner schedule-destroy`.
type ScheduleDestroyOptions struct {
	cmdutil.ClusterOptions

	At time.Time // --at, or now plus --in
}

// NewCmdScheduleDestroy is `provisioner schedule-destroy CLUSTER`; runF nil is the real run.
func NewCmdScheduleDestroy(f *cmdutil.Factory, runF func(*ScheduleDestroyOptions) error) *cobra.Command {
	opts := &ScheduleDestroyOptions{}
	var at string
	var in time.Duration
	cmd := cmdutil.ClusterCmd(f, &cobra.Command{
		Use:     "schedule-destroy CLUSTER (--at RFC3339 | --in DURATION)",
		Short:   "Replace a cluster's destroy schedule (SCHEDULE_DESTROY)",
		Example: "  provisioner schedule-destroy my-cluster --in 30m\n  provisioner schedule-destroy my-cluster --at 2026-12-01T18:00:00Z",
		PreRunE: func(*cobra.Command, []string) error {
			if at != "" {
				t, err := time.Parse(time.RFC3339, at)
				if err != nil {
					return cmdutil.FlagErrorf("--at must be an RFC 3339 time such as 2026-12-01T18:00:00Z")
				}
				opts.At = t
				return nil
			}
			if in <= 0 {
				return cmdutil.FlagErrorf("--in must be positive, e.g. 30m")
			}
			opts.At = f.Now().Add(in)
			return nil
		},
	}, opts, runF, scheduleDestroyRun)
	cmd.Flags().StringVar(&at, "at", "", "destroy at this time (RFC 3339)")
	cmd.Flags().DurationVar(&in, "in", 0, "destroy this long from now")
	cmd.MarkFlagsMutuallyExclusive("at", "in")
	cmd.MarkFlagsOneRequired("at", "in")
	return cmd
}

func scheduleDestroyRun(ctx context.Context, opts *ScheduleDestroyOptions) error {
	return cmdutil.Show(&opts.APIOptions, func(c *client.Client) (api.Status, error) { return c.ScheduleDestroy(ctx, opts.Cluster, opts.At) },
		statusText(&opts.APIOptions))
}

// follower reports a DEPLOY or DESTROY and, asked to, follows it to its end.
type follower struct {
	o   *cmdutil.APIOptions
	now func() time.Time
	c   *client.Client
}

// finish reports a DEPLOY or DESTROY: done, pending, or followed to its end
// with progress on a terminal and plain lines elsewhere.
func (fl follower) finish(ctx context.Context, verb, cluster string, res client.LongResult, err error, wait bool, timeout time.Duration) error {
	if err != nil {
		return err
	}
	if res.Done {
		return printStatus(fl.o, res.Status)
	}
	if !wait {
		return fl.o.Print(res.Operation, func() error {
			fmt.Fprintf(fl.o.IO.ErrOut, "%s of %s started (operation %s); follow it with 'provisioner status %s'\n", verb, cluster, res.Operation.ID, cluster)
			return nil
		})
	}
	op, err := fl.wait(ctx, res.Operation, timeout)
	if err != nil {
		return err
	}
	if op.State == provisioner.OpFailure {
		return &provisioner.Error{Code: op.ErrorCode, Message: op.Message}
	}
	st, err := fl.c.Status(ctx, cluster)
	if err != nil {
		return err
	}
	return printStatus(fl.o, st)
}

// wait long-polls an operation until it ends or timeout passes.
func (fl follower) wait(ctx context.Context, op provisioner.Operation, timeout time.Duration) (provisioner.Operation, error) {
	p := cmdutil.NewProgress(fl.o.IO, fl.now, fmt.Sprintf("%s %s", op.Kind, op.Cluster))
	defer p.Done()
	deadline := fl.now().Add(timeout)
	for !op.Done() {
		if fl.now().After(deadline) {
			return op, provisioner.Errorf(provisioner.EUNAVAILABLE, "gave up waiting after %s; the %s goes on (operation %s)", timeout, op.Kind, op.ID)
		}
		r, err := fl.c.Operation(ctx, op.ID, 20*time.Second)
		if err != nil {
			return op, err
		}
		op = r.Operation
		state := "pending"
		if st, err := fl.c.Status(ctx, op.Cluster); err == nil {
			state = st.State
		}
		p.Update(state)
	}
	p.Update(string(op.State))
	return op, nil
}

// statusText returns the text printer of a cluster's status: "key: value"
// lines, the keys padded so the values line up, terminal or not.
func statusText(o *cmdutil.APIOptions) func(api.Status) error {
	return func(st api.Status) error {
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
			add("next notice", timeOrEmpty(st.NextNotice))
			add("reason", st.Reason)
		}
		width := len("created by:")
		for _, r := range rows {
			width = max(width, len(r[0])+1)
		}
		for _, r := range rows {
			fmt.Fprintf(o.IO.Out, "%-*s %s\n", width, r[0]+":", r[1])
		}
		cost.PrintBudgetNote(o.IO.ErrOut, st.Budget) // EXTEND's, SCHEDULE_DESTROY's
		return nil
	}
}

// printStatus prints a cluster's status: as JSON with --json, else as
// statusText does.
func printStatus(o *cmdutil.APIOptions, st api.Status) error {
	return o.Print(st, func() error { return statusText(o)(st) })
}

func visibility(public bool) string {
	if public {
		return "public"
	}
	return "private"
}

func timeOrEmpty(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
