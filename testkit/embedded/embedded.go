// Package embedded is the test set-up of the embedded backend's store and
// keys, which the app, HTTP and gateway tests share. It is apart from
// testkit because the SQLite and keyring tests import testkit themselves.
package embedded

import (
	"path/filepath"
	"testing"

	"provisioner/local/keyring"
	"provisioner/sqlite"
)

// Open returns a SQLite store and an RSA keyring, each in a directory of
// the test's own, the store closed when the test ends.
func Open(t testing.TB) (*sqlite.DB, *keyring.Keyring) {
	t.Helper()
	store, err := sqlite.Open(filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	keys, err := keyring.Open(keyring.Config{Dir: filepath.Join(t.TempDir(), "keys")})
	if err != nil {
		t.Fatal(err)
	}
	return store, keys
}
