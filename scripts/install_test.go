package scripts

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v4"
)

// release is a fake GitHub release server: files by path, and the paths
// asked for.
type release struct {
	srv   *httptest.Server
	mu    sync.Mutex
	files map[string][]byte
	asked []string
	fail  int // answer every request with this status, when set
}

func (r *release) requests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.asked)
}

// hostArchive is the release archive's name for this machine, as dist.sh
// names it.
func hostArchive(tag string) string {
	return "provisioner_" + strings.TrimPrefix(tag, "v") + "_" + runtime.GOOS + "_" + runtime.GOARCH + ".tar.gz"
}

// fakeRelease serves release tag under prefix: a tar.gz holding a dummy
// provisioner (a shell script printing its version) and a checksums.txt
// listing sum for it (the real SHA-256 when sum is ""), beside another
// platform's line.
func fakeRelease(t *testing.T, prefix, tag, sum string) *release {
	t.Helper()
	exe := []byte("#!/bin/sh\necho \"provisioner version " + tag + " (fake release)\"\n")
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	if err := tw.WriteHeader(&tar.Header{Name: "provisioner", Mode: 0o755, Size: int64(len(exe)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(exe); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if sum == "" {
		s := sha256.Sum256(buf.Bytes())
		sum = hex.EncodeToString(s[:])
	}
	archive := hostArchive(tag)
	sums := fmt.Sprintf("%s  provisioner-lambda_%s_linux_arm64.zip\n%s  %s\n",
		strings.Repeat("0", 64), strings.TrimPrefix(tag, "v"), sum, archive)
	r := &release{files: map[string][]byte{
		prefix + "/" + tag + "/" + archive:         buf.Bytes(),
		prefix + "/" + tag + "/" + "checksums.txt": []byte(sums),
	}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.asked = append(r.asked, req.URL.Path)
		b, ok := r.files[req.URL.Path]
		fail := r.fail
		r.mu.Unlock()
		if fail != 0 {
			w.WriteHeader(fail)
			return
		}
		if !ok {
			http.NotFound(w, req)
			return
		}
		_, _ = w.Write(b)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// stubGo is a stand-in for go: it records where and how it was run, and
// writes a runnable provisioner where -o says, so the fallback is tested
// without a minute of compiling.
func stubGo(t *testing.T) (path, log string) {
	t.Helper()
	dir := t.TempDir()
	path, log = filepath.Join(dir, "go"), filepath.Join(dir, "go.log")
	script := `#!/bin/sh
echo "$PWD|$*" >>"` + log + `"
out=""
while [ $# -gt 0 ]; do
	if [ "$1" = -o ]; then out=$2; fi
	shift
done
printf '#!/bin/sh\necho "provisioner version (built from source)"\n' >"$out"
chmod 0755 "$out"
`
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path, log
}

// installRun is one run of install.sh (or of an action step's script).
type installRun struct {
	code    int
	out     string
	outputs map[string]string // what it wrote to GITHUB_OUTPUT
}

// baseEnv is this process's environment without anything of GitHub
// Actions or the provisioner, so a test run inside a workflow sees only
// what the test sets.
func baseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GITHUB_") && !strings.HasPrefix(kv, "RUNNER_") && !strings.HasPrefix(kv, "PROVISIONER_") {
			env = append(env, kv)
		}
	}
	return env
}

// runScript runs a bash script as the runner runs a step (bash -eo
// pipefail) with env added, GITHUB_OUTPUT in a fresh file.
func runScript(t *testing.T, script string, env ...string) installRun {
	t.Helper()
	outFile := filepath.Join(t.TempDir(), "github-output")
	cmd := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script)
	cmd.Env = append(append(baseEnv(), "GITHUB_OUTPUT="+outFile), env...)
	out, err := cmd.CombinedOutput()
	r := installRun{out: string(out), outputs: map[string]string{}}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(outFile)
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			r.outputs[k] = v
		}
	}
	return r
}

// install runs scripts/install.sh DEST.
func install(t *testing.T, dest string, env ...string) installRun {
	t.Helper()
	script, err := filepath.Abs("install.sh")
	if err != nil {
		t.Fatal(err)
	}
	return runScript(t, `bash "$INSTALL_SH" "$INSTALL_DEST"`, append(env, "INSTALL_SH="+script, "INSTALL_DEST="+dest)...)
}

