package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v4"
)

// TestActionUsesInputsSafely: the GitHub Action passes its inputs to shell
// steps only through env, never as ${{ }} in a run script (script injection).
func TestActionUsesInputsSafely(t *testing.T) {
	var action struct {
		Inputs map[string]any `yaml:"inputs"`
		Runs   struct {
			Using string `yaml:"using"`
			Steps []struct {
				Name string            `yaml:"name"`
				Run  string            `yaml:"run"`
				Uses string            `yaml:"uses"`
				Env  map[string]string `yaml:"env"`
			} `yaml:"steps"`
		} `yaml:"runs"`
	}
	readYAML(t, "../../action.yml", &action)
	for _, in := range []string{"server", "command", "cluster", "args", "audience", "signing-key"} {
		if _, ok := action.Inputs[in]; !ok {
			t.Errorf("action.yml has no input %q", in)
		}
	}
	if action.Runs.Using != "composite" || len(action.Runs.Steps) < 3 {
		t.Fatalf("action.yml runs: %+v", action.Runs)
	}
	expr := regexp.MustCompile(`\$\{\{[^}]*\}\}`)
	logins := 0
	for _, s := range action.Runs.Steps {
		if m := expr.FindString(s.Run); m != "" {
			t.Errorf("step %q interpolates %s into its script; pass it through env", s.Name, m)
		}
		if strings.Contains(s.Run, "login --github-actions") {
			logins++
		}
	}
	if logins != 1 {
		t.Errorf("the action logs in with the OIDC token %d times, want 1", logins)
	}
}

