// Package scripts holds the repository's shell scripts and tools; its test
// checks every shell script of the repository.
package scripts

import (
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"provisioner/testkit"
)

// TestShellcheck checks every *.sh file of the repository as it is (hidden
// directories left out): these scripts, and those the binaries embed,
// whose packages' tests also check them as they are rendered.
func TestShellcheck(t *testing.T) {
	var files []string
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != ".." && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".sh") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 5 {
		t.Fatalf("found only %v", files)
	}
	testkit.Shellcheck(t, []string{"-x", "-S", "warning"}, files...) // -x: follows what a script sources
}
