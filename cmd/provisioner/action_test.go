package main

import (
	"os"
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
	for _, in := range []string{"server", "command", "cluster", "args", "audience"} {
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
