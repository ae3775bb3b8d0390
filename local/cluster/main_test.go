package cluster

import (
	"os"
	"testing"
)

// TestMain lets the test binary play the cluster's processes: the driver
// under test runs it as `<test binary> gateway ...` (and the upstream
// command as `... upstream`) with fakeEnv set, so the tests need neither
// the real provisioner binary nor a build step.
func TestMain(m *testing.M) {
	if os.Getenv(fakeEnv) != "" {
		os.Exit(fakeMain(os.Args[1:]))
	}
	os.Exit(m.Run())
}
