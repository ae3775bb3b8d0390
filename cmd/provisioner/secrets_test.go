package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadSecretsFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	got, err := readSecretsFile(write("ok", "# comment\n\nSLIDERULE_GITHUB_TOKEN=ghp_a=b c\r\nOTHER=\n", 0o600))
	if err != nil || len(got) != 2 || got["SLIDERULE_GITHUB_TOKEN"] != "ghp_a=b c" || got["OTHER"] != "" {
		t.Fatalf("%v %v", got, err)
	}
	if _, err := readSecretsFile(write("open", "A=1\n", 0o644)); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("a world-readable file: %v", err)
	}
	if _, err := readSecretsFile(write("bad", "no-equals-hunter2\n", 0o600)); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("a bad line: %v", err)
	}
	if _, err := readSecretsFile(write("dup", "A=1\nA=2\n", 0o600)); err == nil {
		t.Error("a name set twice was accepted")
	}
}
