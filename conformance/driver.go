package conformance

import (
	"context"
	"strings"
	"testing"
	"time"

	"provisioner"
)

// Driver is a ClusterDriver with what the suite needs to use it.
type Driver struct {
	Driver provisioner.ClusterDriver
	// Name returns a cluster name no other test uses (backends may share
	// one emulator or host).
	Name func() string
	// Timeout bounds how long a deploy or destroy may take to show.
	Timeout time.Duration
}

// ClusterDriver runs the ClusterDriver contract: Deploy, Status and
// Destroy are idempotent, "running" means answering with nodes, and what
// was never deployed is absent and harmless to destroy.
func ClusterDriver(t *testing.T, newDriver func(t *testing.T) Driver) {
	ctx := context.Background()
	spec := func(name string) provisioner.ClusterSpec {
		return provisioner.ClusterSpec{Name: name, NodeCapacity: 2, Version: "v4.5.1", CreatedBy: "ada",
			ExpiresAt: time.Now().Add(4 * time.Hour).UTC().Truncate(time.Second)}
	}
	// until polls Status until it is want (or fails the test).
	until := func(t *testing.T, d Driver, name string, want provisioner.ClusterState) provisioner.DriverStatus {
		t.Helper()
		deadline := time.Now().Add(d.Timeout)
		for {
			st, err := d.Driver.Status(ctx, name)
			if err != nil {
				t.Fatalf("Status(%s): %v", name, err)
			}
			if st.State == want {
				return st
			}
			if st.State == provisioner.StateFailed || time.Now().After(deadline) {
				t.Fatalf("%s is %s (%s), want %s", name, st.State, st.Reason, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	deploy := func(t *testing.T, d Driver, s provisioner.ClusterSpec) {
		t.Helper()
		if err := d.Driver.Deploy(ctx, s); err != nil {
			t.Fatalf("Deploy(%s): %v", s.Name, err)
		}
		t.Cleanup(func() { _ = d.Driver.Destroy(context.Background(), s.Name) })
	}
	// running is a new driver with a cluster of its own deployed and running.
	running := func(t *testing.T) (Driver, provisioner.ClusterSpec, provisioner.DriverStatus) {
		t.Helper()
		d := newDriver(t)
		s := spec(d.Name())
		deploy(t, d, s)
		return d, s, until(t, d, s.Name, provisioner.StateRunning)
	}

	t.Run("DeployRuns", func(t *testing.T) {
		_, _, st := running(t)
		if st.Nodes < 1 {
			t.Errorf("running with %d nodes", st.Nodes)
		}
		if !strings.HasPrefix(st.Endpoint, "http://") && !strings.HasPrefix(st.Endpoint, "https://") {
			t.Errorf("running at endpoint %q, want a URL", st.Endpoint)
		}
	})
	t.Run("DeployIdempotent", func(t *testing.T) {
		// A retry after a crash deploys the same spec again: one cluster.
		d := newDriver(t)
		s := spec(d.Name())
		deploy(t, d, s)
		if err := d.Driver.Deploy(ctx, s); err != nil {
			t.Fatalf("second Deploy while deploying: %v", err)
		}
		first := until(t, d, s.Name, provisioner.StateRunning)
		if err := d.Driver.Deploy(ctx, s); err != nil {
			t.Fatalf("Deploy of a running cluster: %v", err)
		}
		again := until(t, d, s.Name, provisioner.StateRunning)
		if again.Endpoint != first.Endpoint {
			t.Errorf("a repeated Deploy moved the cluster: %s, was %s", again.Endpoint, first.Endpoint)
		}
	})
	t.Run("NeverDeployed", func(t *testing.T) {
		d := newDriver(t)
		name := d.Name()
		st, err := d.Driver.Status(ctx, name)
		if err != nil || st.State != provisioner.StateAbsent {
			t.Errorf("Status of a cluster never deployed = %+v, %v; want absent", st, err)
		}
		if err := d.Driver.Destroy(ctx, name); err != nil {
			t.Errorf("Destroy of a cluster never deployed: %v", err)
		}
	})
	t.Run("DestroyIdempotent", func(t *testing.T) {
		d, s, _ := running(t)
		for range 2 {
			if err := d.Driver.Destroy(ctx, s.Name); err != nil {
				t.Fatalf("Destroy: %v", err)
			}
		}
		until(t, d, s.Name, provisioner.StateAbsent)
		if err := d.Driver.Destroy(ctx, s.Name); err != nil {
			t.Errorf("Destroy of a destroyed cluster: %v", err)
		}
	})
	t.Run("Redeploy", func(t *testing.T) {
		// A name is free again once its cluster is gone.
		d, s, _ := running(t)
		if err := d.Driver.Destroy(ctx, s.Name); err != nil {
			t.Fatal(err)
		}
		until(t, d, s.Name, provisioner.StateAbsent)
		deploy(t, d, s)
		until(t, d, s.Name, provisioner.StateRunning)
	})
	t.Run("BadSpecRefused", func(t *testing.T) {
		d := newDriver(t)
		good := spec(d.Name())
		for what, edit := range map[string]func(*provisioner.ClusterSpec){
			"bad name":    func(s *provisioner.ClusterSpec) { s.Name = "Bad_Name" },
			"path name":   func(s *provisioner.ClusterSpec) { s.Name = "../etc" },
			"no nodes":    func(s *provisioner.ClusterSpec) { s.NodeCapacity = 0 },
			"bad version": func(s *provisioner.ClusterSpec) { s.Version = "v1; rm -rf /" },
			"bad creator": func(s *provisioner.ClusterSpec) { s.CreatedBy = "a b\nc" },
			"expired":     func(s *provisioner.ClusterSpec) { s.ExpiresAt = time.Now().Add(-time.Hour) },
		} {
			s := good
			edit(&s)
			if err := d.Driver.Deploy(ctx, s); provisioner.ErrorCode(err) != provisioner.EINVALID {
				t.Errorf("%s: Deploy = %v, want %s", what, err, provisioner.EINVALID)
			}
		}
		if st, err := d.Driver.Status(ctx, good.Name); err != nil || st.State != provisioner.StateAbsent {
			t.Errorf("after refused deploys: %+v, %v", st, err)
		}
	})
}
