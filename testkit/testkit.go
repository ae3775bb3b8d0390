// Package testkit is what tests across packages share: keys, clocks,
// environments, checkers and error checks. Only tests import it.
package testkit

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"provisioner"

	"golang.org/x/crypto/ssh"
)

// SSHKey makes an ed25519 key: its OpenSSH private key file (what the
// released client reads from ~/.sliderule_key) and its authorized-key line.
func SSHKey(t testing.TB) (private []byte, public string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	pk, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(block), strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pk)))
}

// Shellcheck runs shellcheck on bash scripts: on each file, with args (such
// as "-S", "warning") before it; whatever it reports fails t. Without
// shellcheck, t is skipped, but under CI (CI=true) it fails: scripts/test.sh
// installs shellcheck there. A test that checks more than scripts calls it
// in a subtest of its own, so that only that part is skipped.
func Shellcheck(t testing.TB, args []string, files ...string) {
	t.Helper()
	sc, err := exec.LookPath("shellcheck")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("no shellcheck: it is required under CI (scripts/test.sh installs it)")
		}
		t.Skip("no shellcheck")
	}
	for _, f := range files {
		cmd := exec.Command(sc, append(append([]string{"-s", "bash"}, args...), f)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("shellcheck %s: %v\n%s", f, err, out)
		}
	}
}

// SourceEnv sources an environment file in bash (set -u, an empty
// environment but PATH) and returns the named variables' values.
func SourceEnv(t testing.TB, env []byte, names ...string) map[string]string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "job.env")
	if err := os.WriteFile(f, env, 0o600); err != nil {
		t.Fatal(err)
	}
	script := `set -u; . "$1" || exit 9; shift; for n in "$@"; do printf '%s\0%s\0' "$n" "${!n}"; done`
	cmd := exec.Command("bash", append([]string{"--noprofile", "--norc", "-c", script, "bash", f}, names...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sourcing the environment file: %v\n%s", err, env)
	}
	got := map[string]string{}
	parts := strings.Split(string(out), "\x00")
	for i := 0; i+1 < len(parts); i += 2 {
		got[parts[i]] = parts[i+1]
	}
	return got
}

// WantCode fails the test unless err is a *provisioner.Error with code and
// a message for the caller, and returns it.
func WantCode(t testing.TB, err error, code string) *provisioner.Error {
	t.Helper()
	var pe *provisioner.Error
	switch {
	case err == nil:
		t.Fatalf("err = nil, want code %s", code)
	case !errors.As(err, &pe):
		t.Fatalf("err = %v (%T), want a *provisioner.Error with code %s", err, err, code)
	case pe.Code != code:
		t.Fatalf("err code = %s (%v), want %s", pe.Code, err, code)
	case pe.Message == "":
		t.Fatalf("err %v has an empty message", err)
	}
	return pe
}
