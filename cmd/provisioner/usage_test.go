package main

import (
	"strings"
	"testing"
	"time"

	"provisioner/cmd/provisioner/internal/cmdutil"
	"provisioner/cmd/provisioner/internal/iostreams"
)

// TestUsageErrors: every way of calling a command wrongly exits 2 with the
// error and where to read the usage, before any request (the server here
// does not exist).
func TestUsageErrors(t *testing.T) {
	t.Setenv("PROVISIONER_CONFIG_DIR", t.TempDir())
	t.Setenv("PROVISIONER_URL", "http://127.0.0.1:1")
	t.Setenv("PROVISIONER_TOKEN", "")
	for _, tt := range []struct {
		args, err, help string
	}{
		// unknown command, at the root and in a group; cobra's suggestions kept
		{"frobnicate", `unknown command "frobnicate" for "provisioner"`, "provisioner"},
		{"logn", "Did you mean this?\n\tlogin\n\tlogs\n", "provisioner"},
		{"cluster bogus", `unknown command "bogus" for "provisioner cluster"`, "provisioner cluster"},
		{"keys bogus", `unknown command "bogus" for "provisioner keys"`, "provisioner keys"},
		// unknown flag
		{"--bogus", "unknown flag: --bogus", "provisioner"},
		{"deploy demo --bogus", "unknown flag: --bogus", "provisioner deploy"},
		{"jobs -x", "unknown shorthand flag: 'x' in -x", "provisioner jobs"},
		// bad flag value, on the command line and from the environment
		{"deploy demo --nodes many", `invalid argument "many" for "--nodes"`, "provisioner deploy"},
		{"audit --since soon", `invalid argument "soon" for "--since"`, "provisioner audit"},
		{"login --pat", "flag needs an argument: --pat", "provisioner login"},
		// missing and extra arguments
		{"access", "accepts 1 arg(s), received 0", "provisioner access"},
		{"access a b", "accepts 1 arg(s), received 2", "provisioner access"},
		{"list extra", `unknown command "extra" for "provisioner list"`, "provisioner list"},
		{"jobs a b", "accepts at most 1 arg(s), received 2", "provisioner jobs"},
		{"serve extra", `unknown command "extra" for "provisioner serve"`, "provisioner serve"},
		{"completion bash extra", `unknown command "extra" for "provisioner completion bash"`, "provisioner completion bash"},
		// required flags and flag groups
		{"extend demo", `required flag(s) "ttl" not set`, "provisioner extend"},
		{"cluster register demo", "at least one of the flags in the group [public private] is required", "provisioner cluster register"},
		{"deploy demo --public --private", "none of the others can be", "provisioner deploy"},
		// values the command checks itself
		{"access Bad;Name", "invalid cluster name", "provisioner access"},
		{"deploy demo --ttl 10s", "--ttl must be at least 1m", "provisioner deploy"},
		{"plans check", "--tags DIR is required", "provisioner plans check"},
		{"gateway --cluster demo --upstream http://h --issuer http://i", "give exactly one of --public and --private", "provisioner gateway"},
		{"--signing-key /nonexistent whoami", "--signing-key:", "provisioner whoami"},
	} {
		t.Run(tt.args, func(t *testing.T) {
			code, out, errs := cli(t, "", strings.Fields(tt.args)...)
			if code != exitUsage || out != "" || !strings.HasPrefix(errs, "error: ") || !strings.Contains(errs, tt.err) ||
				!strings.HasSuffix(errs, "\nRun '"+tt.help+" --help' for usage.\n") {
				t.Errorf("exit %d\nstdout %q\nstderr %q", code, out, errs)
			}
		})
	}
	t.Run("environment", func(t *testing.T) {
		t.Setenv("PROVISIONER_NODES", "many")
		if code, _, errs := cli(t, "", "deploy", "demo"); code != exitUsage || !strings.Contains(errs, `invalid PROVISIONER_NODES="many"`) {
			t.Errorf("exit %d %q", code, errs)
		}
	})
}

