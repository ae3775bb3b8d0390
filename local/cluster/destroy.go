package cluster

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"slices"
	"sync"

	"provisioner"
)

// Destroy stops every process of the cluster (SIGTERM, then SIGKILL after
// StopTimeout) and removes its state; an absent cluster is not an error.
// It returns when the processes are gone. A quarantined cluster (see
// StartAdopt) is refused: only the operator destroys it, offline.
func (d *Driver) Destroy(ctx context.Context, name string) error {
	if err := provisioner.ValidateClusterName(name); err != nil {
		return err
	}
	d.adopting.RLock()
	defer d.adopting.RUnlock()
	defer d.lock(name, "destroy")()
	if d.isQuarantined(name) {
		return errQuarantined(name)
	}
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
	d.mu.Lock()
	delete(d.quarantined, name)
	d.mu.Unlock()
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
	r := d.adopt(ctx, nil)
	return r.Adopted, r.Err
}

// Known tells whether the service holds a record of a cluster.
type Known func(ctx context.Context, name string) (bool, error)

// AdoptResult is what an adoption found.
type AdoptResult struct {
	Adopted     []string // alive and known: managed again
	Quarantined []string // alive without a record: left running, never destroyed automatically
	Err         error    // clean-ups that failed
}

// StartAdopt is Adopt for a service that serves while it adopts: it locks
// out Deploy and Destroy at once, sweeps the directory in the background
// and sends the result on the returned channel, then unlocks. An alive
// cluster that known does not know (say, its database was lost) is
// quarantined, not destroyed: it keeps running, Quarantined lists it, and
// Deploy refuses its name until the operator destroys it (Destroy). A
// cluster that known cannot be asked about is adopted.
func (d *Driver) StartAdopt(ctx context.Context, known Known) <-chan AdoptResult {
	d.adopting.Lock()
	ch := make(chan AdoptResult, 1)
	go func() {
		defer d.adopting.Unlock()
		ch <- d.adopt(ctx, known)
	}()
	return ch
}

// adopt runs with d.adopting held. Dead clusters are cleaned in parallel:
// each may wait StopTimeout for its processes.
func (d *Driver) adopt(ctx context.Context, known Known) AdoptResult {
	var r AdoptResult
	names, err := d.stateNames()
	if err != nil {
		r.Err = err
		return r
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, name := range names {
		s, err := d.readState(name)
		if err == nil && !s.Pending && !s.Destroying && allAlive(s) {
			if known != nil {
				ok, kerr := known(ctx, name)
				if kerr == nil && !ok {
					r.Quarantined = append(r.Quarantined, name)
					d.mu.Lock()
					d.quarantined[name] = true
					d.mu.Unlock()
					d.log.Warn("cluster QUARANTINED: running, but the database has no record of it; left running, not managed. "+
						"Destroy it with `provisioner quarantine destroy "+name+" --data DIR` (serve stopped), or keep it",
						"cluster", name, "endpoint", s.Endpoint)
					continue
				}
				if kerr != nil {
					d.log.Warn("cannot look up the record of a live cluster; adopting it", "cluster", name, "err", kerr)
				}
			}
			r.Adopted = append(r.Adopted, name)
			d.log.Info("cluster re-adopted", "cluster", name, "endpoint", s.Endpoint)
			continue
		}
		d.log.Info("cleaning up a dead cluster", "cluster", name)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := d.destroy(ctx, name); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	keep := append(slices.Clone(r.Adopted), r.Quarantined...)
	if err := d.adoptGroups(ctx, keep); err != nil {
		errs = append(errs, err)
	}
	r.Err = errors.Join(errs...)
	return r
}

// Quarantined lists the clusters left running without a record, by name.
func (d *Driver) Quarantined() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]string, 0, len(d.quarantined))
	for n := range d.quarantined {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

func errQuarantined(name string) error {
	return provisioner.Errorf(provisioner.ECONFLICT,
		"a cluster named %s is running without a record (quarantined); the operator decides its fate: `provisioner quarantine destroy %s` with serve stopped", name, name)
}

// isQuarantined reports whether name is quarantined.
func (d *Driver) isQuarantined(name string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.quarantined[name]
}
