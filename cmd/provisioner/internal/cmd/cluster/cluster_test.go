package cluster

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"provisioner"
	"provisioner/api"
	"provisioner/cmd/provisioner/internal/cmdtest"
	"provisioner/cmd/provisioner/internal/cmdutil"
)

// usage reports whether err is a usage error (exit 2) containing want.
func usage(t *testing.T, err error, want string) {
	t.Helper()
	var fe *cmdutil.FlagError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v, want a usage error with %q", err, want)
	}
}

func TestNewCmdDeploy(t *testing.T) {
	for _, tt := range []struct {
		args    string
		want    DeployOptions
		wantErr string
	}{
		{args: "deploy demo", want: DeployOptions{Request: api.DeployRequest{Cluster: "demo", NodeCapacity: 1, TTL: 60, Version: "latest"},
			Timeout: 15 * time.Minute}},
		{args: "deploy demo --nodes 4 --ttl 90s --version v4.5.1 --public --wait --timeout 1m --json",
			want: DeployOptions{Request: api.DeployRequest{Cluster: "demo", IsPublic: true, NodeCapacity: 4, TTL: 2, Version: "v4.5.1"},
				Wait: true, Timeout: time.Minute, APIOptions: cmdutil.APIOptions{JSON: true}}},
		{args: "deploy demo --private", want: DeployOptions{Request: api.DeployRequest{Cluster: "demo", NodeCapacity: 1, TTL: 60, Version: "latest"},
			Timeout: 15 * time.Minute}},
		{args: "deploy", wantErr: "accepts 1 arg(s), received 0"},
		{args: "deploy a b", wantErr: "accepts 1 arg(s), received 2"},
		{args: "deploy Demo;ls", wantErr: "invalid cluster name"},
		{args: "deploy demo --nodes 0", wantErr: "--nodes must be at least 1"},
		{args: "deploy demo --nodes x", wantErr: `invalid argument "x" for "--nodes"`},
		{args: "deploy demo --ttl 10s", wantErr: "--ttl must be at least 1m"},
		{args: "deploy demo --version v1;rm", wantErr: "version"},
		{args: "deploy demo --public --private", wantErr: "none of the others can be"},
		{args: "deploy demo --bogus", wantErr: "unknown flag: --bogus"},
		{args: "deploy demo --dry-run --nodes 3", want: DeployOptions{Request: api.DeployRequest{Cluster: "demo", NodeCapacity: 3, TTL: 60, Version: "latest"},
			Timeout: 15 * time.Minute, DryRun: true}},
		{args: "deploy demo --dry-run --wait", wantErr: "none of the others can be"},
	} {
		t.Run(tt.args, func(t *testing.T) {
			f, _, _ := cmdtest.Factory(t)
			var got *DeployOptions
			err := cmdtest.Run(f, NewCmdDeploy(f, func(o *DeployOptions) error { got = o; return nil }), tt.args)
			if tt.wantErr != "" {
				usage(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Request != tt.want.Request || got.Wait != tt.want.Wait || got.Timeout != tt.want.Timeout || got.JSON != tt.want.JSON || got.DryRun != tt.want.DryRun {
				t.Errorf("got %+v\nwant %+v", *got, tt.want)
			}
		})
	}
}

// TestNewCmdClusterArgs: the commands on one CLUSTER and their flags.
func TestNewCmdClusterArgs(t *testing.T) {
	type got struct {
		cluster string
		json    bool
		extra   string
	}
	cases := []struct {
		args    string
		want    got
		wantErr string
	}{
		{args: "access demo", want: got{cluster: "demo"}},
		{args: "access demo --json", want: got{cluster: "demo", json: true}},
		{args: "access", wantErr: "accepts 1 arg(s), received 0"},
		{args: "access Bad;Name", wantErr: "invalid cluster name"},
		{args: "status demo", want: got{cluster: "demo"}},
		{args: "status a b", wantErr: "accepts 1 arg(s), received 2"},
		{args: "events demo --json", want: got{cluster: "demo", json: true}},
		{args: "destroy demo", want: got{cluster: "demo", extra: "wait=false timeout=15m0s"}},
		{args: "destroy demo --wait --timeout 2m", want: got{cluster: "demo", extra: "wait=true timeout=2m0s"}},
		{args: "extend demo --ttl 2h", want: got{cluster: "demo", extra: "ttl=120"}},
		{args: "extend demo --ttl 61s", want: got{cluster: "demo", extra: "ttl=2"}},
		{args: "extend demo", wantErr: `required flag(s) "ttl" not set`},
		{args: "extend demo --ttl 10s", wantErr: "--ttl must be at least 1m"},
		{args: "schedule-destroy demo --in 30m", want: got{cluster: "demo", extra: "at=2026-08-01T12:30:00Z"}},
		{args: "schedule-destroy demo --at 2026-12-01T18:00:00Z", want: got{cluster: "demo", extra: "at=2026-12-01T18:00:00Z"}},
		{args: "schedule-destroy demo", wantErr: "at least one of the flags in the group [at in] is required"},
		{args: "schedule-destroy demo --at x", wantErr: "--at must be an RFC 3339 time"},
		{args: "schedule-destroy demo --in -1m", wantErr: "--in must be positive"},
		{args: "schedule-destroy demo --at 2026-12-01T18:00:00Z --in 1m", wantErr: "none of the others can be"},
		{args: "list", want: got{}},
		{args: "list x", wantErr: `unknown command "x" for "provisioner list"`},
	}
	for _, tt := range cases {
		t.Run(tt.args, func(t *testing.T) {
			f, _, _ := cmdtest.Factory(t)
			var g got
			var err error
			switch name, _, _ := strings.Cut(tt.args, " "); name {
			case "access":
				err = cmdtest.Run(f, NewCmdAccess(f, func(o *AccessOptions) error { g = got{o.Cluster, o.JSON, ""}; return nil }), tt.args)
			case "status":
				err = cmdtest.Run(f, NewCmdStatus(f, func(o *StatusOptions) error { g = got{o.Cluster, o.JSON, ""}; return nil }), tt.args)
			case "events":
				err = cmdtest.Run(f, NewCmdEvents(f, func(o *EventsOptions) error { g = got{o.Cluster, o.JSON, ""}; return nil }), tt.args)
			case "destroy":
				err = cmdtest.Run(f, NewCmdDestroy(f, func(o *DestroyOptions) error {
					g = got{o.Cluster, o.JSON, fmt.Sprintf("wait=%v timeout=%s", o.Wait, o.Timeout)}
					return nil
				}), tt.args)
			case "extend":
				err = cmdtest.Run(f, NewCmdExtend(f, func(o *ExtendOptions) error {
					g = got{o.Cluster, o.JSON, fmt.Sprintf("ttl=%d", o.TTLMinutes)}
					return nil
				}), tt.args)
			case "schedule-destroy":
				err = cmdtest.Run(f, NewCmdScheduleDestroy(f, func(o *ScheduleDestroyOptions) error {
					g = got{o.Cluster, o.JSON, "at=" + o.At.UTC().Format(time.RFC3339)}
					return nil
				}), tt.args)
			case "list":
				err = cmdtest.Run(f, NewCmdList(f, func(o *ListOptions) error { g = got{json: o.JSON}; return nil }), tt.args)
			}
			if tt.wantErr != "" {
				usage(t, err, tt.wantErr)
				return
			}
			if err != nil || g != tt.want {
				t.Errorf("got %+v %v, want %+v", g, err, tt.want)
			}
		})
	}
}

func TestNewCmdRegister(t *testing.T) {
	for _, tt := range []struct {
		args       string
		wantPublic bool
		wantErr    string
	}{
		{args: "cluster register demo --public", wantPublic: true},
		{args: "cluster register demo --private"},
		{args: "cluster register demo", wantErr: "at least one of the flags in the group [public private] is required"},
		{args: "cluster register demo --public --private", wantErr: "none of the others can be"},
		{args: "cluster register Demo;ls --public", wantErr: "invalid cluster name"},
		{args: "cluster bogus", wantErr: `unknown command "bogus" for "provisioner cluster"`},
	} {
		t.Run(tt.args, func(t *testing.T) {
			f, _, _ := cmdtest.Factory(t)
			var got *RegisterOptions
			group := NewCmdCluster(f)
			for _, c := range group.Commands() {
				if c.Name() == "register" {
					group.RemoveCommand(c)
				}
			}
			group.AddCommand(NewCmdRegister(f, func(o *RegisterOptions) error { got = o; return nil }))
			err := cmdtest.Run(f, group, tt.args)
			if tt.wantErr != "" {
				usage(t, err, tt.wantErr)
				return
			}
			if err != nil || got.Cluster != "demo" || got.Public != tt.wantPublic {
				t.Errorf("got %+v %v", got, err)
			}
		})
	}
}

// running is a cluster as STATUS reports it.
var running = api.Status{Status: "success", Cluster: "demo", State: "running", NodeCapacity: 2, Version: "v4.5.1",
	Endpoint: "http://127.0.0.1:9000", CreatedBy: "ada",
	DeploymentStatus: api.DeploymentStatus{CreatedAt: cmdtest.Now, ExpiresAt: cmdtest.Now.Add(time.Hour), DestroyAt: cmdtest.Now.Add(time.Hour)}}

// TestListOutput: aligned columns under a header on a terminal, bare
// tab-separated rows for scripts.
func TestListOutput(t *testing.T) {
	public := running
	public.Cluster, public.IsPublic, public.Version, public.Endpoint = "open", true, "", ""
	for _, tty := range []bool{false, true} {
		f, out, _ := cmdtest.Factory(t)
		f.IOStreams.SetStdoutTTY(tty)
		cmdtest.API(t, f, map[string][]cmdtest.Answer{"GET /clusters": cmdtest.OK(map[string]any{"clusters": []api.Status{running, public}})})
		if err := cmdtest.Run(f, NewCmdList(f, nil), "list"); err != nil {
			t.Fatal(err)
		}
		want := "demo\trunning\tprivate\t2\tv4.5.1\tada\t2026-08-01T13:00:00Z\thttp://127.0.0.1:9000\n" +
			"open\trunning\tpublic\t2\t-\tada\t2026-08-01T13:00:00Z\t-\n"
		if tty {
			want = "CLUSTER  STATE    VISIBILITY  NODES  VERSION  CREATED BY  DESTROY AT            ENDPOINT\n" +
				"demo     running  private     2      v4.5.1   ada         2026-08-01T13:00:00Z  http://127.0.0.1:9000\n" +
				"open     running  public      2      -        ada         2026-08-01T13:00:00Z  -\n"
		}
		if out.String() != want {
			t.Errorf("tty=%v:\n%s\nwant:\n%s", tty, out.String(), want)
		}
	}
}

func TestStatusOutput(t *testing.T) {
	f, out, _ := cmdtest.Factory(t)
	cmdtest.API(t, f, map[string][]cmdtest.Answer{"POST /status": cmdtest.OK(running)})
	if err := cmdtest.Run(f, NewCmdStatus(f, nil), "status demo"); err != nil {
		t.Fatal(err)
	}
	const want = `cluster:    demo
state:      running
visibility: private
nodes:      2
version:    v4.5.1
endpoint:   http://127.0.0.1:9000
created by: ada
created:    2026-08-01T12:00:00Z
expires:    2026-08-01T13:00:00Z
destroy at: 2026-08-01T13:00:00Z
`
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}

	f, out, _ = cmdtest.Factory(t)
	cmdtest.API(t, f, map[string][]cmdtest.Answer{"POST /status": cmdtest.OK(api.Status{Cluster: "gone", State: "absent"})})
	if err := cmdtest.Run(f, NewCmdStatus(f, nil), "status gone"); err != nil {
		t.Fatal(err)
	}
	if out.String() != "cluster:    gone\nstate:      absent\n" {
		t.Errorf("absent: %q", out.String())
	}
}

// deployAnswers: DEPLOY pending, then one poll pending (deploying), one done.
func deployAnswers() map[string][]cmdtest.Answer {
	op := provisioner.Operation{ID: "op-1", Kind: "deploy", Cluster: "demo", State: provisioner.OpPending}
	done := op
	done.State = provisioner.OpSuccess
	deploying := running
	deploying.State = "deploying"
	return map[string][]cmdtest.Answer{
		"POST /deploy": {{Status: http.StatusAccepted, Body: api.PendingOp{Status: "pending", Operation: op}}},
		"GET /operations/op-1": {
			{Status: http.StatusOK, Body: api.OperationResult{Status: "pending", Operation: op}},
			{Status: http.StatusOK, Body: api.OperationResult{Status: "success", Operation: done}},
		},
		"POST /status": {{Status: http.StatusOK, Body: deploying}, {Status: http.StatusOK, Body: running}},
	}
}

// TestDeployWaitProgress: without a terminal, progress is one plain line
// per state change on stderr and the status goes to stdout; on a terminal
// it is a spinner redrawn in place.
func TestDeployWaitProgress(t *testing.T) {
	f, out, errb := cmdtest.Factory(t)
	cmdtest.API(t, f, deployAnswers())
	if err := cmdtest.Run(f, NewCmdDeploy(f, nil), "deploy demo --wait"); err != nil {
		t.Fatal(err)
	}
	if want := "deploy demo: deploying after 0s\ndeploy demo: running after 0s\ndeploy demo: success after 0s\n"; errb.String() != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", errb.String(), want)
	}
	if !strings.HasPrefix(out.String(), "cluster:    demo\nstate:      running\n") {
		t.Errorf("stdout: %q", out.String())
	}

	f, out, errb = cmdtest.Factory(t)
	f.IOStreams.SetStderrTTY(true)
	cmdtest.API(t, f, deployAnswers())
	if err := cmdtest.Run(f, NewCmdDeploy(f, nil), "deploy demo --wait"); err != nil {
		t.Fatal(err)
	}
	if s := errb.String(); !strings.Contains(s, "\r") || !strings.Contains(s, "deploy demo: success (0s)") || strings.Contains(s, "after 0s\n") {
		t.Errorf("terminal stderr: %q", s)
	}
	if !strings.HasPrefix(out.String(), "cluster:    demo\nstate:      running\n") {
		t.Errorf("stdout: %q", out.String())
	}
}

