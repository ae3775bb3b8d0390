package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	var out, errb bytes.Buffer
	if code := Main([]string{"plans", "check", "--tags", tags, "--plans", filepath.Join(dir, "test.yaml")}, Streams{Out: &out, Err: &errb}); code != 0 {
		t.Fatalf("exit %d: %s %s", code, out.String(), errb.String())
	}
	write(filepath.Join(dir, "test.yaml"), "kind: test\nsteps:\n  - name: a\n    run: |\n      cd targets/slideruleearth-aws\n      make selftest\n")
	out.Reset()
	code := Main([]string{"plans", "check", "--tags", tags, "--plans", filepath.Join(dir, "test.yaml")}, Streams{Out: &out, Err: &errb})
	if code != 1 || !strings.Contains(out.String(), "step a at v5.5.0: directory targets/slideruleearth-aws does not exist") {
		t.Fatalf("exit %d: %s", code, out.String())
	}
	if code := Main([]string{"plans", "check"}, Streams{Out: &out, Err: &errb}); code != 2 {
		t.Errorf("no --tags: exit %d", code)
	}
}
