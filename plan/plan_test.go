package plan

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"provisioner"
)

func mustParse(t testing.TB, src string) Plan {
	t.Helper()
	p, err := Parse([]byte(src), "test")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return p
}

func TestParse(t *testing.T) {
	p := mustParse(t, `
kind: test
description: d
timeout: 10m
steps:
  - name: a
    run: echo a
  - name: b_2
    run: echo b
    container: true
    junit: reports/**/*.xml
    continue_on_failure: true
    timeout: 90s
    versions: ">=v5.1, <v6"
`)
	if p.Kind != provisioner.JobTest || p.Timeout != 10*time.Minute || len(p.Steps) != 2 {
		t.Fatalf("plan %+v", p)
	}
	a, b := p.Steps[0], p.Steps[1]
	if a.Timeout != 10*time.Minute || a.Container || a.JUnit != "" {
		t.Fatalf("step a %+v", a)
	}
	if !b.Container || !b.ContinueOnFailure || b.JUnit != "reports/**/*.xml" || b.Timeout != 90*time.Second || b.Versions != ">=v5.1, <v6" {
		t.Fatalf("step b %+v", b)
	}
	// JSON is YAML.
	j := mustParse(t, `{"kind": "release", "steps": [{"name": "x", "run": "make", "timeout": "2h"}]}`)
	if j.Kind != provisioner.JobRelease || j.Steps[0].Timeout != 2*time.Hour || j.Timeout != DefaultTimeout {
		t.Fatalf("json plan %+v", j)
	}
}

func TestParseStrict(t *testing.T) {
	for name, src := range map[string]string{
		"unknown field":          "kind: test\nsteps:\n  - name: a\n    run: x\n    retries: 3\n",
		"unknown top field":      "kind: test\nenv: {}\nsteps:\n  - name: a\n    run: x\n",
		"duplicate key":          "kind: test\nsteps:\n  - name: a\n    name: b\n    run: x\n",
		"no kind":                "steps:\n  - name: a\n    run: x\n",
		"bad kind":               "kind: deploy\nsteps:\n  - name: a\n    run: x\n",
		"no steps":               "kind: test\nsteps: []\n",
		"empty name":             "kind: test\nsteps:\n  - name: \"\"\n    run: x\n",
		"missing name":           "kind: test\nsteps:\n  - run: x\n",
		"upper-case name":        "kind: test\nsteps:\n  - name: Build\n    run: x\n",
		"name with space":        "kind: test\nsteps:\n  - name: a b\n    run: x\n",
		"checkout name":          "kind: test\nsteps:\n  - name: checkout\n    run: x\n",
		"duplicate name":         "kind: test\nsteps:\n  - name: a\n    run: x\n  - name: a\n    run: y\n",
		"overlapping duplicates": "kind: test\nsteps:\n  - name: a\n    run: x\n    versions: '>=v5'\n  - name: a\n    run: y\n    versions: '>=v5.1'\n",
		"half-ranged duplicates": "kind: test\nsteps:\n  - name: a\n    run: x\n    versions: '>=v5'\n  - name: a\n    run: y\n",
		"empty run":              "kind: test\nsteps:\n  - name: a\n    run: '  '\n",
		"bad timeout":            "kind: test\nsteps:\n  - name: a\n    run: x\n    timeout: soon\n",
		"fractional timeout":     "kind: test\nsteps:\n  - name: a\n    run: x\n    timeout: 1.5s\n",
		"huge timeout":           "kind: test\nsteps:\n  - name: a\n    run: x\n    timeout: 48h\n",
		"bad plan timeout":       "kind: test\ntimeout: 0s\nsteps:\n  - name: a\n    run: x\n",
		"absolute junit":         "kind: test\nsteps:\n  - name: a\n    run: x\n    junit: /etc/*.xml\n",
		"dotdot junit":           "kind: test\nsteps:\n  - name: a\n    run: x\n    junit: ../*.xml\n",
		"junit with space":       "kind: test\nsteps:\n  - name: a\n    run: x\n    junit: 'a b.xml'\n",
		"junit with $":           "kind: test\nsteps:\n  - name: a\n    run: x\n    junit: '$(id).xml'\n",
		"bad selector op":        "kind: test\nsteps:\n  - name: a\n    run: x\n    versions: '~v5'\n",
		"bad selector version":   "kind: test\nsteps:\n  - name: a\n    run: x\n    versions: '>=5.1'\n",
		"empty range":            "kind: test\nsteps:\n  - name: a\n    run: x\n    versions: '>=v6 <v5'\n",
		"string bool":            "kind: test\nsteps:\n  - name: a\n    run: x\n    container: sometimes\n",
		"two documents":          "kind: test\nsteps:\n  - name: a\n    run: x\n---\nkind: test\n",
		"not yaml":               "{{{",
		"nul in run":             "kind: test\nsteps:\n  - name: a\n    run: \"a\\0b\"\n",
	} {
		t.Run(name, func(t *testing.T) {
			if p, err := Parse([]byte(src), "test"); err == nil {
				t.Fatalf("accepted: %+v", p)
			}
		})
	}
}

