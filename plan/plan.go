// Package plan holds what TEST and RELEASE jobs run, as data, and turns it
// into the one job script that every runner (this machine, an EC2 instance)
// executes.
//
// # Plans
//
// A plan is an ordered list of steps for one job kind, kept in a YAML (or
// JSON) file: builtin/test.yaml and builtin/release.yaml beside this
// package's source, embedded in the binary, and replaceable by an operator (Load). A file:
//
//	kind: test            # test or release
//	description: ...      # optional
//	timeout: 1h           # default step timeout (optional; 1h if absent)
//	steps:
//	  - name: python-client-pytest   # [a-z0-9][a-z0-9_-]*, at most 63 characters
//	    run: |                       # bash, run in the checkout directory
//	      cd clients/python
//	      pytest --domain "$DOMAIN" --organization "$ORGANIZATION"
//	    container: false             # run through the container wrapper
//	    junit: reports/*.xml         # JUnit XML the step writes (glob, relative to the checkout)
//	    continue_on_failure: true    # later steps run even if this one fails
//	    timeout: 30m                 # whole seconds, at most 24h
//	    versions: ">=v5.1"           # only for these versions (optional)
//	    secrets: [SLIDERULE_GITHUB_TOKEN] # names from the operator's secret store
//
// Unknown fields, duplicate keys, empty or duplicate names, and bad values
// are errors. Cloning the repository and checking out the version is not a
// step: the script does it first, always, and reports it as the step named
// "checkout" (a name plans cannot use).
//
// A step's run text is operator-authored shell, executed as
// `bash --noprofile --norc -eo pipefail -c RUN` in the checkout directory
// (so a failing command in a multi-line step fails the step). Request
// values reach it only as environment variables (JOB_ID, JOB_KIND,
// CLUSTER, ORGANIZATION, VERSION, DOMAIN, REPO_URL, CHECKOUT_DIR, WORK_DIR,
// STEP_NAME, and the operator's extra variables), never as text; a plan
// should double-quote them ("$VERSION").
//
// A step's secrets are names ([A-Z_][A-Z0-9_]*, not one the script or bash
// uses) of values in the operator's secret store: the runner writes them to
// a file of their own (SecretsFile, Inputs.SecretsFile), and the script
// exports to a step only the ones it declares, never as text of the script
// or the environment file. A declared secret the store lacks is left unset
// (the step's log says so). The job log masks every secret's value, and its
// base64, with "***".
//
// # Version ranges
//
// The sliderule repository's layout changed over time, so a step may carry
// a versions selector: comparisons separated by spaces or commas, all of
// which must hold, with the operators >=, >, <=, < and = against versions
// written vMAJOR[.MINOR[.PATCH]] ("v5.1" is v5.1.0):
//
//	versions: ">=v4 <v5.1"
//
// A job's version is compared as semantic version when it looks like one
// (v5.4.5, 5.4.5, v5.5.0-rc1; a pre-release sorts before its release).
// Anything else (latest, a branch, a commit) counts as newer than every
// release: it matches selectors without an upper bound. Several steps may
// share a name when their ranges cannot overlap; Set.For picks the steps of
// one version, in file order.
package plan

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v4"

	"provisioner"
)

// builtin holds the default plans, builtin/test.yaml and
// builtin/release.yaml.
//
//go:embed builtin/*.yaml
var builtin embed.FS

// CheckoutStep is the name of the step the script itself runs first: clone
// the repository and check out the version.
const CheckoutStep = "checkout"

// Limits of a plan.
const (
	MaxSteps        = 64
	MaxStepTimeout  = 24 * time.Hour
	DefaultTimeout  = time.Hour // of a step, when neither it nor its plan says
	maxRunBytes     = 64 << 10
	maxFileBytes    = 1 << 20
	maxNameLen      = 63
	maxJUnitLen     = 256
	maxDescription  = 4096
	maxSelectorSize = 256
	maxSecrets      = 16
)

// Plan is the ordered steps of one job kind.
type Plan struct {
	Kind        provisioner.JobKind
	Description string
	// Timeout is the default step timeout.
	Timeout time.Duration
	Steps   []Step
	// Source says where the plan came from: "embedded:test.yaml" or a path.
	Source string
}

