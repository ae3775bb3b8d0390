package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"provisioner/cmd/provisioner/internal/iostreams"
)

func TestPlansCheck(t *testing.T) {
	dir := t.TempDir()
	tags := filepath.Join(dir, "tags")
	if err := os.Mkdir(tags, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(p, s string) {
		t.Helper()
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(tags, "v5.5.0.txt"), "# sliderule v5.5.0 x\n## directories\ntargets\ntargets/slideruleearth\n## targets targets/slideruleearth/Makefile\nall selftest cluster-docker cluster-docker-push\n")
	write(filepath.Join(dir, "test.yaml"), "kind: test\nsteps:\n  - name: a\n    run: |\n      cd targets/slideruleearth\n      make selftest\n")
	ios, _, out, errb := iostreams.Test()
	if code := Main([]string{"plans", "check", "--tags", tags, "--plans", filepath.Join(dir, "test.yaml")}, ios); code != 0 {
		t.Fatalf("exit %d: %s %s", code, out.String(), errb.String())
	}
	write(filepath.Join(dir, "test.yaml"), "kind: test\nsteps:\n  - name: a\n    run: |\n      cd targets/slideruleearth-aws\n      make selftest\n")
	out.Reset()
	code := Main([]string{"plans", "check", "--tags", tags, "--plans", filepath.Join(dir, "test.yaml")}, ios)
	if code != 1 || !strings.Contains(out.String(), "step a at v5.5.0: directory targets/slideruleearth-aws does not exist") {
		t.Fatalf("exit %d: %s", code, out.String())
	}
	if code := Main([]string{"plans", "check"}, ios); code != 2 {
		t.Errorf("no --tags: exit %d", code)
	}
}