func TestVersionSelectors(t *testing.T) {
	for _, tc := range []struct {
		sel  string
		yes  []string
		no   []string
		errs bool
	}{
		{sel: "", yes: []string{"v1.0.0", "latest", "main"}},
		{sel: ">=v5.1", yes: []string{"v5.1", "v5.1.0", "v5.1.1", "v6.0.0", "5.4.5", "latest", "main", "feature/x", "deadbeef"}, no: []string{"v5.0.9", "v4.8.1", "v5.1.0-rc1"}},
		{sel: "<v5.1", yes: []string{"v5.0.9", "v4.8.1", "v5.1.0-rc1", "v0.1"}, no: []string{"v5.1.0", "v5.1.1", "latest", "main"}},
		{sel: ">=v4 <v5", yes: []string{"v4.0.0", "v4.9.9"}, no: []string{"v3.9", "v5.0.0", "latest"}},
		{sel: "=v5.4.5", yes: []string{"v5.4.5", "5.4.5"}, no: []string{"v5.4.6", "latest"}},
		{sel: ">v5.4.5", yes: []string{"v5.4.6", "latest"}, no: []string{"v5.4.5"}},
		{sel: "<=v5.4.5", yes: []string{"v5.4.5", "v5.4.5-rc2"}, no: []string{"v5.4.6", "latest"}},
	} {
		sel, err := parseSelector(tc.sel)
		if err != nil {
			t.Fatalf("%q: %v", tc.sel, err)
		}
		for _, v := range tc.yes {
			if !sel.matches(parseJobVersion(v)) {
				t.Errorf("%q does not match %s", tc.sel, v)
			}
		}
		for _, v := range tc.no {
			if sel.matches(parseJobVersion(v)) {
				t.Errorf("%q matches %s", tc.sel, v)
			}
		}
	}
	for _, pair := range [][2]string{{"<v5.1", ">=v5.1"}, {"<=v5", ">v5"}, {">=v4 <v5", ">=v5"}, {"=v1", "=v2"}} {
		a, _ := parseSelector(pair[0])
		b, _ := parseSelector(pair[1])
		if a.overlaps(b) || b.overlaps(a) {
			t.Errorf("%q and %q overlap", pair[0], pair[1])
		}
	}
	for _, pair := range [][2]string{{"<=v5.1", ">=v5.1"}, {">=v4", ">=v5"}, {"<v6", ">v5"}, {"=v5", ">=v4 <v6"}} {
		a, _ := parseSelector(pair[0])
		b, _ := parseSelector(pair[1])
		if !a.overlaps(b) || !b.overlaps(a) {
			t.Errorf("%q and %q do not overlap", pair[0], pair[1])
		}
	}
}

