// Package scripts holds the tests of the release scripts: dist.sh (make
// dist) against .goreleaser.yaml, and install.sh (the GitHub Action's
// install step) against a fake release.
package scripts

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"text/template"
	"time"

	"go.yaml.in/yaml/v4"
)

// goreleaser is the part of .goreleaser.yaml that must agree with dist.sh.
type goreleaser struct {
	Version     int    `yaml:"version"`
	ProjectName string `yaml:"project_name"`
	Builds      []struct {
		ID           string   `yaml:"id"`
		Main         string   `yaml:"main"`
		Binary       string   `yaml:"binary"`
		Env          []string `yaml:"env"`
		Flags        []string `yaml:"flags"`
		Tags         []string `yaml:"tags"`
		Ldflags      []string `yaml:"ldflags"`
		Goos         []string `yaml:"goos"`
		Goarch       []string `yaml:"goarch"`
		ModTimestamp string   `yaml:"mod_timestamp"`
	} `yaml:"builds"`
	Archives []struct {
		ID           string   `yaml:"id"`
		IDs          []string `yaml:"ids"`
		Formats      []string `yaml:"formats"`
		NameTemplate string   `yaml:"name_template"`
		Files        []string `yaml:"files"`
		BuildsInfo   struct {
			Mode  int    `yaml:"mode"`
			Mtime string `yaml:"mtime"`
		} `yaml:"builds_info"`
	} `yaml:"archives"`
	Checksum struct {
		NameTemplate string `yaml:"name_template"`
		Algorithm    string `yaml:"algorithm"`
	} `yaml:"checksum"`
}

// artifact is how one release file is built.
type artifact struct {
	GOOS, GOARCH, Main, Binary, Flags, Ldflags string
}

// fromGoReleaser lists the archives .goreleaser.yaml makes for tag, and the
// checksums file's name.
func fromGoReleaser(t *testing.T, tag string) (map[string]artifact, string) {
	t.Helper()
	b, err := os.ReadFile("../.goreleaser.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var g goreleaser
	if err := yaml.Unmarshal(b, &g); err != nil {
		t.Fatalf(".goreleaser.yaml: %v", err)
	}
	if g.Version != 2 {
		t.Errorf(".goreleaser.yaml: version %d, want 2", g.Version)
	}
	render := func(tmpl string, vars map[string]string) string {
		t.Helper()
		var sb strings.Builder
		if err := template.Must(template.New("").Option("missingkey=error").Parse(tmpl)).Execute(&sb, vars); err != nil {
			t.Fatalf("template %q: %v", tmpl, err)
		}
		return sb.String()
	}
	vars := map[string]string{"ProjectName": g.ProjectName, "Tag": tag, "Version": strings.TrimPrefix(tag, "v")}
	out := map[string]artifact{}
	for _, a := range g.Archives {
		if len(a.Formats) != 1 || !slices.Equal(a.Files, []string{"none*"}) || a.BuildsInfo.Mode != 0o755 {
			t.Errorf("archive %s: formats %v, files %v, mode %o; want one format, the binary alone (none*), 0755", a.ID, a.Formats, a.Files, a.BuildsInfo.Mode)
		}
		if a.BuildsInfo.Mtime != "1980-01-01T00:00:00Z" {
			t.Errorf("archive %s: mtime %q, want dist.sh's 1980-01-01T00:00:00Z", a.ID, a.BuildsInfo.Mtime)
		}
		for _, b := range g.Builds {
			if !slices.Contains(a.IDs, b.ID) {
				continue
			}
			if !slices.Equal(b.Env, []string{"CGO_ENABLED=0"}) || b.ModTimestamp != "315532800" || len(b.Ldflags) != 1 {
				t.Errorf("build %s: env %v, mod_timestamp %q, ldflags %v; want CGO_ENABLED=0, 315532800, one ldflags", b.ID, b.Env, b.ModTimestamp, b.Ldflags)
			}
			flags := strings.Join(b.Flags, " ")
			if len(b.Tags) > 0 {
				flags += " -tags " + strings.Join(b.Tags, ",")
			}
			for _, goos := range b.Goos {
				for _, goarch := range b.Goarch {
					v := map[string]string{"Os": goos, "Arch": goarch}
					for k, x := range vars {
						v[k] = x
					}
					name := render(a.NameTemplate, v) + "." + a.Formats[0]
					out[name] = artifact{GOOS: goos, GOARCH: goarch, Main: b.Main, Binary: b.Binary, Flags: flags, Ldflags: render(b.Ldflags[0], v)}
				}
			}
		}
	}
	if g.Checksum.Algorithm != "sha256" {
		t.Errorf(".goreleaser.yaml checksum algorithm %q, want sha256", g.Checksum.Algorithm)
	}
	return out, render(g.Checksum.NameTemplate, vars)
}

// dryRun is what `scripts/dist.sh --dry-run` says it would build.
func dryRun(t *testing.T, version string) (map[string]artifact, []string) {
	t.Helper()
	cmd := exec.Command("bash", "dist.sh", "--dry-run")
	cmd.Env = append(os.Environ(), "VERSION="+version, "DIST_DIR=dist", "DIST_TARGETS=", "GO=go")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("dist.sh --dry-run: %v\n%s", err, out)
	}
	line := regexp.MustCompile(`^dist/(\S+): GOOS=(\S+) GOARCH=(\S+) CGO_ENABLED=0 go build (.*) -ldflags '([^']*)' -o (\S+) (\S+)$`)
	arts := map[string]artifact{}
	var other []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		m := line.FindStringSubmatch(l)
		if m == nil {
			other = append(other, l)
			continue
		}
		arts[m[1]] = artifact{GOOS: m[2], GOARCH: m[3], Flags: m[4], Ldflags: m[5], Binary: m[6], Main: m[7]}
	}
	return arts, other
}

