package main

import (
	"encoding/json"
	"testing"

	"provisioner/buildinfo"
)

// TestVersionCommand: `version` prints what --version prints, and --json
// the same version with the platform.
func TestVersionCommand(t *testing.T) {
	want := "provisioner version " + buildinfo.Version() + "\n"
	if got := mustCLI(t, "version"); got != want {
		t.Errorf("version: %q, want %q", got, want)
	}
	if got := mustCLI(t, "--version"); got != want {
		t.Errorf("--version: %q, want %q", got, want)
	}
	var info buildinfo.Info
	if err := json.Unmarshal([]byte(mustCLI(t, "version", "--json")), &info); err != nil {
		t.Fatal(err)
	}
	if info.Version != buildinfo.Version() || info.OS == "" || info.Arch == "" || info.Go == "" {
		t.Errorf("version --json: %+v", info)
	}
}
