package plan

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"provisioner"
)

// sliderefDir finds the SlideRule reference (tag files) via SLIDERULE_REF,
// default ../shared/sliderule-ref from the repository root. Missing, the
// test skips, except under CI=true, where it fails.
func sliderefDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("SLIDERULE_REF")
	if dir == "" {
		dir = filepath.Join("..", "shared", "sliderule-ref")
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join("..", dir) // relative to the repository root; tests run in plan/
	}
	if _, err := os.Stat(filepath.Join(dir, "tags")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("SlideRule tag files: %v (set SLIDERULE_REF)", err)
		}
		t.Skipf("no SlideRule tag files (%v); set SLIDERULE_REF", err)
	}
	return dir
}

// TestBuiltinPlansHoldAtEveryTag walks every release tag the built-in plans
// support: each step's directories and make targets exist at that tag.
func TestBuiltinPlansHoldAtEveryTag(t *testing.T) {
	tags, err := LoadTags(filepath.Join(sliderefDir(t), "tags"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	unchecked := map[string]bool{}
	for _, f := range CheckTags(s, tags) {
		if !f.Unchecked {
			t.Error(f)
			continue
		}
		// Say once per step and message which commands the tag files
		// cannot confirm.
		key := string(f.Kind) + " " + f.Step + ": " + f.Msg
		if !unchecked[key] {
			unchecked[key] = true
			t.Logf("unchecked: %s (first at %s)", key, f.Tag)
		}
	}
	// Only the Manager's `make test` is beyond the tag files.
	for k := range unchecked {
		if !strings.HasPrefix(k, "test manager-pytest: make test in applications/manager") {
			t.Errorf("unexpected unchecked command: %s", k)
		}
	}
	t.Logf("%d tags, v%s..%s", len(tags), tags[0].Name[1:], tags[len(tags)-1].Name)
}

func TestCheckTagsFindsWrongRanges(t *testing.T) {
	tag := func(name string, dirs []string, targets map[string]string) Tag {
		tg := Tag{Name: name, Dirs: map[string]bool{}, Targets: map[string]map[string]bool{}}
		for _, d := range dirs {
			tg.Dirs[d] = true
		}
		for mk, ts := range targets {
			tg.Targets[mk] = map[string]bool{}
			for _, x := range strings.Fields(ts) {
				tg.Targets[mk][x] = true
			}
		}
		return tg
	}
	old := tag("v4.19.2", []string{"targets", "targets/slideruleearth-aws"}, map[string]string{"Makefile": "all", "targets/slideruleearth-aws/Makefile": "all selftest"})
	cur := tag("v5.5.0", []string{"targets", "targets/slideruleearth", "apps", "apps/ams"}, map[string]string{"targets/slideruleearth/Makefile": "all selftest"})
	p, err := Parse([]byte(`kind: test
steps:
  - name: build
    versions: ">=v4"
    run: |
      cd targets/slideruleearth
      make config-debug && make
      make -C ../.. all
  - name: ams
    run: |
      mkdir -p "$CHECKOUT_DIR/reports"
      cd apps/ams # comment
      make test
  - name: dyn
    run: cd "$WORK_DIR" && make x
`), "t")
	if err != nil {
		t.Fatal(err)
	}
	s, _ := NewSet(p)
	var got []string
	for _, f := range CheckTags(s, []Tag{old, cur}) {
		if f.Kind == provisioner.JobTest {
			got = append(got, f.String())
		}
	}
	want := []string{
		"error test plan, step build at v4.19.2: directory targets/slideruleearth does not exist",
		"error test plan, step build at v4.19.2: targets/slideruleearth/Makefile does not exist",
		"error test plan, step build at v4.19.2: targets/slideruleearth/Makefile does not exist",
		"error test plan, step ams at v4.19.2: directory apps/ams does not exist",
		"unchecked test plan, step ams at v4.19.2: make test in apps/ams: the tag files list the targets of the root and targets/* Makefiles only",
		"unchecked test plan, step dyn at v4.19.2: cd $WORK_DIR: not a literal relative directory",
		"unchecked test plan, step dyn at v4.19.2: make: in an unknown directory",
		"error test plan, step build at v5.5.0: targets/slideruleearth/Makefile has no target config-debug",
		"error test plan, step build at v5.5.0: Makefile does not exist",
		"unchecked test plan, step ams at v5.5.0: make test in apps/ams: the tag files list the targets of the root and targets/* Makefiles only",
		"unchecked test plan, step dyn at v5.5.0: cd $WORK_DIR: not a literal relative directory",
		"unchecked test plan, step dyn at v5.5.0: make: in an unknown directory",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestParseTag(t *testing.T) {
	tg, err := ParseTag("v5.4.5", []byte("# sliderule v5.4.5 abc\n## directories\napps\napps/ams\n## files\nMakefile\n## targets Makefile\nall  config \n## targets targets/x/Makefile\n\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !tg.Dirs["apps/ams"] || !tg.Files["Makefile"] || !tg.Targets["Makefile"]["config"] || tg.Targets["targets/x/Makefile"] == nil || len(tg.Targets["targets/x/Makefile"]) != 0 {
		t.Errorf("%+v", tg)
	}
	if _, err := ParseTag("x", []byte("## bogus\n")); err == nil {
		t.Error("unknown section accepted")
	}
}
