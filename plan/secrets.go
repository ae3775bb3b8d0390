package plan

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
)

// ParseSecrets reads job secrets: NAME=VALUE lines (the value is the rest
// of the line, as is), blank lines and # comments. An error never quotes a
// line: it may be a secret.
func ParseSecrets(b []byte) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if t := strings.TrimSpace(line); t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("line %d: want NAME=VALUE", n)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("line %d: %s is set twice", n, k)
		}
		out[k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if _, err := SecretsEnv(out); err != nil {
		return nil, err
	}
	return out, nil
}
