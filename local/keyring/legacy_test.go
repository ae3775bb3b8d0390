package keyring

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"provisioner"
)

// TestUpgradeFromES256Directory is a data directory written by an ES256
// version, key file and all: opening it makes an RS256 key current, and the
// legacy key neither signs, nor is published, nor stays on disk.
func TestUpgradeFromES256Directory(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	legacyKid, err := Thumbprint(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	keyFile := filepath.Join(dir, keyFileName(legacyKid))
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	manifest := `{"version":1,"keys":[{"kid":"` + legacyKid + `","alg":"ES256","created_at":"2025-01-01T00:00:00Z"}]}`
	if err := os.WriteFile(filepath.Join(dir, manifestName), []byte(manifest), 0o600); err != nil {
		t.Fatal(err)
	}

	k := open(t, Config{Dir: dir})
	kid, alg, err := k.Current(ctx)
	if err != nil || alg != AlgRS256 || kid == legacyKid {
		t.Fatalf("Current = %q, %q, %v; want a new RS256 key", kid, alg, err)
	}
	keys, _ := k.PublicKeys(ctx)
	if len(keys) != 1 || keys[0].ID != kid || keys[0].Algorithm != AlgRS256 {
		t.Errorf("PublicKeys = %v, want only the new RS256 key", kids(keys))
	}
	if _, err := k.PublicKey(ctx, legacyKid); provisioner.ErrorCode(err) != provisioner.ENOTFOUND {
		t.Errorf("legacy ES256 key still published: %v", err)
	}
	if _, err := os.Stat(keyFile); !os.IsNotExist(err) {
		t.Errorf("legacy key file still on disk: %v", err)
	}
	msg := []byte("header.payload")
	sig, skid, salg, err := k.Sign(ctx, msg)
	if err != nil || skid != kid || salg != AlgRS256 {
		t.Fatalf("Sign = %q, %q, %v", skid, salg, err)
	}
	pk, _ := k.PublicKey(ctx, kid)
	verify(t, pk, msg, sig)
}