func TestPlanFor(t *testing.T) {
	p := mustParse(t, `
kind: test
steps:
  - {name: first, run: x}
  - {name: build, run: new, versions: ">=v5"}
  - {name: build, run: old, versions: "<v5"}
  - {name: manager, run: m, versions: "<v5.1"}
`)
	for v, want := range map[string]string{
		"v5.5.0": "first build(new)", "v5.0.0": "first build(new) manager", "v4.2": "first build(old) manager", "latest": "first build(new)",
	} {
		q, err := p.For(v)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, s := range q.Steps {
			n := s.Name
			if s.Name == "build" {
				n += "(" + s.Run + ")"
			}
			got = append(got, n)
		}
		if strings.Join(got, " ") != want {
			t.Errorf("For(%s) = %v, want %s", v, got, want)
		}
	}
	if _, err := p.For("--upload-pack=x"); provisioner.ErrorCode(err) != provisioner.EINVALID {
		t.Fatalf("For(bad version): %v", err)
	}
	// A plan with several ranges of one step cannot become a script as is.
	if _, err := Script(p); err == nil {
		t.Fatal("Script of an unresolved plan")
	}
	only := mustParse(t, "kind: test\nsteps:\n  - {name: a, run: x, versions: '<v2'}\n")
	if _, err := only.For("v3.0.0"); err == nil {
		t.Fatal("For with no steps left")
	}
}