// actionStep is a step of action.yml.
type actionStep struct {
	Name string            `yaml:"name"`
	ID   string            `yaml:"id"`
	If   string            `yaml:"if"`
	Uses string            `yaml:"uses"`
	Run  string            `yaml:"run"`
	Env  map[string]string `yaml:"env"`
}

func actionSteps(t *testing.T) []actionStep {
	t.Helper()
	b, err := os.ReadFile("../action.yml")
	if err != nil {
		t.Fatal(err)
	}
	var action struct {
		Runs struct {
			Steps []actionStep `yaml:"steps"`
		} `yaml:"runs"`
	}
	if err := yaml.Unmarshal(b, &action); err != nil {
		t.Fatalf("action.yml: %v", err)
	}
	return action.Runs.Steps
}

// stepEnv is a step's env as the runner would set it: the given values
// for its ${{ }} expressions, the literal ones as written.
func stepEnv(t *testing.T, s actionStep, values map[string]string) []string {
	t.Helper()
	var env []string
	for k, v := range s.Env {
		if strings.Contains(v, "${{") {
			x, ok := values[k]
			if !ok {
				t.Fatalf("step %q: no value for %s = %s", s.Name, k, v)
			}
			v = x
		}
		env = append(env, k+"="+v)
	}
	return env
}

// TestActionInstallsRelease: the action installs the provisioner in three
// steps: the release of its ref (no Go needed), and only when there is
// none, setup-go and a build from source; all before logging in. Run as
// the runner runs them against a fake release: the right checksum
// installs the release's binary and skips the build.
func TestActionInstallsRelease(t *testing.T) {
	steps := actionSteps(t)
	if len(steps) < 4 {
		t.Fatalf("action.yml has %d steps", len(steps))
	}
	get, setup, build := steps[0], steps[1], steps[2]
	const notInstalled = "steps.install.outputs.installed != 'true'"
	if get.ID != "install" || get.If != "" || get.Env["PROVISIONER_REF"] != "${{ github.action_ref }}" ||
		get.Env["PROVISIONER_INSTALL_FROM"] != "release" || !strings.Contains(get.Run, "scripts/install.sh") {
		t.Errorf("the first step does not install the release of the action's ref: %+v", get)
	}
	if !strings.HasPrefix(setup.Uses, "actions/setup-go@") || setup.If != notInstalled {
		t.Errorf("setup-go runs if %q, want only without a release (%s)", setup.If, notInstalled)
	}
	if build.If != notInstalled || build.Env["PROVISIONER_INSTALL_FROM"] != "source" || !strings.Contains(build.Run, "scripts/install.sh") {
		t.Errorf("the source build is not the fallback: %+v", build)
	}
	if !strings.Contains(steps[3].Run, "login --github-actions") {
		t.Errorf("step 4 is %q, want the login", steps[3].Name)
	}

	const tag = "v1.2.3"
	rel := fakeRelease(t, "", tag, "")
	root, _ := filepath.Abs("..")
	temp := t.TempDir()
	r := runScript(t, get.Run, append(stepEnv(t, get, map[string]string{
		"PROVISIONER_REF": tag, "PROVISIONER_REPOSITORY": "example/provisioner", "PROVISIONER_RELEASES_URL": rel.srv.URL,
	}), "GITHUB_ACTION_PATH="+root, "RUNNER_TEMP="+temp, "GITHUB_ACTIONS=true")...)
	if r.code != 0 || r.outputs["installed"] != "true" || r.outputs["from"] != "release" {
		t.Fatalf("install step: exit %d, outputs %v\n%s", r.code, r.outputs, r.out)
	}
	out, err := exec.Command(filepath.Join(temp, "provisioner"), "--version").Output()
	if err != nil || !strings.Contains(string(out), tag+" (fake release)") {
		t.Errorf("the installed provisioner: %q, %v", out, err)
	}
	want := []string{"/" + tag + "/checksums.txt", "/" + tag + "/" + hostArchive(tag)}
	if got := rel.requests(); !slices.Equal(got, want) {
		t.Errorf("downloads %v, want %v", got, want)
	}
	if names := dirNames(t, temp); !slices.Equal(names, []string{"provisioner"}) {
		t.Errorf("RUNNER_TEMP holds %v", names)
	}
}

