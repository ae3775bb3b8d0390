package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"provisioner/client"
)

// TestCLISignsUnderPolicy: against serve --signature-policy everyone with
// otto's public key in --signing-keys, the CLI deploys, extends and
// destroys when it has the private key (--signing-key, the environment, or
// ~/.sliderule_key as the Python client reads it); without a key it says
// how to make and configure one; with the wrong key it names the key used.
func TestCLISignsUnderPolicy(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("PROVISIONER_CONFIG_DIR", t.TempDir())
	t.Setenv("PROVISIONER_TOKEN", "")
	t.Setenv("PROVISIONER_SIGNING_KEY", "")
	priv, pub := sshKey(t)
	wrong, _ := sshKey(t)
	dir := t.TempDir()
	keyFile, wrongFile, keys := filepath.Join(dir, "otto_key"), filepath.Join(dir, "wrong_key"), filepath.Join(dir, "signing-keys")
	for p, b := range map[string][]byte{keyFile: priv, wrongFile: wrong, keys: []byte("otto " + pub + " otto@laptop\n")} {
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	srv := clusterServe(t, t.TempDir(), "127.0.0.1:0", "PROVISIONER_SIGNATURE_POLICY=everyone", "PROVISIONER_SIGNING_KEYS="+keys)
	t.Setenv("PROVISIONER_URL", srv.URL)
	mustCLI(t, "login", "--pat", "member-token-1")

	// No key anywhere: refused, with how to configure one; reading calls work.
	code, _, errs := cli(t, "", "deploy", "signed", "--nodes", "1", "--ttl", "30m", "--version", "v4.5.1")
	if code != exitAuth || !strings.Contains(errs, "ssh-keygen -t ed25519") || !strings.Contains(errs, "--signing-key FILE") ||
		!strings.Contains(errs, "PROVISIONER_SIGNING_KEY") {
		t.Fatalf("unsigned deploy: exit %d\n%s", code, errs)
	}
	t.Logf("unsigned deploy:\n%s", errs)
	if st := statusOf(t, "signed"); st["state"] != "absent" {
		t.Fatalf("an unsigned deploy changed state: %v", st)
	}

	// --signing-key: deploy and extend are signed and accepted.
	if code, _, errs := cli(t, "", "deploy", "signed", "--nodes", "1", "--ttl", "30m", "--version", "v4.5.1", "--wait",
		"--signing-key", keyFile); code != 0 {
		t.Fatalf("signed deploy: exit %d\n%s\n%s", code, errs, srv.stderr)
	}
	if st := statusOf(t, "signed"); st["state"] != "running" {
		t.Fatalf("status after a signed deploy: %v", st)
	}
	mustCLI(t, "extend", "signed", "--ttl", "45m", "--signing-key", keyFile)

	// The wrong key, from the environment: refused, and the hint names it.
	t.Setenv("PROVISIONER_SIGNING_KEY", wrongFile)
	code, _, errs = cli(t, "", "extend", "signed", "--ttl", "50m")
	if code != exitAuth || !strings.Contains(errs, "does not verify") || !strings.Contains(errs, wrongFile) || !strings.Contains(errs, "SHA256:") {
		t.Errorf("extend with the wrong key: exit %d\n%s", code, errs)
	}
	// A key file that is not a key: a usage error before any request.
	t.Setenv("PROVISIONER_SIGNING_KEY", keys)
	if code, _, errs := cli(t, "", "extend", "signed", "--ttl", "50m"); code != exitUsage || !strings.Contains(errs, "--signing-key") {
		t.Errorf("extend with a public key file as the key: exit %d\n%s", code, errs)
	}

	// ~/.sliderule_key, the Python client's file, is the default.
	t.Setenv("PROVISIONER_SIGNING_KEY", "")
	if err := os.WriteFile(filepath.Join(home, ".sliderule_key"), priv, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := cli(t, "", "destroy", "signed", "--wait"); code != 0 {
		t.Fatalf("destroy signed with ~/.sliderule_key: exit %d\n%s\n%s", code, errs, srv.stderr)
	}
	if st := statusOf(t, "signed"); st["state"] != "absent" {
		t.Fatalf("status after a signed destroy: %v", st)
	}
	// A default key that cannot be read is reported; the call goes unsigned.
	if err := os.WriteFile(filepath.Join(home, ".sliderule_key"), []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errs = cli(t, "", "destroy", "signed")
	if code != exitAuth || !strings.Contains(errs, "warning: requests are not signed") || !strings.Contains(errs, "signature") {
		t.Errorf("destroy with a broken ~/.sliderule_key: exit %d\n%s", code, errs)
	}
}

// TestGoSignerMatchesReleasedClient: for the same key, host and path,
// timestamp and body, the Go client's signature is byte for byte the one
// the released Python client's __signrequest makes (ed25519 signatures are
// deterministic), so the two clients are interchangeable with one key.
func TestGoSignerMatchesReleasedClient(t *testing.T) {
	c := newReleasedClients(t)
	c.routes = clientRoutes(clientsDomain, "http://127.0.0.1:9", nil) // the signer sends nothing
	if err := os.MkdirAll(c.home, 0o700); err != nil {
		t.Fatal(err)
	}
	priv, _ := sshKey(t)
	if err := os.WriteFile(filepath.Join(c.home, ".sliderule_key"), priv, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := client.ParseSigner(priv)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ hostPath, body string }{
		{"provisioner." + clientsDomain + "/deploy", `{"cluster": "c1", "is_public": false, "node_capacity": 2, "ttl": 60, "version": "latest"}`},
		{"provisioner." + clientsDomain + "/destroy", `{"cluster": "c1"}`},
		{"127.0.0.1:8080/jobs/0f0f/cancel", ``},
		{"provisioner." + clientsDomain + "/extend", `{"cluster": "ü-ñ", "ttl": 5}`},
	} {
		h := c.signWithClient(t, tc.hostPath, tc.body, 0)
		ts, err := strconv.ParseInt(h["x-sliderule-timestamp"], 10, 64)
		if err != nil {
			t.Fatalf("the client's timestamp %q: %v", h["x-sliderule-timestamp"], err)
		}
		gts, gsig := s.Headers(tc.hostPath, ts, []byte(tc.body))
		if gts != h["x-sliderule-timestamp"] || gsig != h["x-sliderule-signature"] {
			t.Errorf("%s %s:\n Go     %s %s\n Python %s %s", tc.hostPath, tc.body, gts, gsig,
				h["x-sliderule-timestamp"], h["x-sliderule-signature"])
		}
	}
}
