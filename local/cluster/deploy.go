package cluster

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"

	"provisioner/local/internal/proc"

	"provisioner"
)

// Deploy starts the cluster's processes unless they are already running
// (then it changes nothing, even if spec differs: redeploying is the
// application's decision). It returns once they are started; Status tells
// when they are healthy. Leftovers of a failed, interrupted or
// half-destroyed deployment are stopped first.
func (d *Driver) Deploy(ctx context.Context, spec provisioner.ClusterSpec) error {
	if err := checkSpec(spec, d.cfg.Now()); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	d.adopting.RLock()
	defer d.adopting.RUnlock()
	defer d.lock(spec.Name, "deploy")()
	if d.isQuarantined(spec.Name) {
		return errQuarantined(spec.Name)
	}

	old, err := d.readState(spec.Name)
	switch {
	case err == nil && !old.Pending && !old.Destroying && allAlive(old):
		return nil
	case err == nil:
		if err := d.stop(ctx, old); err != nil {
			return provisioner.Wrap(provisioner.EUNAVAILABLE, err, "cannot stop the previous processes of cluster %s", spec.Name)
		}
		d.forget(old)
	case errors.Is(err, errCorrupt):
		d.log.Warn("replacing an unreadable cluster state file", "cluster", spec.Name, "err", err)
	case !errors.Is(err, fs.ErrNotExist):
		return provisioner.Wrap(provisioner.EINTERNAL, err, "cannot read the state of cluster %s", spec.Name)
	}

	s, err := d.newState(spec)
	if err != nil {
		return provisioner.Wrap(provisioner.EUNAVAILABLE, err, "cannot prepare cluster %s", spec.Name)
	}
	if err := d.startAll(ctx, s); err != nil {
		d.stop(context.WithoutCancel(ctx), s)
		d.forget(s)
		d.removeState(s.Name)
		return provisioner.Wrap(provisioner.EUNAVAILABLE, err, "cannot start cluster %s", spec.Name)
	}
	if s.ILB != nil {
		d.log.Info("cluster started on the real ILB", "cluster", s.Name, "endpoint", s.Endpoint,
			"haproxy_pid", s.ILB.PID, "nodes", len(s.Nodes))
	} else {
		d.log.Info("cluster started", "cluster", s.Name, "endpoint", s.Endpoint,
			"gateway_pid", s.Gateway.PID, "upstream_pid", upstreamPID(s))
	}
	return nil
}

func checkSpec(spec provisioner.ClusterSpec, now time.Time) error {
	if err := provisioner.ValidateClusterName(spec.Name); err != nil {
		return err
	}
	if spec.NodeCapacity < 1 {
		return provisioner.Errorf(provisioner.EINVALID, "node capacity must be at least 1, not %d", spec.NodeCapacity)
	}
	// The creator lands in the state file and the cluster's environment.
	if len(spec.CreatedBy) > 100 || strings.ContainsFunc(spec.CreatedBy, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		return provisioner.Errorf(provisioner.EINVALID, "invalid creator %q", spec.CreatedBy)
	}
	if !spec.ExpiresAt.IsZero() && !spec.ExpiresAt.After(now) {
		return provisioner.Errorf(provisioner.EINVALID, "cluster %s would expire at %s, which is past", spec.Name, spec.ExpiresAt.UTC().Format(time.RFC3339))
	}
	if spec.Version != "" {
		return provisioner.ValidateVersion(spec.Version)
	}
	return nil
}

// newState reserves the ports and writes the pending state before any
// process starts, so a crash at any point leaves a state naming the
// instance marker that finds what was started.
func (d *Driver) newState(spec provisioner.ClusterSpec) (*clusterState, error) {
	s := &clusterState{
		Format:   stateFormat,
		Name:     spec.Name,
		Instance: newInstance(),
		Spec: stateSpec{IsPublic: spec.IsPublic, Nodes: spec.NodeCapacity, Version: spec.Version,
			CreatedBy: spec.CreatedBy, ExpiresAt: spec.ExpiresAt},
		Started: time.Now().UTC(),
		Pending: true,
	}
	if d.cfg.ILB != nil {
		if err := d.newILBState(s); err != nil {
			return nil, err
		}
		return s, d.writeState(s)
	}
	n := 1
	if d.cfg.Command != "" {
		n = 2
	}
	ports, err := freePorts(n)
	if err != nil {
		return nil, err
	}
	s.Endpoint = "http://127.0.0.1:" + strconv.Itoa(ports[0])
	s.Gateway = &procState{Role: roleGateway, Port: ports[0], Log: d.logPath(spec.Name, gatewayLogExt)}
	if d.cfg.Command != "" {
		s.Upstream = &procState{Role: roleUpstream, Port: ports[1], Log: d.logPath(spec.Name, upstreamLogExt)}
	}
	return s, d.writeState(s)
}

func (d *Driver) logPath(name, ext string) string { return filepath.Join(d.cfg.Dir, name+ext) }

// startAll starts the upstream command, then the gateway in front of it
// (or the real ILB, then its nodes), recording each pid as soon as it
// exists.
func (d *Driver) startAll(ctx context.Context, s *clusterState) error {
	marker := proc.ClusterMarker + "=" + s.Instance
	if s.ILB != nil {
		if err := d.startILB(ctx, s, marker); err != nil {
			return err
		}
		s.Pending = false
		return d.writeState(s)
	}
	upstream := d.cfg.Upstream
	if u := s.Upstream; u != nil {
		env := d.env("PORT="+strconv.Itoa(u.Port), "CLUSTER="+s.Name,
			"NODES="+strconv.Itoa(s.Spec.Nodes), "VERSION="+s.Spec.Version, marker)
		if err := d.start(u, []string{"/bin/sh", "-c", d.cfg.Command}, env); err != nil {
			return fmt.Errorf("upstream command: %w", err)
		}
		if err := d.writeState(s); err != nil {
			return err
		}
		upstream = "http://127.0.0.1:" + strconv.Itoa(u.Port)
	}
	visibility := "--private"
	if s.Spec.IsPublic {
		visibility = "--public"
	}
	argv := []string{d.cfg.Executable, "gateway",
		"--cluster", s.Name, visibility,
		"--upstream", upstream,
		"--issuer", d.cfg.Issuer,
		"--listen", "127.0.0.1:" + strconv.Itoa(s.Gateway.Port),
		"--nodes", strconv.Itoa(s.Spec.Nodes),
	}
	if err := d.start(s.Gateway, argv, d.env(marker)); err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	s.Pending = false
	return d.writeState(s)
}

func allAlive(s *clusterState) bool {
	for _, p := range s.procs() {
		if !alive(p) {
			return false
		}
	}
	return true
}

func upstreamPID(s *clusterState) int {
	if s.Upstream != nil {
		return s.Upstream.PID
	}
	return 0
}
