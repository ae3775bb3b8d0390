package local

import (
	"context"
	"errors"
	"io/fs"
	"os"

	"provisioner"
)

// Destroy stops every process of the cluster (SIGTERM, then SIGKILL after
// StopTimeout) and removes its state; an absent cluster is not an error.
// It returns when the processes are gone.
func (d *Driver) Destroy(ctx context.Context, name string) error {
	if err := provisioner.ValidateClusterName(name); err != nil {
		return err
	}
	d.adopting.RLock()
	defer d.adopting.RUnlock()
	defer d.lock(name, "destroy")()
	return d.destroy(ctx, name)
}

// destroy runs under the cluster's lock.
func (d *Driver) destroy(ctx context.Context, name string) error {
	s, err := d.readState(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return d.destroyGroupsOf(ctx, name) // none should be left; make sure
	case errors.Is(err, errCorrupt):
		// Nothing in it can be trusted to signal; drop it.
		d.log.Warn("removing an unreadable cluster state file", "cluster", name, "err", err)
		d.destroyGroupsOf(ctx, name)
		os.RemoveAll(d.ilbDir(name))
		return d.removeState(name)
	case err != nil:
		return provisioner.Wrap(provisioner.EINTERNAL, err, "cannot read the state of cluster %s", name)
	}
	// Its node groups first, as production deletes their stacks first.
	if err := d.destroyGroupsOf(ctx, name); err != nil {
		return provisioner.Wrap(provisioner.EUNAVAILABLE, err, "cannot stop the node groups of cluster %s", name)
	}
	if !s.Destroying {
		s.Destroying = true
		if err := d.writeState(s); err != nil {
			return provisioner.Wrap(provisioner.EINTERNAL, err, "cannot record the destroy of cluster %s", name)
		}
	}
	if err := d.stop(ctx, s); err != nil {
		return provisioner.Wrap(provisioner.EUNAVAILABLE, err, "cannot stop cluster %s", name)
	}
	d.forget(s)
	if err := os.RemoveAll(d.ilbDir(name)); err != nil {
		return provisioner.Wrap(provisioner.EINTERNAL, err, "cannot remove the ILB files of cluster %s", name)
	}
	if err := d.removeState(name); err != nil {
		return provisioner.Wrap(provisioner.EINTERNAL, err, "cannot remove the state of cluster %s", name)
	}
	d.log.Info("cluster destroyed", "cluster", name)
	return nil
}

// Adopt is called once when the service starts: it returns the clusters
// whose processes survived (they are managed again from now on) and
// destroys the rest — dead, half-deployed or half-destroyed ones — so
// nothing of them is left running.
func (d *Driver) Adopt(ctx context.Context) ([]string, error) {
	d.adopting.Lock()
	defer d.adopting.Unlock()
	names, err := d.stateNames()
	if err != nil {
		return nil, err
	}
	var adopted []string
	var errs []error
	for _, name := range names {
		s, err := d.readState(name)
		if err == nil && !s.Pending && !s.Destroying && allAlive(s) {
			adopted = append(adopted, name)
			d.log.Info("cluster re-adopted", "cluster", name, "endpoint", s.Endpoint)
			continue
		}
		d.log.Info("cleaning up a dead cluster", "cluster", name)
		if err := d.destroy(ctx, name); err != nil {
			errs = append(errs, err)
		}
	}
	if err := d.adoptGroups(ctx, adopted); err != nil {
		errs = append(errs, err)
	}
	return adopted, errors.Join(errs...)
}
