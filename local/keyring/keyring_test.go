package keyring

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"provisioner"
	"provisioner/local/internal/files"
)

func TestOpenGeneratesKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	k := open(t, Config{Dir: dir})
	ctx := context.Background()

	kid, alg, err := k.Current(ctx)
	if err != nil || alg != "RS256" || kid == "" {
		t.Fatalf("Current = %q, %q, %v", kid, alg, err)
	}
	pk, err := k.PublicKey(ctx, kid)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := Thumbprint(pk.Key); got != kid {
		t.Errorf("kid %q is not the key's thumbprint %q", kid, got)
	}
	msg := []byte("header.payload")
	sig, skid, salg, err := k.Sign(ctx, msg)
	if err != nil || skid != kid || salg != "RS256" {
		t.Fatalf("Sign = %q, %q, %v", skid, salg, err)
	}
	verify(t, pk, msg, sig)

	// Reopening keeps the key.
	if kid2, _, _ := open(t, Config{Dir: dir}).Current(ctx); kid2 != kid {
		t.Errorf("reopened current key %q, want %q", kid2, kid)
	}
}

func TestPermissions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	k := open(t, Config{Dir: dir})
	first, _, _ := k.Current(context.Background())
	kid, err := k.Rotate()
	if err != nil {
		t.Fatal(err)
	}

	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m := fi.Mode().Perm(); m != 0o700 {
		t.Errorf("dir mode %04o, want 0700", m)
	}
	for _, name := range []string{keyFileName(first), keyFileName(kid), manifestName} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if m := fi.Mode().Perm(); m != 0o600 {
			t.Errorf("%s mode %04o, want 0600", name, m)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if files.IsTemp(e.Name()) {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

func TestRefusesAccessibleKeyFile(t *testing.T) {
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660, 0o602} {
		dir := t.TempDir()
		k := open(t, Config{Dir: dir})
		kid, _, _ := k.Current(context.Background())
		if err := os.Chmod(filepath.Join(dir, keyFileName(kid)), mode); err != nil {
			t.Fatal(err)
		}
		_, err := Open(Config{Dir: dir})
		wantCode(t, err, provisioner.EINTERNAL)
		if msg := provisioner.ErrorMessage(err); !strings.Contains(msg, "chmod 600") {
			t.Errorf("mode %04o: message %q does not say how to fix it", mode, msg)
		}
		if !strings.Contains(err.Error(), keyFileName(kid)) {
			t.Errorf("mode %04o: error %q does not name the file", mode, err)
		}
	}
}

func TestRefusesBadKeyFiles(t *testing.T) {
	cases := map[string]func(dir, kid string){
		"not pem": func(dir, kid string) {
			os.WriteFile(filepath.Join(dir, keyFileName(kid)), []byte("junk"), 0o600)
		},
		"other key": func(dir, kid string) {
			other := t.TempDir()
			k2 := open(t, Config{Dir: other})
			kid2, _, _ := k2.Current(context.Background())
			b, _ := os.ReadFile(filepath.Join(other, keyFileName(kid2)))
			os.WriteFile(filepath.Join(dir, keyFileName(kid)), b, 0o600)
		},
		"missing": func(dir, kid string) {
			os.Remove(filepath.Join(dir, keyFileName(kid)))
		},
		"corrupt manifest": func(dir, _ string) {
			os.WriteFile(filepath.Join(dir, manifestName), []byte("{"), 0o600)
		},
		"path in manifest": func(dir, _ string) {
			os.WriteFile(filepath.Join(dir, manifestName), []byte(`{"version":1,"keys":[{"kid":"../../../../etc/passwd","alg":"RS256"}]}`), 0o600)
		},
		"future version": func(dir, _ string) {
			os.WriteFile(filepath.Join(dir, manifestName), []byte(`{"version":2,"keys":[]}`), 0o600)
		},
	}
	for name, spoil := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			kid, _, _ := open(t, Config{Dir: dir}).Current(context.Background())
			spoil(dir, kid)
			_, err := Open(Config{Dir: dir})
			wantCode(t, err, provisioner.EINTERNAL)
		})
	}
}

func TestEmptyDir(t *testing.T) {
	_, err := Open(Config{})
	wantCode(t, err, provisioner.EINVALID)
}

func TestUnknownKid(t *testing.T) {
	k := open(t, Config{Dir: t.TempDir()})
	for _, kid := range []string{"", "nope", strings.Repeat("A", 43), "../keys.json"} {
		_, err := k.PublicKey(context.Background(), kid)
		wantCode(t, err, provisioner.ENOTFOUND)
	}
}

func TestPublicKeysOrder(t *testing.T) {
	clk := newClock()
	k := open(t, Config{Dir: t.TempDir(), Now: clk.Now})
	first, _, _ := k.Current(context.Background())
	second, err := k.Rotate()
	if err != nil {
		t.Fatal(err)
	}
	third, err := k.Rotate()
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := k.PublicKeys(context.Background())
	if got, want := kids(keys), []string{third, second, first}; !slices.Equal(got, want) {
		t.Errorf("PublicKeys = %v, want %v", got, want)
	}
	infos := k.Keys()
	if len(infos) != 3 || !infos[2].Current || infos[0].Current || infos[0].RetiredAt.IsZero() || !infos[2].RetiredAt.IsZero() {
		t.Errorf("Keys = %+v", infos)
	}
}