// TestGoReleaserMatchesDist: .goreleaser.yaml and scripts/dist.sh name the
// same archives for a tag, built from the same packages for the same
// platforms with the same flags, ldflags (the version stamped into
// provisioner/buildinfo) and checksums file, so they cannot drift apart.
func TestGoReleaserMatchesDist(t *testing.T) {
	const tag = "v1.2.3"
	want, sums := fromGoReleaser(t, tag)
	got, other := dryRun(t, tag)
	if len(want) != 5 {
		t.Errorf(".goreleaser.yaml makes %d archives, want 5 (linux, darwin x amd64, arm64, and the Lambda)", len(want))
	}
	for name, w := range want {
		if g, ok := got[name]; !ok {
			t.Errorf("dist.sh does not build %s", name)
		} else if g != w {
			t.Errorf("%s:\n dist.sh    %+v\n goreleaser %+v", name, g, w)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("dist.sh builds %s, .goreleaser.yaml does not", name)
		}
	}
	if !slices.Equal(other, []string{"dist/" + sums + ": sha256"}) {
		t.Errorf("dist.sh's checksums: %q, want dist/%s (sha256)", other, sums)
	}
	for name, a := range got {
		if !strings.Contains(a.Ldflags, "-X provisioner/buildinfo.version="+tag) || !strings.Contains(a.Ldflags, "-buildid=") {
			t.Errorf("%s: ldflags %q do not stamp %s into provisioner/buildinfo.version, or keep a build id", name, a.Ldflags, tag)
		}
	}
}

