package jobs

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"provisioner"
	"provisioner/plan"
)

// The built-in plans run for real on the local runner against a fixture
// repository laid out like v4.20.0, v5.0.1, v5.4.5 and HEAD (every
// directory and every root and targets/* Makefile target from the tag
// files). The Makefiles' targets and stub tools (mamba, pip, npm, npx,
// pytest, flask, aws, docker) record what ran; make is real.

// slideruleTags reads the tag files (SLIDERULE_REF, as in package plan).
func slideruleTags(t *testing.T) map[string]plan.Tag {
	t.Helper()
	dir := os.Getenv("SLIDERULE_REF")
	if dir == "" {
		dir = filepath.Join("..", "shared", "sliderule-ref")
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join("..", dir)
	}
	tags, err := plan.LoadTags(filepath.Join(dir, "tags"))
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("SlideRule tag files: %v (set SLIDERULE_REF)", err)
		}
		t.Skipf("no SlideRule tag files: %v", err)
	}
	m := map[string]plan.Tag{}
	for _, tg := range tags {
		m[tg.Name] = tg
	}
	return m
}

// hardRegistry stands for SlideRule's own registry, hard-coded with `=`.
const hardRegistry = "sliderule-own-registry.invalid"

func writeLayout(t *testing.T, dir string, tg plan.Tag) {
	t.Helper()
	for d := range tg.Dirs {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, d, ".keep"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	makefiles := map[string][]string{}
	for mk, targets := range tg.Targets {
		for x := range targets {
			makefiles[mk] = append(makefiles[mk], x)
		}
	}
	// The Manager's Makefile is not in the tag files; its pytest runs `make test`.
	if tg.Dirs["applications/manager"] {
		makefiles["applications/manager/Makefile"] = []string{"test"}
	}
	for mk, targets := range makefiles {
		sort.Slice(targets, func(i, j int) bool { return targets[i] == "all" || targets[j] != "all" && targets[i] < targets[j] })
		var b strings.Builder
		b.WriteString("CONTAINER_REGISTRY = " + hardRegistry + "\nAWS_REGION = nowhere-1\nCLUSTER ?= developers\nVERSION ?= unstable\n")
		for _, x := range targets {
			b.WriteString(x + ":\n\t@echo \"make $(patsubst $(CHECKOUT_DIR)/%,%,$(CURDIR)) $@ registry=$(CONTAINER_REGISTRY) region=$(AWS_REGION) cluster=$(CLUSTER) version=$(VERSION)\" >> \"$$WORK_DIR/ran\"\n")
		}
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(mk)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, mk), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func layoutRepo(t *testing.T, tags map[string]plan.Tag) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "sliderule")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=test", "-c", "user.email=test@example.com", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"}, args...)...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q")
	for _, v := range []string{"v4.20.0", "v5.0.1", "v5.4.5", "v5.5.0"} {
		tg, ok := tags[v]
		if !ok {
			t.Fatalf("no tag file for %s", v)
		}
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if e.Name() != ".git" {
				os.RemoveAll(filepath.Join(dir, e.Name()))
			}
		}
		writeLayout(t, dir, tg)
		git("add", "-A")
		git("commit", "-q", "--allow-empty", "-m", "layout of "+v)
		if v != "v5.5.0" { // HEAD: main, untagged
			git("tag", v)
		}
	}
	return dir
}

