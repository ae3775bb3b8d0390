package cluster

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"provisioner/conformance"
	"provisioner/local/ilb/ilbtest"
)

// TestConformance runs the ClusterDriver suite on both kinds of local
// cluster: behind our gateway, and on production's ILB under HAProxy.
func TestConformance(t *testing.T) {
	names := func(prefix string) func() string {
		n := 0
		return func() string { n++; return fmt.Sprintf("%s-%d", prefix, n) }
	}
	t.Run("Gateway", func(t *testing.T) {
		conformance.ClusterDriver(t, func(t *testing.T) conformance.Driver {
			d := newTestDriver(t, `exec "$FAKE_BIN" upstream`)
			return conformance.Driver{Driver: d, Timeout: 15 * time.Second, Name: names("gw")}
		})
	})
	t.Run("ILB", func(t *testing.T) {
		if testing.Short() {
			t.Skip("runs HAProxy")
		}
		haproxy, _ := ilbtest.HAProxy(t)
		src := ilbtest.Dir(t)
		key := newRSAKey(t, "k1")
		conformance.ClusterDriver(t, func(t *testing.T) conformance.Driver {
			tag := "LOCAL_TEST_TAG=" + newInstance()
			t.Cleanup(func() {
				if pids := procsWithEnv(tag); len(pids) > 0 {
					t.Errorf("processes left behind: %v", pids)
				}
			})
			d := driverFor(t, Config{Dir: filepath.Join(t.TempDir(), "clusters"), Executable: fakeBin(t), Issuer: testIssuer,
				Command: `exec "$FAKE_BIN" node`, HealthTimeout: time.Second, StopTimeout: 3 * time.Second,
				Env: []string{fakeEnv + "=1", "FAKE_BIN=" + fakeBin(t), tag},
				ILB: &ILBConfig{HAProxy: haproxy, Dir: src, Key: func(context.Context) ([]byte, error) { return key.pem(t), nil }}})
			return conformance.Driver{Driver: d, Timeout: 20 * time.Second, Name: names("ilb")}
		})
	})
}