// Step is one command of a plan.
type Step struct {
	Name string
	// Run is bash, operator data; never request data.
	Run string
	// Container: run through the runner's container wrapper (the sliderule
	// build environment).
	Container bool
	// JUnit is a glob of JUnit XML files the step writes, relative to the
	// checkout; "" for none.
	JUnit string
	// ContinueOnFailure lets later steps run when this one fails.
	ContinueOnFailure bool
	// Timeout bounds the step; the plan's when zero in the file.
	Timeout time.Duration
	// Versions is the step's version selector; "" for every version.
	Versions string
	// Secrets are the names of the operator's secrets the step gets as
	// environment variables.
	Secrets []string

	sel selector
}

// file is the on-disk form.
type file struct {
	Kind        string     `yaml:"kind"`
	Description string     `yaml:"description"`
	Timeout     string     `yaml:"timeout"`
	Steps       []fileStep `yaml:"steps"`
}

type fileStep struct {
	Name              string   `yaml:"name"`
	Run               string   `yaml:"run"`
	Container         bool     `yaml:"container"`
	JUnit             string   `yaml:"junit"`
	ContinueOnFailure bool     `yaml:"continue_on_failure"`
	Timeout           string   `yaml:"timeout"`
	Versions          string   `yaml:"versions"`
	Secrets           []string `yaml:"secrets"`
}

var (
	nameRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	junitRE = regexp.MustCompile(`^[A-Za-z0-9._/*?\[\]-]+$`)
)

// Parse reads and validates one plan file (YAML, or JSON, which is YAML).
// source names it in errors.
func Parse(data []byte, source string) (Plan, error) {
	if len(data) > maxFileBytes {
		return Plan{}, fmt.Errorf("plan %s: larger than %d bytes", source, maxFileBytes)
	}
	var f file
	if err := yaml.Load(data, &f, yaml.WithKnownFields(), yaml.WithUniqueKeys(true)); err != nil {
		return Plan{}, fmt.Errorf("plan %s: %w", source, err)
	}
	p := Plan{Kind: provisioner.JobKind(f.Kind), Description: f.Description, Source: source, Timeout: DefaultTimeout}
	if f.Timeout != "" {
		d, err := parseTimeout(f.Timeout)
		if err != nil {
			return Plan{}, fmt.Errorf("plan %s: timeout: %w", source, err)
		}
		p.Timeout = d
	}
	for _, fs := range f.Steps {
		s := Step{Name: fs.Name, Run: fs.Run, Container: fs.Container, JUnit: fs.JUnit,
			ContinueOnFailure: fs.ContinueOnFailure, Versions: fs.Versions, Secrets: fs.Secrets}
		if fs.Timeout != "" {
			d, err := parseTimeout(fs.Timeout)
			if err != nil {
				return Plan{}, fmt.Errorf("plan %s: step %q: timeout: %w", source, fs.Name, err)
			}
			s.Timeout = d
		}
		p.Steps = append(p.Steps, s)
	}
	if err := p.Validate(); err != nil {
		return Plan{}, err
	}
	return p, nil
}

func parseTimeout(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, err
	}
	if d < time.Second || d > MaxStepTimeout || d%time.Second != 0 {
		return 0, fmt.Errorf("%s is not a whole number of seconds between 1s and %s", s, MaxStepTimeout)
	}
	return d, nil
}