// TestDistBuild runs dist.sh as make dist does, for this machine's platform
// and the Lambda: the expected files, a checksums.txt that sha256sum -c
// accepts, archives holding the binary alone (0755, root, 1980-01-01),
// binaries that report the version, and the same bytes from a second run.
func TestDistBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the provisioner twice for two platforms")
	}
	const version = "v0.0.0-test.1"
	host := runtime.GOOS + "/" + runtime.GOARCH
	run := func(dir string) {
		t.Helper()
		cmd := exec.Command("bash", "dist.sh")
		cmd.Env = append(os.Environ(), "VERSION="+version, "DIST_DIR="+dir, "DIST_TARGETS="+host+" lambda", "SOURCE_DATE_EPOCH=")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("dist.sh: %v\n%s", err, out)
		}
	}
	a, b := t.TempDir(), t.TempDir()
	run(a)
	tarball := "provisioner_0.0.0-test.1_" + runtime.GOOS + "_" + runtime.GOARCH + ".tar.gz"
	lambdaZip := "provisioner-lambda_0.0.0-test.1_linux_arm64.zip"
	if names := dirNames(t, a); !slices.Equal(names, []string{"checksums.txt", lambdaZip, tarball}) {
		t.Fatalf("dist.sh made %v", names)
	}

	sums, err := os.ReadFile(filepath.Join(a, "checksums.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var wantSums string
	for _, name := range []string{lambdaZip, tarball} {
		wantSums += sha256Hex(t, filepath.Join(a, name)) + "  " + name + "\n"
	}
	if string(sums) != wantSums {
		t.Errorf("checksums.txt:\n%s\nwant\n%s", sums, wantSums)
	}
	if sc, err := exec.LookPath("sha256sum"); err == nil {
		cmd := exec.Command(sc, "-c", "checksums.txt")
		cmd.Dir = a
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("sha256sum -c checksums.txt: %v\n%s", err, out)
		}
	} else if os.Getenv("CI") == "true" {
		t.Error("no sha256sum")
	}

	epoch := time.Unix(315532800, 0)
	bin := filepath.Join(t.TempDir(), "provisioner")
	hdr := untarOne(t, filepath.Join(a, tarball), bin)
	if hdr.Name != "provisioner" || hdr.Mode != 0o755 || hdr.Uid != 0 || hdr.Gid != 0 || hdr.Uname != "root" || !hdr.ModTime.Equal(epoch) {
		t.Errorf("%s holds %s mode %o %d:%d (%s) %v; want provisioner 0755 root 0:0 %v", tarball, hdr.Name, hdr.Mode, hdr.Uid, hdr.Gid, hdr.Uname, hdr.ModTime, epoch)
	}
	if out, err := exec.Command(bin, "version").Output(); err != nil || string(out) != "provisioner version "+version+"\n" {
		t.Errorf("provisioner version: %q, %v", out, err)
	}

	zr, err := zip.OpenReader(filepath.Join(a, lambdaZip))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	if len(zr.File) != 1 || zr.File[0].Name != "bootstrap" || zr.File[0].Mode().Perm() != 0o755 || !zr.File[0].Modified.Equal(epoch) {
		for _, f := range zr.File {
			t.Errorf("%s holds %s %v %v", lambdaZip, f.Name, f.Mode(), f.Modified)
		}
		t.Errorf("want bootstrap alone, 0755, %v", epoch)
	}

	run(b)
	for _, name := range dirNames(t, a) {
		x, _ := os.ReadFile(filepath.Join(a, name))
		y, _ := os.ReadFile(filepath.Join(b, name))
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between two runs on the same source", name)
		}
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func sha256Hex(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// untarOne checks the tar.gz holds one file, writes it to out (0755) and
// returns its header.
func untarOne(t *testing.T, archive, out string) *tar.Header {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	hdr, err := tr.Next()
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(tr)
	if err != nil {
		t.Fatal(err)
	}
	if next, err := tr.Next(); err != io.EOF {
		t.Errorf("%s holds more than one file: %v", archive, next)
	}
	if err := os.WriteFile(out, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return hdr
}

// shellcheck finds shellcheck; under CI a missing one is a failure.
func shellcheck(t *testing.T) string {
	t.Helper()
	sc, err := exec.LookPath("shellcheck")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("no shellcheck (scripts/test.sh installs it)")
		}
		t.Skip("no shellcheck")
	}
	return sc
}

// TestShellcheckReleaseScripts: dist.sh and install.sh pass shellcheck.
func TestShellcheckReleaseScripts(t *testing.T) {
	sc := shellcheck(t)
	for _, s := range []string{"dist.sh", "install.sh"} {
		if out, err := exec.Command(sc, s).CombinedOutput(); err != nil {
			t.Errorf("shellcheck %s: %v\n%s", s, err, out)
		}
	}
}