// TestActionBuildsWithoutRelease: a ref without a release (the tag is
// not published) leaves the first step with installed=false and nothing
// installed, and the source step builds (with a stub go here).
func TestActionBuildsWithoutRelease(t *testing.T) {
	steps := actionSteps(t)
	get, build := steps[0], steps[2]
	rel := fakeRelease(t, "", "v1.2.3", "")
	root, _ := filepath.Abs("..")
	temp := t.TempDir()
	goStub, goLog := stubGo(t)
	common := []string{"GITHUB_ACTION_PATH=" + root, "RUNNER_TEMP=" + temp, "PROVISIONER_INSTALL_GO=" + goStub}
	r := runScript(t, get.Run, append(stepEnv(t, get, map[string]string{
		"PROVISIONER_REF": "v9.9.9", "PROVISIONER_REPOSITORY": "example/provisioner", "PROVISIONER_RELEASES_URL": rel.srv.URL,
	}), common...)...)
	if r.code != 0 || r.outputs["installed"] != "false" {
		t.Fatalf("install step: exit %d, outputs %v\n%s", r.code, r.outputs, r.out)
	}
	if names := dirNames(t, temp); len(names) != 0 {
		t.Errorf("nothing should be installed yet: %v", names)
	}
	if _, err := os.Stat(goLog); err == nil {
		t.Error("the release step built from source")
	}
	r = runScript(t, build.Run, append(stepEnv(t, build, nil), common...)...)
	if r.code != 0 || r.outputs["from"] != "source" {
		t.Fatalf("source step: exit %d, outputs %v\n%s", r.code, r.outputs, r.out)
	}
	log, _ := os.ReadFile(goLog)
	if want := root + "|build -o " + filepath.Join(temp, "provisioner") + " ./cmd/provisioner\n"; string(log) != want {
		t.Errorf("go ran as %q, want %q", log, want)
	}
	if !strings.Contains(r.out, "built from source") {
		t.Errorf("the built provisioner did not run:\n%s", r.out)
	}
}

// TestInstallRefusesChecksumMismatch: an archive that does not match
// checksums.txt is refused with a clear message and a non-zero exit, and
// nothing is installed.
func TestInstallRefusesChecksumMismatch(t *testing.T) {
	rel := fakeRelease(t, "", "v1.2.3", strings.Repeat("ab", 32))
	goStub, goLog := stubGo(t)
	dir := t.TempDir()
	dest := filepath.Join(dir, "provisioner")
	r := install(t, dest, "PROVISIONER_REF=v1.2.3", "PROVISIONER_RELEASES_URL="+rel.srv.URL,
		"PROVISIONER_INSTALL_GO="+goStub, "GITHUB_ACTIONS=true")
	if r.code == 0 {
		t.Fatalf("installed despite a wrong checksum:\n%s", r.out)
	}
	if !strings.Contains(r.out, "::error::install: checksum mismatch for "+hostArchive("v1.2.3")) ||
		!strings.Contains(r.out, "refusing to install") {
		t.Errorf("unclear refusal:\n%s", r.out)
	}
	if names := dirNames(t, dir); len(names) != 0 {
		t.Errorf("installed anyway: %v", names)
	}
	if _, err := os.Stat(goLog); err == nil {
		t.Error("a mismatch fell back to building from source")
	}
	if r.outputs["installed"] != "" {
		t.Errorf("outputs %v after a refusal", r.outputs)
	}
}