// Validate checks a plan strictly and fills in step timeouts and parsed
// selectors. Parse calls it; call it on plans built in code.
func (p *Plan) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("plan %s: %s", p.Source, fmt.Sprintf(format, args...))
	}
	if p.Kind != provisioner.JobTest && p.Kind != provisioner.JobRelease {
		return bad("kind must be test or release, not %q", p.Kind)
	}
	if len(p.Description) > maxDescription {
		return bad("description longer than %d bytes", maxDescription)
	}
	if p.Timeout == 0 {
		p.Timeout = DefaultTimeout
	}
	if p.Timeout < time.Second || p.Timeout > MaxStepTimeout || p.Timeout%time.Second != 0 {
		return bad("timeout %s is not a whole number of seconds between 1s and %s", p.Timeout, MaxStepTimeout)
	}
	if len(p.Steps) == 0 {
		return bad("no steps")
	}
	if len(p.Steps) > MaxSteps {
		return bad("%d steps; at most %d are allowed", len(p.Steps), MaxSteps)
	}
	for i := range p.Steps {
		s := &p.Steps[i]
		where := fmt.Sprintf("step %d (%q)", i+1, s.Name)
		switch {
		case s.Name == "":
			return bad("step %d has no name", i+1)
		case len(s.Name) > maxNameLen || !nameRE.MatchString(s.Name):
			return bad("%s: a name is 1-%d lower-case letters, digits, '-' and '_', starting with a letter or digit", where, maxNameLen)
		case s.Name == CheckoutStep:
			return bad("%s: %q is the script's own first step; choose another name", where, CheckoutStep)
		case strings.TrimSpace(s.Run) == "":
			return bad("%s: run is empty", where)
		case len(s.Run) > maxRunBytes:
			return bad("%s: run is longer than %d bytes", where, maxRunBytes)
		case strings.ContainsRune(s.Run, 0):
			return bad("%s: run contains a NUL byte", where)
		}
		if s.JUnit != "" {
			if err := checkJUnitGlob(s.JUnit); err != nil {
				return bad("%s: junit: %v", where, err)
			}
		}
		if len(s.Secrets) > maxSecrets {
			return bad("%s: at most %d secrets", where, maxSecrets)
		}
		for k, name := range s.Secrets {
			if err := checkSecretName(name); err != nil {
				return bad("%s: secrets: %v", where, err)
			}
			if slices.Contains(s.Secrets[:k], name) {
				return bad("%s: secret %s is listed twice", where, name)
			}
		}
		if s.Timeout == 0 {
			s.Timeout = p.Timeout
		}
		if s.Timeout < time.Second || s.Timeout > MaxStepTimeout || s.Timeout%time.Second != 0 {
			return bad("%s: timeout %s is not a whole number of seconds between 1s and %s", where, s.Timeout, MaxStepTimeout)
		}
		sel, err := parseSelector(s.Versions)
		if err != nil {
			return bad("%s: versions: %v", where, err)
		}
		s.sel = sel
	}
	// Names are unique, except between steps whose ranges cannot overlap.
	for i := range p.Steps {
		for j := range i {
			a, b := &p.Steps[j], &p.Steps[i]
			if a.Name != b.Name {
				continue
			}
			if a.Versions == "" || b.Versions == "" || a.sel.overlaps(b.sel) {
				return bad("steps %d and %d are both named %q for overlapping versions (%q, %q)", j+1, i+1, a.Name, a.Versions, b.Versions)
			}
		}
	}
	return nil
}

// checkJUnitGlob allows a relative glob of plain path characters, with no
// empty, "." or ".." component: it is expanded in the checkout only.
func checkJUnitGlob(g string) error {
	if len(g) > maxJUnitLen || !junitRE.MatchString(g) {
		return fmt.Errorf("%q: use a relative glob of letters, digits, '.', '_', '-', '/', '*', '?' and '[]', at most %d characters", g, maxJUnitLen)
	}
	if strings.HasPrefix(g, "/") {
		return fmt.Errorf("%q is absolute; it is relative to the checkout", g)
	}
	for _, part := range strings.Split(g, "/") {
		if part == "" || part == "." || part == ".." {
			return fmt.Errorf("%q has an empty, '.' or '..' component", g)
		}
	}
	return nil
}

// For returns the plan with only the steps that apply to version.
func (p Plan) For(version string) (Plan, error) {
	if err := provisioner.ValidateVersion(version); err != nil {
		return Plan{}, err
	}
	v := parseJobVersion(version)
	out := p
	out.Steps = nil
	for _, s := range p.Steps {
		if s.sel.matches(v) {
			out.Steps = append(out.Steps, s)
		}
	}
	if len(out.Steps) == 0 {
		return Plan{}, provisioner.Errorf(provisioner.EINVALID, "the %s plan has no steps for version %s", p.Kind, version)
	}
	return out, nil
}

