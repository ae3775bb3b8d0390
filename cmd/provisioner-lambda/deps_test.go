package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoEmbeddedBackend keeps the Lambda small: it must link none of the
// embedded backend (SQLite, the local clusters and keyring), the CLI or the
// gateway's metrics. The size itself is in BENCHMARKS.md.
func TestNoEmbeddedBackend(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-tags", "lambda.norpc", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"modernc.org/sqlite", "provisioner/sqlite", "provisioner/local", "provisioner/gateway",
			"github.com/spf13/cobra", "github.com/prometheus/", "github.com/aws/aws-sdk-go-v2/service/ec2"} {
			if dep == banned || strings.HasPrefix(dep, banned+"/") || (strings.HasSuffix(banned, "/") && strings.HasPrefix(dep, banned)) {
				t.Errorf("the Lambda links %s", dep)
			}
		}
	}
}