// TestNightlyWorkflow: the nightly example deploys, tests, and always destroys.
func TestNightlyWorkflow(t *testing.T) {
	var wf struct {
		On          map[string]any    `yaml:"on"`
		Permissions map[string]string `yaml:"permissions"`
		Jobs        map[string]struct {
			Steps []struct {
				Name string            `yaml:"name"`
				If   string            `yaml:"if"`
				Uses string            `yaml:"uses"`
				With map[string]string `yaml:"with"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	readYAML(t, "../../examples/nightly.yml", &wf)
	if _, ok := wf.On["schedule"]; !ok {
		t.Error("the nightly workflow has no schedule")
	}
	if wf.Permissions["id-token"] != "write" {
		t.Error("the nightly workflow cannot get an OIDC token (permissions: id-token: write)")
	}
	var order []string
	for _, j := range wf.Jobs {
		for _, s := range j.Steps {
			cmd := s.With["command"]
			if cmd == "" {
				continue
			}
			order = append(order, cmd)
			switch cmd {
			case "destroy":
				if s.If != "always()" {
					t.Errorf("the destroy step runs only %q; it must run always()", s.If)
				}
			case "deploy":
				if !strings.Contains(s.With["args"], "--ttl") || !strings.Contains(s.With["args"], "--wait") {
					t.Errorf("deploy without a TTL backstop or without waiting: %q", s.With["args"])
				}
			case "test":
				if !strings.Contains(s.With["args"], "--wait") {
					t.Errorf("test without --wait cannot fail the run: %q", s.With["args"])
				}
			}
		}
	}
	if strings.Join(order, ",") != "deploy,test,destroy" {
		t.Errorf("steps %v, want deploy, test, destroy", order)
	}
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// actionStep is the step of action.yml that runs the provisioner command.
func actionStep(t *testing.T) (script string, env map[string]string) {
	t.Helper()
	var action struct {
		Runs struct {
			Steps []struct {
				ID  string            `yaml:"id"`
				Run string            `yaml:"run"`
				Env map[string]string `yaml:"env"`
			} `yaml:"steps"`
		} `yaml:"runs"`
	}
	readYAML(t, "../../action.yml", &action)
	for _, s := range action.Runs.Steps {
		if s.ID == "run" {
			return s.Run, s.Env
		}
	}
	t.Fatal("action.yml has no step with id run")
	return "", nil
}

// TestActionSigningKey runs the action's command step as the runner does
// (bash -eo pipefail), with the real binary behind a wrapper that records
// what it was given, against serve --signature-policy everyone: with the
// signing-key input the key reaches the provisioner as a 0600 file named by
// PROVISIONER_SIGNING_KEY, deploy and destroy succeed, the key is printed
// nowhere and the file is gone afterwards; without it the refusal says how
// to configure a key.
func TestActionSigningKey(t *testing.T) {
	script, stepEnv := actionStep(t)
	if stepEnv["SIGNING_KEY"] != "${{ inputs.signing-key }}" {
		t.Fatalf("the run step's SIGNING_KEY is %q", stepEnv["SIGNING_KEY"])
	}
	home, temp := t.TempDir(), t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("PROVISIONER_CONFIG_DIR", filepath.Join(temp, "provisioner-config"))
	t.Setenv("PROVISIONER_TOKEN", "")
	t.Setenv("PROVISIONER_SIGNING_KEY", "")
	priv, pub := sshKey(t)
	keys := filepath.Join(t.TempDir(), "signing-keys")
	if err := os.WriteFile(keys, []byte("otto "+pub+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := clusterServe(t, t.TempDir(), "127.0.0.1:0", "PROVISIONER_SIGNATURE_POLICY=everyone", "PROVISIONER_SIGNING_KEYS="+keys)
	t.Setenv("PROVISIONER_URL", srv.URL)
	mustCLI(t, "login", "--pat", "member-token-1") // the action's login step, done here without OIDC

	wrapper := `#!/bin/sh
k="${PROVISIONER_SIGNING_KEY:-}"
if [ -n "$k" ]; then stat -c %a "$k" >"$RUNNER_TEMP/seen-mode"; cat "$k" >"$RUNNER_TEMP/seen-key"; else echo none >"$RUNNER_TEMP/seen-mode"; fi
echo "${SIGNING_KEY:-unset}" >"$RUNNER_TEMP/seen-input"
exec "` + binary + `" "$@"
`
	if err := os.WriteFile(filepath.Join(temp, "provisioner"), []byte(wrapper), 0o700); err != nil {
		t.Fatal(err)
	}
	read := func(name string) string {
		b, _ := os.ReadFile(filepath.Join(temp, name))
		return string(b)
	}
	step := func(command, args, key string) (int, string) {
		t.Helper()
		_ = os.Remove(filepath.Join(temp, "seen-key"))
		cmd := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "RUNNER_TEMP=" + temp,
			"GITHUB_OUTPUT=" + filepath.Join(temp, "github-output"), "PROVISIONER_URL=" + srv.URL,
			"PROVISIONER_CONFIG_DIR=" + filepath.Join(temp, "provisioner-config"),
			"COMMAND=" + command, "CLUSTER=act", "ARGS=" + args, "SIGNING_KEY=" + key}
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if left, _ := filepath.Glob(filepath.Join(temp, "provisioner-signing-key.*")); len(left) > 0 {
			t.Errorf("%s: the key file outlived the step: %v", command, left)
		}
		if read("seen-input") != "unset\n" {
			t.Errorf("%s: the provisioner saw the SIGNING_KEY input in its environment", command)
		}
		// Any line of the key's body would give it away.
		for _, line := range strings.Split(string(priv), "\n")[1:3] {
			if strings.Contains(string(out), line) || strings.Contains(read("github-output"), line) {
				t.Fatalf("%s: the step printed the signing key\n%s", command, out)
			}
		}
		return code, string(out)
	}

	if code, out := step("deploy", "--nodes 1 --ttl 30m --version v4.5.1 --wait", string(priv)); code != 0 {
		t.Fatalf("deploy with signing-key: exit %d\n%s\n%s", code, out, srv.stderr)
	}
	if m := read("seen-mode"); m != "600\n" {
		t.Errorf("the key file's mode: %q, want 600", m)
	}
	if got := read("seen-key"); strings.TrimSpace(got) != strings.TrimSpace(string(priv)) {
		t.Errorf("the key file holds %q", got)
	}
	if st := statusOf(t, "act"); st["state"] != "running" {
		t.Fatalf("status after the action's deploy: %v", st)
	}
	code, out := step("destroy", "", "")
	if code == 0 || read("seen-mode") != "none\n" || !strings.Contains(out, "ssh-keygen -t ed25519") {
		t.Errorf("destroy without signing-key: exit %d\n%s", code, out)
	}
	if code, out := step("destroy", "--wait", string(priv)); code != 0 {
		t.Fatalf("destroy with signing-key: exit %d\n%s", code, out)
	}
	if st := statusOf(t, "act"); st["state"] != "absent" {
		t.Fatalf("status after the action's destroy: %v", st)
	}
}
