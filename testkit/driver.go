package testkit

import (
	"context"
	"sync"

	"provisioner"
)

// InstantDriver is a ClusterDriver (and NodeGroupDriver) whose clusters and
// node groups run as soon as they are deployed, for tests about the API
// and the page rather than the clusters; the real drivers have their own
// tests and the conformance suite.
type InstantDriver struct {
	mu sync.Mutex
	up map[string]bool
}

var (
	_ provisioner.ClusterDriver   = (*InstantDriver)(nil)
	_ provisioner.NodeGroupDriver = (*InstantDriver)(nil)
)

// Deploy runs the cluster at once.
func (d *InstantDriver) Deploy(_ context.Context, s provisioner.ClusterSpec) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.up == nil {
		d.up = map[string]bool{}
	}
	d.up[s.Name] = true
	return nil
}

// Status is running, with an endpoint nobody answers at, or absent.
func (d *InstantDriver) Status(_ context.Context, name string) (provisioner.DriverStatus, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.up[name] {
		return provisioner.DriverStatus{State: provisioner.StateRunning, Endpoint: "http://127.0.0.1:9/" + name}, nil
	}
	return provisioner.DriverStatus{State: provisioner.StateAbsent}, nil
}

// Destroy ends the cluster at once.
func (d *InstantDriver) Destroy(_ context.Context, name string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.up, name)
	return nil
}

// DeployGroup runs the node group at once, keyed cluster/user.
func (d *InstantDriver) DeployGroup(ctx context.Context, s provisioner.NodeGroupSpec) error {
	return d.Deploy(ctx, provisioner.ClusterSpec{Name: provisioner.GroupKey(s.Cluster, s.User)})
}

// GroupStatus is Status of the group's key.
func (d *InstantDriver) GroupStatus(ctx context.Context, cluster, user string) (provisioner.DriverStatus, error) {
	return d.Status(ctx, provisioner.GroupKey(cluster, user))
}

// DestroyGroup ends the node group at once.
func (d *InstantDriver) DestroyGroup(ctx context.Context, cluster, user string) error {
	return d.Destroy(ctx, provisioner.GroupKey(cluster, user))
}
