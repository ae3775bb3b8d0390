package main

import (
	"fmt"
	"io"
	"os"

	"provisioner/plan"
)

// readSecretsFile reads serve --job-secrets: NAME=VALUE lines (the value is
// the rest of the line, as is), blank lines and # comments. The file must
// be a regular file that only its owner can read or write.
func readSecretsFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s is readable or writable by others (mode %04o): chmod 600 it", path, fi.Mode().Perm())
	}
	b, err := io.ReadAll(io.LimitReader(f, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out, err := plan.ParseSecrets(b)
	if err != nil {
		return nil, fmt.Errorf("%s %w", path, err) // never the line: it may be a secret
	}
	return out, nil
}