// StepNames lists the plan's step names in order.
func (p Plan) StepNames() []string {
	names := make([]string, len(p.Steps))
	for i, s := range p.Steps {
		names[i] = s.Name
	}
	return names
}

// Set is the plans of every job kind.
type Set struct {
	plans map[provisioner.JobKind]Plan
}

// NewSet makes a Set of plans, validating each; later plans of a kind
// replace earlier ones.
func NewSet(ps ...Plan) (*Set, error) {
	s := &Set{plans: map[provisioner.JobKind]Plan{}}
	for _, p := range ps {
		if err := p.Validate(); err != nil {
			return nil, err
		}
		s.plans[p.Kind] = p
	}
	return s, nil
}

// Plan returns the plan of a kind, every version range included.
func (s *Set) Plan(kind provisioner.JobKind) (Plan, bool) {
	p, ok := s.plans[kind]
	return p, ok
}

// For returns the plan for one job: kind and version.
func (s *Set) For(kind provisioner.JobKind, version string) (Plan, error) {
	p, ok := s.plans[kind]
	if !ok {
		return Plan{}, provisioner.Errorf(provisioner.EINVALID, "no plan for %q jobs", kind)
	}
	return p.For(version)
}

// Default returns the embedded plans (builtin/test.yaml, builtin/release.yaml).
func Default() (*Set, error) { return Load("") }

// Load returns the plans an operator chose. path "" means the embedded
// plans. A directory may hold test.yaml, release.yaml (or .yml, .json);
// a kind without a file keeps its embedded plan; other files are ignored.
// A single file replaces the plan of its kind.
func Load(path string) (*Set, error) {
	s := &Set{plans: map[provisioner.JobKind]Plan{}}
	for _, kind := range []provisioner.JobKind{provisioner.JobTest, provisioner.JobRelease} {
		name := string(kind) + ".yaml"
		data, err := fs.ReadFile(builtin, "builtin/"+name)
		if err != nil {
			return nil, fmt.Errorf("embedded plan %s: %w", name, err)
		}
		p, err := parsePlanOf(kind, data, "embedded:"+name)
		if err != nil {
			return nil, err
		}
		s.plans[kind] = p
	}
	if path == "" {
		return s, nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("plans: %w", err)
	}
	if !fi.IsDir() {
		data, err := readPlanFile(path)
		if err != nil {
			return nil, err
		}
		p, err := Parse(data, path)
		if err != nil {
			return nil, err
		}
		s.plans[p.Kind] = p
		return s, nil
	}
	for _, kind := range []provisioner.JobKind{provisioner.JobTest, provisioner.JobRelease} {
		var found string
		for _, ext := range []string{".yaml", ".yml", ".json"} {
			f := filepath.Join(path, string(kind)+ext)
			if _, err := os.Stat(f); err == nil {
				if found != "" {
					return nil, fmt.Errorf("plans: both %s and %s exist; keep one", found, f)
				}
				found = f
			} else if !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("plans: %w", err)
			}
		}
		if found == "" {
			continue
		}
		data, err := readPlanFile(found)
		if err != nil {
			return nil, err
		}
		p, err := parsePlanOf(kind, data, found)
		if err != nil {
			return nil, err
		}
		s.plans[kind] = p
	}
	return s, nil
}

func parsePlanOf(kind provisioner.JobKind, data []byte, source string) (Plan, error) {
	p, err := Parse(data, source)
	if err != nil {
		return Plan{}, err
	}
	if p.Kind != kind {
		return Plan{}, fmt.Errorf("plan %s: kind is %q, but the file is the %s plan", source, p.Kind, kind)
	}
	return p, nil
}

func readPlanFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("plans: %w", err)
	}
	defer f.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(io.LimitReader(f, maxFileBytes+1)); err != nil {
		return nil, fmt.Errorf("plans: %s: %w", path, err)
	}
	return b.Bytes(), nil
}
