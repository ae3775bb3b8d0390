package cluster

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"provisioner"
)

// Status observes the cluster: absent without a state file; running only
// when every process is ours and alive and the health checks answer;
// deploying while they are alive but not yet healthy; failed, with the
// reason and the end of the log, when one has died.
func (d *Driver) Status(ctx context.Context, name string) (provisioner.DriverStatus, error) {
	if err := provisioner.ValidateClusterName(name); err != nil {
		return provisioner.DriverStatus{}, err
	}
	s, err := d.readState(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return provisioner.DriverStatus{State: provisioner.StateAbsent}, nil
	case errors.Is(err, errCorrupt):
		return provisioner.DriverStatus{State: provisioner.StateFailed,
			Reason: "the local state of the cluster is unreadable; destroy or redeploy it"}, nil
	case err != nil:
		return provisioner.DriverStatus{}, provisioner.Wrap(provisioner.EINTERNAL, err, "cannot read the state of cluster %s", name)
	}
	return d.observe(ctx, s), nil
}

func (d *Driver) observe(ctx context.Context, s *clusterState) provisioner.DriverStatus {
	st := provisioner.DriverStatus{Endpoint: s.Endpoint}
	// An operation in flight may be replacing or stopping what the state
	// file names; what it finds on the way is not the cluster's state.
	switch op := d.inFlight(s.Name); {
	case s.Destroying || op == "destroy":
		st.State = provisioner.StateDestroying
		return st
	case op == "deploy":
		st.State = provisioner.StateDeploying
		return st
	case s.Pending:
		st.State = provisioner.StateFailed
		st.Reason = "the deployment was interrupted while starting its processes; deploy again"
		return st
	}
	for _, p := range s.procs() {
		if !alive(p) {
			st.State, st.Reason = provisioner.StateFailed, d.deathReason(p)
			return st
		}
	}
	if s.ILB != nil {
		return d.observeILB(ctx, s)
	}
	gwErr := d.probeGateway(ctx, s.Name, s.Gateway.Port)
	results := map[string]error{"the gateway": gwErr}
	var upErr error
	if u := s.Upstream; u != nil {
		_, upErr = d.probe(ctx, u.Port, d.cfg.UpstreamHealth, false)
		results["the upstream command"] = upErr
	}
	// A local cluster has no orchestrator: its capacity is what was asked.
	if gwErr == nil && upErr == nil {
		d.markRunning(s.Instance)
		st.State, st.Nodes = provisioner.StateRunning, s.Spec.Nodes
		return st
	}
	if d.wasRunning(s.Instance) {
		// Running, and a check fails now: within the grace period the
		// cluster still counts as running; past it, as failed.
		expired, failing := d.checks(s.Instance, results)
		st.State, st.Nodes, st.Reason = provisioner.StateRunning, s.Spec.Nodes, joinReasons(failing)
		if len(expired) > 0 {
			st.State, st.Nodes = provisioner.StateFailed, 0
		}
		return st
	}
	st.State = provisioner.StateDeploying
	if gwErr != nil {
		st.Reason = "waiting for the gateway's health check: " + gwErr.Error()
	} else {
		st.Reason = "waiting for the upstream command's health check: " + upErr.Error()
	}
	return st
}

// Info describes a local cluster for diagnostics.
type Info struct {
	Spec      provisioner.ClusterSpec
	Status    provisioner.DriverStatus
	StartedAt time.Time
	Processes []ProcessInfo
}

// ProcessInfo is one process of a local cluster.
type ProcessInfo struct {
	Role  string // "gateway", "upstream command", "ilb" or "node N"
	PID   int
	Port  int
	Log   string
	Alive bool
}

// List observes every cluster with a state file, ordered by name.
func (d *Driver) List(ctx context.Context) ([]Info, error) {
	names, err := d.stateNames()
	if err != nil {
		return nil, err
	}
	out := make([]Info, 0, len(names))
	for _, name := range names {
		s, err := d.readState(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue // destroyed meanwhile
		}
		if err != nil {
			st, _ := d.Status(ctx, name)
			out = append(out, Info{Spec: provisioner.ClusterSpec{Name: name}, Status: st})
			continue
		}
		info := Info{Spec: s.spec(), Status: d.observe(ctx, s), StartedAt: s.Started}
		for _, p := range s.procs() {
			info.Processes = append(info.Processes, ProcessInfo{Role: p.Role, PID: p.PID, Port: p.Port, Log: p.Log, Alive: alive(p)})
		}
		out = append(out, info)
	}
	return out, nil
}

func (p ProcessInfo) String() string {
	return fmt.Sprintf("%s pid %d port %d alive=%t log %s", p.Role, p.PID, p.Port, p.Alive, p.Log)
}
