// Package testkit is what tests across packages share: keys, clocks,
// environments and error checks. Only tests import it.
package testkit

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
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
