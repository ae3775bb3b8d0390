package files

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// WriteAtomic replaces a file whole, owner-only, and leaves no temporary
// file behind; ReadSmall refuses what is over its limit.
func TestWriteAtomicAndReadSmall(t *testing.T) {
	dir := t.TempDir()
	for _, content := range []string{"first", "second, longer"} {
		if err := WriteAtomic(dir, "state.json", []byte(content)); err != nil {
			t.Fatal(err)
		}
		b, err := ReadSmall(filepath.Join(dir, "state.json"), 64)
		if err != nil || string(b) != content {
			t.Fatalf("read %q, %v; want %q", b, err, content)
		}
	}
	fi, err := os.Stat(filepath.Join(dir, "state.json"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v", fi.Mode(), err)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if IsTemp(e.Name()) {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
	if _, err := ReadSmall(filepath.Join(dir, "state.json"), 5); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("over the limit: %v", err)
	}
	if b, err := ReadLimited(strings.NewReader("12345"), 5); err != nil || string(b) != "12345" {
		t.Fatalf("at the limit: %q %v", b, err)
	}
	if err := WriteAtomic(filepath.Join(dir, "missing"), "x", nil); err == nil {
		t.Fatal("wrote into a missing directory")
	}
	if !IsTemp(TmpPrefix+"x") || IsTemp("key-x.pem") {
		t.Fatal("IsTemp")
	}
}