// TestInstallFallsBack: without a release for the ref (404, a branch, a
// commit) the default mode builds from source, after asking for the
// release only when the ref is a release tag.
func TestInstallFallsBack(t *testing.T) {
	rel := fakeRelease(t, "", "v1.2.3", "")
	root, _ := filepath.Abs("..")
	for _, tc := range []struct {
		ref   string
		asked []string
	}{
		{"v1.2.4", []string{"/v1.2.4/checksums.txt"}},
		{"main", nil},
		{"0123456789abcdef0123456789abcdef01234567", nil},
		{"", nil},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			rel.mu.Lock()
			rel.asked = nil
			rel.mu.Unlock()
			goStub, goLog := stubGo(t)
			dest := filepath.Join(t.TempDir(), "bin", "provisioner")
			r := install(t, dest, "PROVISIONER_REF="+tc.ref, "PROVISIONER_RELEASES_URL="+rel.srv.URL, "PROVISIONER_INSTALL_GO="+goStub)
			if r.code != 0 || r.outputs["installed"] != "true" || r.outputs["from"] != "source" {
				t.Fatalf("exit %d, outputs %v\n%s", r.code, r.outputs, r.out)
			}
			if log, _ := os.ReadFile(goLog); !strings.HasPrefix(string(log), root+"|build -o "+dest+" ") {
				t.Errorf("go ran as %q", log)
			}
			if got := rel.requests(); !slices.Equal(got, tc.asked) {
				t.Errorf("asked for %v, want %v", got, tc.asked)
			}
		})
	}
}

// TestInstallBrokenRelease: a release that lists no archive for this
// machine, or lists one that is missing, is an error, not a reason to
// build from source; nothing is installed.
func TestInstallBrokenRelease(t *testing.T) {
	for name, broken := range map[string]func(r *release){
		"no line for this platform": func(r *release) {
			r.files["/v1.2.3/checksums.txt"] = []byte(strings.Repeat("0", 64) + "  provisioner_1.2.3_plan9_mips.tar.gz\n")
		},
		"archive missing": func(r *release) { delete(r.files, "/v1.2.3/"+hostArchive("v1.2.3")) },
		"server error": func(r *release) {
			r.fail = http.StatusForbidden
		},
	} {
		t.Run(name, func(t *testing.T) {
			rel := fakeRelease(t, "", "v1.2.3", "")
			broken(rel)
			goStub, goLog := stubGo(t)
			dir := t.TempDir()
			r := install(t, filepath.Join(dir, "provisioner"), "PROVISIONER_REF=v1.2.3", "PROVISIONER_RELEASES_URL="+rel.srv.URL, "PROVISIONER_INSTALL_GO="+goStub)
			if r.code == 0 {
				t.Fatalf("installed from a broken release:\n%s", r.out)
			}
			if names := dirNames(t, dir); len(names) != 0 {
				t.Errorf("installed anyway: %v", names)
			}
			if _, err := os.Stat(goLog); err == nil {
				t.Error("fell back to building from source")
			}
			t.Log(strings.TrimSpace(r.out))
		})
	}
}

// TestInstallDefaultURL: with no URL given, the release comes from the
// repository's GitHub releases (GITHUB_SERVER_URL/OWNER/REPO/releases/
// download), and the ref and repository from the action's checkout path
// when github.action_ref is empty, as it can be in composite actions.
func TestInstallDefaultURL(t *testing.T) {
	const prefix = "/example/provisioner/releases/download"
	rel := fakeRelease(t, prefix, "v1.2.3", "")
	dest := filepath.Join(t.TempDir(), "provisioner")
	r := install(t, dest, "GITHUB_SERVER_URL="+rel.srv.URL,
		"GITHUB_ACTION_PATH=/home/runner/work/_actions/example/provisioner/v1.2.3")
	if r.code != 0 || r.outputs["from"] != "release" {
		t.Fatalf("exit %d, outputs %v\n%s", r.code, r.outputs, r.out)
	}
	if got := rel.requests(); len(got) != 2 || got[0] != prefix+"/v1.2.3/checksums.txt" {
		t.Errorf("downloads %v", got)
	}
}

// TestInstallBuildsForReal: the fallback with the real go builds a
// provisioner that runs.
func TestInstallBuildsForReal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the provisioner")
	}
	dest := filepath.Join(t.TempDir(), "provisioner")
	r := install(t, dest, "PROVISIONER_REF=main")
	if r.code != 0 || r.outputs["from"] != "source" {
		t.Fatalf("exit %d, outputs %v\n%s", r.code, r.outputs, r.out)
	}
	if out, err := exec.Command(dest, "version").Output(); err != nil || !strings.HasPrefix(string(out), "provisioner version ") {
		t.Errorf("provisioner version: %q, %v", out, err)
	}
}