func TestLoad(t *testing.T) {
	def, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := def.Plan(provisioner.JobTest); p.Source != "embedded:test.yaml" {
		t.Fatalf("default test plan from %s", p.Source)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "release.yml"), []byte("kind: release\nsteps:\n  - {name: mine, run: make}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "README.md"), []byte("ignored"), 0o644)
	s, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Plan(provisioner.JobRelease); p.Steps[0].Name != "mine" {
		t.Fatalf("release plan %+v", p)
	}
	if p, _ := s.Plan(provisioner.JobTest); p.Source != "embedded:test.yaml" {
		t.Fatalf("test plan from %s, want the embedded one", p.Source)
	}
	// A single file replaces its kind.
	file := filepath.Join(t.TempDir(), "nightly.json")
	os.WriteFile(file, []byte(`{"kind":"test","steps":[{"name":"only","run":"true"}]}`), 0o644)
	s, err = Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := s.For(provisioner.JobTest, "v1.0.0"); err != nil || len(p.Steps) != 1 || p.Source != file {
		t.Fatalf("file plan %+v %v", p, err)
	}
	// Errors: ambiguous files, a kind in the wrong file, a bad plan, no such path.
	os.WriteFile(filepath.Join(dir, "release.yaml"), []byte("kind: release\nsteps:\n  - {name: x, run: y}\n"), 0o644)
	if _, err := Load(dir); err == nil {
		t.Fatal("release.yaml and release.yml both accepted")
	}
	dir2 := t.TempDir()
	os.WriteFile(filepath.Join(dir2, "test.yaml"), []byte("kind: release\nsteps:\n  - {name: x, run: y}\n"), 0o644)
	if _, err := Load(dir2); err == nil || !strings.Contains(err.Error(), "kind") {
		t.Fatalf("a release plan in test.yaml: %v", err)
	}
	os.WriteFile(filepath.Join(dir2, "test.yaml"), []byte("kind: test\nsteps:\n  - {name: x, run: y, bogus: 1}\n"), 0o644)
	if _, err := Load(dir2); err == nil {
		t.Fatal("a bad plan accepted")
	}
	if _, err := Load(filepath.Join(dir2, "missing")); err == nil {
		t.Fatal("a missing path accepted")
	}
}

// TestDefaultPlans checks the real plans for structure: every seed step
// present, by name, with the right container and JUnit settings, for old and
// new versions; they are not executed.
func TestDefaultPlans(t *testing.T) {
	s, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	seed := []string{"conda-env", "python-client-pytest", "nodejs-client-jest", "debug-build", "lua-selftest", "ams-pytest"}
	inContainer := map[string]bool{"debug-build": true, "lua-selftest": true}
	// AMS exists from v4.20.0 (applications/ams until v5.4.4, apps/ams
	// since), the Manager only in v4.20.0-v5.0.1 (the tag files say so).
	type layout struct{ ams, manager, target string }
	for v, l := range map[string]layout{
		"v5.5.0": {"apps/ams", "", "targets/slideruleearth"}, "latest": {"apps/ams", "", "targets/slideruleearth"},
		"main": {"apps/ams", "", "targets/slideruleearth"}, "v5.4.5": {"apps/ams", "", "targets/slideruleearth"},
		"v5.4.4": {"applications/ams", "", "targets/slideruleearth"}, "v5.1.0": {"applications/ams", "", "targets/slideruleearth"},
		"v5.0.2": {"applications/ams", "", "targets/slideruleearth"}, "v5.0.1": {"applications/ams", "applications/manager", "targets/slideruleearth"},
		"v4.20.0": {"applications/ams", "applications/manager", "targets/slideruleearth"},
		"v4.19.2": {"", "", "targets/slideruleearth-aws"}, "v4.8.1": {"", "", "targets/slideruleearth-aws"},
	} {
		p, err := s.For(provisioner.JobTest, v)
		if err != nil {
			t.Fatal(err)
		}
		want := slices.Clone(seed)
		if l.ams == "" {
			want = slices.DeleteFunc(want, func(n string) bool { return n == "ams-pytest" })
		}
		if l.manager != "" {
			want = append(want, "manager-pytest")
		}
		if got := p.StepNames(); !slices.Equal(got, want) {
			t.Errorf("test plan for %s: steps %v, want %v", v, got, want)
		}
		for _, st := range p.Steps {
			if st.Container != inContainer[st.Name] {
				t.Errorf("%s: step %s container=%v", v, st.Name, st.Container)
			}
			if !st.ContinueOnFailure {
				t.Errorf("%s: test step %s stops the plan on failure", v, st.Name)
			}
		}
		steps := map[string]Step{}
		for _, st := range p.Steps {
			steps[st.Name] = st
		}
		// The jest step: the browser without --with-deps (apt-get, which
		// Amazon Linux lacks), and the token authenticate.test.js needs.
		if js := steps["nodejs-client-jest"]; strings.Contains(js.Run, "--with-deps") || !slices.Equal(js.Secrets, []string{"SLIDERULE_GITHUB_TOKEN"}) {
			t.Errorf("%s: nodejs-client-jest: secrets %v, run:\n%s", v, js.Secrets, js.Run)
		}
		py := steps["python-client-pytest"]
		if !strings.Contains(py.Run, `--domain "$DOMAIN"`) || !strings.Contains(py.Run, `--organization "$ORGANIZATION"`) ||
			strings.Contains(py.Run, "--cluster") || py.JUnit == "" || !strings.Contains(py.Run, py.JUnit) {
			t.Errorf("python client step: %+v", py)
		}
		js := steps["nodejs-client-jest"]
		if !strings.Contains(js.Run, "jest tests --setupFiles tests/test.config.js") || !strings.Contains(js.Run, "ORGANIZATION=") || js.JUnit == "" {
			t.Errorf("node.js client step: %+v", js)
		}
		if b := steps["debug-build"]; !strings.Contains(b.Run, "make config-debug") {
			t.Errorf("debug build step: %+v", b)
		}
		if b := steps["lua-selftest"]; !strings.Contains(b.Run, "make selftest") {
			t.Errorf("selftest step: %+v", b)
		}
		for _, c := range []struct{ step, dir string }{{"debug-build", l.target}, {"lua-selftest", l.target}, {"ams-pytest", l.ams}, {"manager-pytest", l.manager}} {
			if c.dir != "" && !strings.Contains(steps[c.step].Run, "cd "+c.dir+"\n") {
				t.Errorf("%s: %s not in %s: %q", v, c.step, c.dir, steps[c.step].Run)
			}
		}
		if _, err := Script(p); err != nil {
			t.Errorf("%s: Script: %v", v, err)
		}
	}
	for _, v := range []string{"v5.5.0", "v4.20.0", "v4.8.1", "latest"} {
		p, err := s.For(provisioner.JobRelease, v)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.StepNames(); !slices.Equal(got, []string{"registry-login", "build-cluster", "push-images"}) {
			t.Errorf("release plan for %s: %v", v, got)
		}
		for _, st := range p.Steps {
			if st.ContinueOnFailure || st.Container {
				t.Errorf("release step %s: continue=%v container=%v", st.Name, st.ContinueOnFailure, st.Container)
			}
		}
		for i, target := range []string{"cluster-docker", "cluster-docker-push"} {
			r := p.Steps[i+1].Run
			for _, want := range []string{`make ` + target + ` VERSION="$VERSION" CLUSTER="$CLUSTER"`, `CONTAINER_REGISTRY="$REGISTRY"`, `AWS_REGION="$AWS_REGION"`} {
				if !strings.Contains(r, want) {
					t.Errorf("%s: step %s lacks %s: %q", v, p.Steps[i+1].Name, want, r)
				}
			}
		}
	}
	// Inputs only as data: every use of a job value is double-quoted.
	for _, kind := range []provisioner.JobKind{provisioner.JobTest, provisioner.JobRelease} {
		p, _ := s.Plan(kind)
		for _, st := range p.Steps {
			if err := unquotedInput(st.Run); err != nil {
				t.Errorf("%s plan, step %s: %v", kind, st.Name, err)
			}
		}
	}
}

var inputVars = map[string]bool{"JOB_ID": true, "JOB_KIND": true, "CLUSTER": true, "ORGANIZATION": true, "VERSION": true,
	"DOMAIN": true, "REPO_URL": true, "CHECKOUT_DIR": true, "WORK_DIR": true, "STEP_NAME": true}

var varRefRE = regexp.MustCompile(`^\$(\{)?([A-Za-z_][A-Za-z0-9_]*)`)

// unquotedInput finds a job value used outside double quotes in shell text:
// a small lexer for quotes, escapes, comments and $( ) nesting, enough for
// plan steps (no here-documents).
func unquotedInput(src string) error {
	type ctx struct{ dquote bool }
	stack := []ctx{{}}
	for i := 0; i < len(src); i++ {
		top := stack[len(stack)-1]
		c := src[i]
		switch {
		case c == '\\':
			i++
		case !top.dquote && c == '\'':
			j := strings.IndexByte(src[i+1:], '\'')
			if j < 0 {
				return nil
			}
			i += j + 1
		case !top.dquote && c == '#' && (i == 0 || strings.ContainsRune(" \t\n;", rune(src[i-1]))):
			j := strings.IndexByte(src[i:], '\n')
			if j < 0 {
				return nil
			}
			i += j
		case c == '"' && top.dquote:
			stack = stack[:len(stack)-1]
		case c == '"':
			stack = append(stack, ctx{dquote: true})
		case c == '$' && strings.HasPrefix(src[i:], "$("):
			stack = append(stack, ctx{})
			i++
		case c == ')' && len(stack) > 1 && !top.dquote:
			stack = stack[:len(stack)-1]
		case c == '$':
			if m := varRefRE.FindStringSubmatch(src[i:]); m != nil && inputVars[m[2]] && !top.dquote {
				return &unquotedError{m[0]}
			}
		}
	}
	return nil
}

type unquotedError struct{ ref string }

func (e *unquotedError) Error() string { return e.ref + " is used outside double quotes" }

func TestUnquotedInputLint(t *testing.T) {
	for src, bad := range map[string]bool{
		`echo "$VERSION"`:                      false,
		`echo $VERSION`:                        true,
		`echo ${CLUSTER}`:                      true,
		`echo '$VERSION'`:                      false,
		`x="$(echo "$VERSION")"`:               false,
		`x="$(echo $VERSION)"`:                 true,
		"# $VERSION in a comment\necho ok":     false,
		`echo \$VERSION`:                       false,
		`echo "$HOME" $PATH`:                   false,
		`make VERSION="$VERSION" X=$DOMAIN`:    true,
		`if [ "$org" = None ]; then :; fi`:     false,
		`DOMAIN="$DOMAIN" ORGANIZATION="$o" x`: false,
	} {
		if got := unquotedInput(src) != nil; got != bad {
			t.Errorf("unquotedInput(%q) = %v, want %v", src, got, bad)
		}
	}
}
