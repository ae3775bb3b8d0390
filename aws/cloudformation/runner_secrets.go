package cloudformation

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"strings"

	"provisioner"
	"provisioner/plan"
)

// maxSecretsObject bounds RunnerConfig.SecretsKey's object.
const maxSecretsObject = 256 << 10

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
	if _, err := plan.SecretsEnv(out); err != nil {
		return nil, err
	}
	return out, nil
}

// checkSecrets reads the operator's secrets object (SecretsKey), if any,
// and checks it as the machine will read it, so that a job does not start
// with secrets it cannot use. The values stay here.
func (r *Runner) checkSecrets(ctx context.Context) error {
	if r.cfg.SecretsKey == "" {
		return nil
	}
	b, err := r.get(ctx, r.cfg.SecretsKey, maxSecretsObject)
	if err != nil {
		return err
	}
	if b == nil {
		return provisioner.Errorf(provisioner.EINTERNAL, "the job secrets object s3://%s/%s does not exist", r.cfg.Bucket, r.cfg.SecretsKey)
	}
	if _, err := ParseSecrets(b); err != nil {
		return provisioner.Errorf(provisioner.EINTERNAL, "the job secrets object s3://%s/%s: %v", r.cfg.Bucket, r.cfg.SecretsKey, err)
	}
	return nil
}
