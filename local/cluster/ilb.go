package cluster

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"provisioner"
	"provisioner/local/ilb"
)

// ILBConfig runs local clusters on production SlideRule's ILB (package
// ilb): HAProxy with production's haproxy.cfg, orchestrator.lua and
// analyzer.lua, so the token checks are production's, and one Command per
// node, which registers with the ILB's node-facing port as a SlideRule node
// does. The cluster's endpoint is the ILB's user port.
type ILBConfig struct {
	// HAProxy is the binary, version 3.0 or newer.
	HAProxy string
	// Dir holds production's ILB files (a SlideRule checkout's apps/ilb).
	Dir string
	// Key returns the issuer's current signing key as a PKIX "PUBLIC KEY"
	// PEM (what GET /auth/pem serves). Each ILB gets it at start and again
	// on RefreshKeys.
	Key func(context.Context) ([]byte, error)
	// Domain is the ILB's DOMAIN; empty means "localhost".
	Domain string
}

func (c *ILBConfig) check() (ilb.Version, error) {
	switch {
	case c.Key == nil:
		return ilb.Version{}, errors.New("local clusters: the real ILB needs the issuer's key")
	case c.Domain == "":
		c.Domain = "localhost"
	}
	if err := ilb.CheckSrc(c.Dir); err != nil {
		return ilb.Version{}, fmt.Errorf("local clusters: %w", err)
	}
	dir, err := filepath.Abs(c.Dir)
	if err != nil {
		return ilb.Version{}, err
	}
	c.Dir = dir
	v, err := ilb.CheckHAProxy(context.Background(), c.HAProxy)
	if err != nil {
		return ilb.Version{}, fmt.Errorf("local clusters: %w", err)
	}
	return v, nil
}

// Files of a real-ILB cluster in the state directory.
const (
	ilbDirExt = ".ilb"
	ilbLogExt = ".ilb.log"
)

func (d *Driver) ilbDir(name string) string { return filepath.Join(d.cfg.Dir, name+ilbDirExt) }

func nodeLogExt(i int) string { return ".node-" + strconv.Itoa(i+1) + ".log" }

// newILBState lays out a real-ILB cluster: the user port (its endpoint), the
// node-facing port and one port per node.
func (d *Driver) newILBState(s *clusterState) error {
	ports, err := freePorts(2 + s.Spec.Nodes)
	if err != nil {
		return err
	}
	s.Endpoint = "http://127.0.0.1:" + strconv.Itoa(ports[0])
	s.ILB = &procState{Role: roleILB, Port: ports[0], Log: d.logPath(s.Name, ilbLogExt)}
	s.DiscoveryPort = ports[1]
	for i := range s.Spec.Nodes {
		s.Nodes = append(s.Nodes, &procState{Role: roleNode + " " + strconv.Itoa(i+1), Port: ports[2+i],
			Log: d.logPath(s.Name, nodeLogExt(i))})
	}
	return nil
}

// startILB prepares the cluster's ILB directory and key, starts HAProxy,
// then the nodes, recording each pid as soon as it exists.
func (d *Driver) startILB(ctx context.Context, s *clusterState, marker string) error {
	c := d.cfg.ILB
	dir := d.ilbDir(s.Name)
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := ilb.Prepare(ilb.Config{Src: c.Dir, Dir: dir, UserPort: s.ILB.Port, DiscoveryPort: s.DiscoveryPort,
		Version: d.haproxy}); err != nil {
		return err
	}
	key, err := c.Key(ctx)
	if err != nil {
		return fmt.Errorf("the issuer's key: %w", err)
	}
	if _, err := ilb.WritePEM(dir, key); err != nil {
		return err
	}
	env := d.env(append(ilb.Env(dir, s.Name, s.Spec.IsPublic, c.Domain, d.cfg.Issuer), marker)...)
	if err := d.start(s.ILB, ilb.Args(c.HAProxy, dir), env); err != nil {
		return fmt.Errorf("HAProxy: %w", err)
	}
	if err := d.writeState(s); err != nil {
		return err
	}
	orchestrator := "http://127.0.0.1:" + strconv.Itoa(s.DiscoveryPort)
	for i, n := range s.Nodes {
		env := d.env("PORT="+strconv.Itoa(n.Port), "CLUSTER="+s.Name, "NODES="+strconv.Itoa(s.Spec.Nodes),
			"VERSION="+s.Spec.Version, "ORCHESTRATOR="+orchestrator, "IPV4=127.0.0.1",
			"NODE_INDEX="+strconv.Itoa(i+1), marker)
		if err := d.start(n, []string{"/bin/sh", "-c", d.cfg.Command}, env); err != nil {
			return fmt.Errorf("node %d: %w", i+1, err)
		}
		if err := d.writeState(s); err != nil {
			return err
		}
	}
	return nil
}