// stubTools writes the tools the plans call, each recording its call.
func stubTools(t *testing.T) string {
	t.Helper()
	bin := t.TempDir()
	stubs := map[string]string{
		"mamba": `if [ "$1" = run ]; then shift; while [ "${1#-}" != "$1" ]; do case $1 in -n|--name|-p|--prefix) shift;; esac; shift; done; exec "$@"; fi
echo "mamba $1 in ${PWD#$CHECKOUT_DIR/}" >> "$WORK_DIR/ran"`,
		"pytest": `out=; while [ $# -gt 0 ]; do [ "$1" = --junitxml ] && out=$2; shift; done
echo "pytest in ${PWD#$CHECKOUT_DIR/}" >> "$WORK_DIR/ran"
[ -z "$out" ] || printf '<testsuite tests="1"><testcase name="a"/></testsuite>' > "$out"`,
		"npx": `echo "npx $1 in ${PWD#$CHECKOUT_DIR/}" >> "$WORK_DIR/ran"
if [ "$1" = jest ]; then printf '<testsuite tests="1"><testcase name="a"/></testsuite>' > "$JEST_JUNIT_OUTPUT_DIR/$JEST_JUNIT_OUTPUT_NAME"; fi`,
		"npm":    `echo "npm $1 in ${PWD#$CHECKOUT_DIR/}" >> "$WORK_DIR/ran"`,
		"pip":    `echo "pip $1 in ${PWD#$CHECKOUT_DIR/}" >> "$WORK_DIR/ran"`,
		"flask":  `echo "flask in ${PWD#$CHECKOUT_DIR/}" >> "$WORK_DIR/ran"`,
		"aws":    `echo "aws $*" >> "$WORK_DIR/ran"; echo token`,
		"docker": `cat >/dev/null; echo "docker $*" >> "$WORK_DIR/ran"`,
	}
	for name, body := range stubs {
		if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return bin
}

// TestBuiltinPlansRunAtEachLayout is not parallel: it puts the stub tools
// first on PATH.
func TestBuiltinPlansRunAtEachLayout(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make")
	}
	tags := slideruleTags(t)
	repo := layoutRepo(t, tags)
	t.Setenv("PATH", stubTools(t)+string(os.PathListSeparator)+os.Getenv("PATH"))
	builtin, err := plan.Default()
	if err != nil {
		t.Fatal(err)
	}
	e := newJobRunner(t, "  - {name: x, run: 'true'}\n", func(c *Config) {
		c.RepoURL, c.Plans, c.ContainerWrapper = repo, builtin, "env"
		c.Env = map[string]string{"REGISTRY": "registry.example.test/ours", "AWS_REGION": "region-9"}
	})
	common := []string{
		"mamba env in clients/python", "pip install in clients/python", "pytest in clients/python",
		"npm ci in clients/nodejs/sliderule", "npm install in clients/nodejs/sliderule", "npx jest in clients/nodejs/sliderule",
		"make targets/slideruleearth config-debug", "make targets/slideruleearth all", "make targets/slideruleearth selftest",
	}
	for version, extra := range map[string][]string{
		"v4.20.0": {"mamba env in applications/ams", "pytest in applications/ams", "mamba env in applications/manager", "flask in applications/manager", "make applications/manager test"},
		"v5.0.1":  {"mamba env in applications/ams", "pytest in applications/ams", "mamba env in applications/manager", "flask in applications/manager", "make applications/manager test"},
		"v5.4.5":  {"mamba env in apps/ams", "pytest in apps/ams"},
		"latest":  {"mamba env in apps/ams", "pytest in apps/ams"},
	} {
		j := testJob(version)
		st := e.run(t, j)
		wantState(t, e, j, st, provisioner.JobPassed)
		ran := ranLines(t, e, j)
		want := append(slices.Clone(common), extra...)
		if !slices.Equal(ran, sorted(want)) {
			t.Errorf("%s ran:\n%s\nwant:\n%s\nlog:\n%s", version, strings.Join(ran, "\n"), strings.Join(sorted(want), "\n"), e.logText(t, j))
		}
	}

	// RELEASE: the registry on the make command line beats the Makefile's
	// hard-coded `CONTAINER_REGISTRY =`; the cluster is the build's value.
	for _, version := range []string{"v4.20.0", "v5.4.5"} {
		j := testJob(version)
		j.Kind, j.Cluster = provisioner.JobRelease, "nightly-1"
		wantState(t, e, j, e.run(t, j), provisioner.JobPassed)
		ran := ranLines(t, e, j)
		want := sorted([]string{
			"aws ecr get-login-password --region region-9",
			"docker login --username AWS --password-stdin registry.example.test/ours",
			"make targets/slideruleearth cluster-docker registry=registry.example.test/ours region=region-9 cluster=nightly-1 version=" + version,
			"make targets/slideruleearth cluster-docker-push registry=registry.example.test/ours region=region-9 cluster=nightly-1 version=" + version,
		})
		if !slices.Equal(ran, want) {
			t.Errorf("release %s ran:\n%s\nwant:\n%s", version, strings.Join(ran, "\n"), strings.Join(want, "\n"))
		}
		if strings.Contains(strings.Join(ran, "\n"), hardRegistry) {
			t.Errorf("release %s used the Makefile's registry", version)
		}
	}
}

// ranLines is what the job's stubs and make targets recorded, sorted; make
// lines of the test plan are trimmed to directory and target.
func ranLines(t *testing.T, e *jobEnv, j provisioner.Job) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.dir, j.ID, "ran"))
	if err != nil {
		t.Fatalf("nothing ran: %v\nlog:\n%s", err, e.logText(t, j))
	}
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if j.Kind == provisioner.JobTest && strings.HasPrefix(l, "make ") {
			l = strings.Join(strings.Fields(l)[:3], " ")
		}
		out = append(out, l)
	}
	return sorted(out)
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return s
}