// TestDeployNoWait: a pending DEPLOY says how to follow it, or prints the
// operation as JSON.
func TestDeployNoWait(t *testing.T) {
	f, out, errb := cmdtest.Factory(t)
	cmdtest.API(t, f, deployAnswers())
	if err := cmdtest.Run(f, NewCmdDeploy(f, nil), "deploy demo"); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 || errb.String() != "deploy of demo started (operation op-1); follow it with 'provisioner status demo'\n" {
		t.Errorf("stdout %q, stderr %q", out.String(), errb.String())
	}
	f, out, _ = cmdtest.Factory(t)
	cmdtest.API(t, f, deployAnswers())
	if err := cmdtest.Run(f, NewCmdDeploy(f, nil), "deploy demo --json"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"id": "op-1"`) {
		t.Errorf("--json: %s", out.String())
	}
}

// TestStatusNextNotice: the next notice gets a row of its own, and every
// key is padded to the longest.
func TestStatusNextNotice(t *testing.T) {
	st := running
	st.NextNotice = cmdtest.Now.Add(50 * time.Minute)
	f, out, _ := cmdtest.Factory(t)
	cmdtest.API(t, f, map[string][]cmdtest.Answer{"POST /status": cmdtest.OK(st)})
	if err := cmdtest.Run(f, NewCmdStatus(f, nil), "status demo"); err != nil {
		t.Fatal(err)
	}
	const want = `cluster:     demo
state:       running
visibility:  private
nodes:       2
version:     v4.5.1
endpoint:    http://127.0.0.1:9000
created by:  ada
created:     2026-08-01T12:00:00Z
expires:     2026-08-01T13:00:00Z
destroy at:  2026-08-01T13:00:00Z
next notice: 2026-08-01T12:50:00Z
`
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
}
