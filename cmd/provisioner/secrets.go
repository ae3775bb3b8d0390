package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"
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
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%s line %d: want NAME=VALUE", path, n) // never the line: it may be a secret
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("%s line %d: %s is set twice", path, n, k)
		}
		out[k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}