// TestNoUsageError: help, a group alone and what the environment sets are
// no usage errors.
func TestNoUsageError(t *testing.T) {
	t.Setenv("PROVISIONER_CONFIG_DIR", t.TempDir())
	for _, args := range [][]string{{}, {"--help"}, {"help", "exit-codes"}, {"cluster"}, {"keys", "--help"}, {"help", "bogus"}} {
		if code, out, errs := cli(t, "", args...); code != exitOK || out == "" || errs != "" {
			t.Errorf("%v: exit %d\n%s%s", args, code, out, errs)
		}
	}
	// A group's usage shows no line of its own; the root's shows only its commands.
	if _, out, _ := cli(t, "", "cluster", "--help"); !strings.Contains(out, "Usage:\n  provisioner cluster [command]\n\n") {
		t.Errorf("cluster --help:\n%s", out)
	}
	if _, out, _ := cli(t, "", "--help"); !strings.Contains(out, "Usage:\n  provisioner [command]\n\n") {
		t.Errorf("--help:\n%s", out)
	}
	if _, out, _ := cli(t, "", "help", "bogus"); !strings.HasPrefix(out, "Unknown help topic [`bogus`]\n") {
		t.Errorf("help bogus:\n%s", out)
	}
	// A required flag from the environment counts.
	t.Setenv("PROVISIONER_TTL", "1h")
	t.Setenv("PROVISIONER_URL", "http://127.0.0.1:1")
	t.Setenv("PROVISIONER_TOKEN", "")
	if code, _, errs := cli(t, "", "extend", "demo"); code != exitAuth || !strings.Contains(errs, "not logged in") {
		t.Errorf("extend with PROVISIONER_TTL: exit %d %q", code, errs)
	}
}

// TestNewCmdServeGateway: the server commands' flags land in their options.
func TestNewCmdServeGateway(t *testing.T) {
	run := func(args ...string) (*serveOptions, *gatewayOptions, error) {
		t.Helper()
		ios, _, _, _ := iostreams.Test()
		f := cmdutil.New(ios)
		f.DataDir = "/default/data"
		var so *serveOptions
		var gw *gatewayOptions
		root := newRoot(f)
		for _, c := range root.Commands() {
			if c.Name() == "serve" || c.Name() == "gateway" {
				root.RemoveCommand(c)
			}
		}
		root.AddCommand(newCmdServe(f, func(o *serveOptions) error { so = o; return nil }),
			newCmdGateway(f, func(o *gatewayOptions) error { gw = o; return nil }))
		root.SetArgs(args)
		_, err := root.ExecuteC()
		return so, gw, err
	}
	so, _, err := run("serve")
	if err != nil || so.Data != "/default/data" || so.Addr != "127.0.0.1:8080" || so.Identity != "github" ||
		time.Duration(so.AuditRetention) != defaultAuditRetention || so.io == nil {
		t.Errorf("serve defaults: %+v %v", so, err)
	}
	so, _, err = run("serve", "--data", "/d", "--addr", ":1", "--identity", "static:x.json", "--event-retention", "7d", "--job-env", "A=1,B=2")
	if err != nil || so.Data != "/d" || so.Addr != ":1" || so.Identity != "static:x.json" ||
		time.Duration(so.EventRetention) != 7*24*time.Hour || strings.Join(so.JobEnv, " ") != "A=1 B=2" {
		t.Errorf("serve flags: %+v %v", so, err)
	}
	if _, _, err := run("serve", "--event-retention", "1m"); exitCode(err) != exitUsage {
		t.Errorf("serve --event-retention 1m: %v", err)
	}
	_, gw, err := run("gateway", "--cluster", "demo", "--private", "--upstream", "http://u", "--issuer", "http://i", "--rate-admin", "5/s", "--burst-member", "7")
	if err != nil || gw.Cluster != "demo" || !gw.Private || gw.Public || gw.Upstream != "http://u" || gw.Issuer != "http://i" ||
		gw.Rates[3] != "5/s" || gw.Bursts[1] != 7 {
		t.Errorf("gateway flags: %+v %v", gw, err)
	}
}