// observeILB is Status's health check of a real-ILB cluster whose
// processes are alive: the orchestrator answers, the user port is this
// cluster's, the nodes answer, and the ILB counts them all. Once the
// cluster has run, a node that stops answering (a frozen process stays
// registered with the ILB until its lifetime ends) is no longer counted
// after the grace period, and the cluster is failed when the ILB or every
// node has not answered for that long.
func (d *Driver) observeILB(ctx context.Context, s *clusterState) provisioner.DriverStatus {
	st := provisioner.DriverStatus{Endpoint: s.Endpoint, State: provisioner.StateDeploying}
	pctx, cancel := context.WithTimeout(ctx, d.cfg.HealthTimeout)
	defer cancel()
	var ilbErr error
	if _, err := d.probe(ctx, s.DiscoveryPort, "/discovery/health", true); err != nil {
		ilbErr = fmt.Errorf("its orchestrator: %w", err)
	} else if name, err := ilb.Whoami(pctx, s.Endpoint); err != nil || name != s.Name {
		ilbErr = fmt.Errorf("its user port does not answer for cluster %s: %q %v", s.Name, name, err)
	}
	nodeErrs := make([]error, len(s.Nodes))
	if ilbErr == nil || d.wasRunning(s.Instance) {
		var wg sync.WaitGroup
		for i, n := range s.Nodes {
			wg.Go(func() { _, nodeErrs[i] = d.probe(ctx, n.Port, d.cfg.UpstreamHealth, false) })
		}
		wg.Wait()
	}
	if d.wasRunning(s.Instance) {
		results := map[string]error{"the ILB": ilbErr}
		for i, n := range s.Nodes {
			results[n.Role] = nodeErrs[i]
		}
		expired, failing := d.checks(s.Instance, results)
		st.State, st.Reason = provisioner.StateRunning, joinReasons(failing)
		for _, n := range s.Nodes {
			if !expired[n.Role] {
				st.Nodes++
			}
		}
		if expired["the ILB"] || st.Nodes == 0 {
			st.State, st.Nodes = provisioner.StateFailed, 0
		}
		return st
	}
	if ilbErr != nil {
		st.Reason = "waiting for the ILB: " + ilbErr.Error()
		return st
	}
	for i, n := range s.Nodes {
		if nodeErrs[i] != nil {
			st.Reason = "waiting for " + n.Role + ": " + nodeErrs[i].Error()
			return st
		}
	}
	got, err := ilb.Nodes(pctx, d.discoveryURL(s), "")
	switch {
	case err != nil:
		st.Reason = "asking the ILB for its nodes: " + err.Error()
	case got < s.Spec.Nodes:
		st.Reason = fmt.Sprintf("waiting for the nodes to register: %d of %d", got, s.Spec.Nodes)
	default:
		d.markRunning(s.Instance)
		st.State, st.Nodes = provisioner.StateRunning, got
	}
	return st
}

func (d *Driver) discoveryURL(s *clusterState) string {
	return "http://127.0.0.1:" + strconv.Itoa(s.DiscoveryPort)
}

// RefreshKeys gives every running real ILB the issuer's current key and
// reloads those whose key changed (gracefully: HAProxy's master starts a new
// worker, the old one finishes its requests; the nodes are registered again
// at once). The embedded backend (package local) calls it on an interval
// and when the current key changes; a key that is no longer current stops
// opening the clusters here.
func (d *Driver) RefreshKeys(ctx context.Context) error {
	if d.cfg.ILB == nil {
		return nil
	}
	key, err := d.cfg.ILB.Key(ctx)
	if err != nil {
		return fmt.Errorf("local clusters: the issuer's key: %w", err)
	}
	if err := ilb.ParsePEM(key); err != nil {
		return fmt.Errorf("local clusters: the issuer's key: %w", err)
	}
	d.adopting.RLock()
	defer d.adopting.RUnlock()
	names, err := d.stateNames()
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range names {
		errs = append(errs, d.refreshKey(ctx, name, key))
	}
	return errors.Join(errs...)
}

func (d *Driver) refreshKey(ctx context.Context, name string, key []byte) error {
	defer d.lock(name, "refresh")()
	s, err := d.readState(name)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errCorrupt) {
		return nil // gone, or Status reports it
	}
	if err != nil {
		return err
	}
	if s.ILB == nil || s.Pending || s.Destroying || !alive(s.ILB) {
		return nil
	}
	changed, err := ilb.WritePEM(d.ilbDir(name), key)
	if err != nil || !changed {
		return err
	}
	var nodes []string
	for _, n := range s.Nodes {
		if alive(n) {
			nodes = append(nodes, "http://127.0.0.1:"+strconv.Itoa(n.Port))
		}
	}
	if err := ilb.Reload(ctx, s.ILB.PID, d.discoveryURL(s), name, nodes); err != nil {
		return fmt.Errorf("cluster %s: %w", name, err)
	}
	if err := d.reregisterGroups(ctx, s); err != nil {
		return fmt.Errorf("cluster %s: node groups: %w", name, err)
	}
	d.log.Info("reloaded the ILB with the issuer's current key", "cluster", name, "pid", s.ILB.PID)
	return nil
}
