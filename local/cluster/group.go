package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"provisioner"
	"provisioner/local/ilb"
	"provisioner/local/internal/files"
	"provisioner/local/internal/proc"
)

var _ provisioner.NodeGroupDriver = (*Driver)(nil)

// A user node group of a local cluster is Command run NodeCapacity more
// times, each registering with the cluster's ILB under service = the user,
// as production's user Auto Scaling group's nodes do (node.sh gets the user
// as its cluster); the ILB routes a request whose x-sliderule-service is
// the user (and whose token's sub is the same) to them. Its state file,
// "<cluster>.group-<user>.json", sits beside the cluster's: never a valid
// cluster name, so cluster sweeps pass it by. A group needs the real ILB:
// our gateway has no services.

const groupInfix = ".group-"

// groupState is the state file of one node group.
type groupState struct {
	Format    int          `json:"format"`
	Cluster   string       `json:"cluster"`
	User      string       `json:"user"`
	Instance  string       `json:"instance"` // marks every process of the group
	Capacity  int          `json:"node_capacity"`
	Version   string       `json:"version,omitempty"`
	CreatedBy string       `json:"created_by,omitempty"`
	ExpiresAt time.Time    `json:"expires_at"`
	Started   time.Time    `json:"started_at"`
	Pending   bool         `json:"pending,omitempty"`
	Destroy   bool         `json:"destroying,omitempty"`
	Nodes     []*procState `json:"nodes"`
}

// procs gives stop and its sweeper the group as a cluster of nodes.
func (g *groupState) asCluster() *clusterState {
	return &clusterState{Name: provisioner.GroupKey(g.Cluster, g.User), Instance: g.Instance, Nodes: g.Nodes}
}

func (d *Driver) groupFile(cluster, user string) string {
	return cluster + groupInfix + user + stateSuffix
}

func (d *Driver) groupPath(cluster, user string) string {
	return filepath.Join(d.cfg.Dir, d.groupFile(cluster, user))
}

func groupOp(what, user string) string { return "group " + what + " " + user }

func checkGroupNames(cluster, user string) error {
	if err := provisioner.ValidateClusterName(cluster); err != nil {
		return err
	}
	return provisioner.ValidateUsername(user)
}

func (d *Driver) readGroup(cluster, user string) (*groupState, error) {
	path := d.groupPath(cluster, user)
	b, err := files.ReadSmall(path, maxStateSize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fs.ErrNotExist
	}
	if err != nil {
		return nil, fmt.Errorf("%w %s: %v", errCorrupt, path, err)
	}
	var g groupState
	if err := json.Unmarshal(b, &g); err != nil {
		return nil, fmt.Errorf("%w %s: %v", errCorrupt, path, err)
	}
	if g.Format != stateFormat || g.Cluster != cluster || g.User != user || g.Instance == "" || strings.ContainsAny(g.Instance, "=\x00") {
		return nil, fmt.Errorf("%w %s: not the group of %s on %s", errCorrupt, path, user, cluster)
	}
	for _, p := range g.Nodes {
		if p == nil || p.PID < 0 || p.PID == 1 || (p.PID == 0 && !g.Pending) || (p.PID > 0 && p.Ident == "") {
			return nil, fmt.Errorf("%w %s: bad node entry", errCorrupt, path)
		}
	}
	return &g, nil
}

func (d *Driver) writeGroup(g *groupState) error {
	b, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		return err
	}
	return files.WriteAtomic(d.cfg.Dir, d.groupFile(g.Cluster, g.User), append(b, '\n'))
}

func (d *Driver) removeGroupFile(cluster, user string) error {
	err := os.Remove(d.groupPath(cluster, user))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err == nil {
		files.SyncDir(d.cfg.Dir)
	}
	return err
}

// groupUsers lists the users with a group state file on cluster, sorted.
func (d *Driver) groupUsers(cluster string) ([]string, error) {
	ents, err := os.ReadDir(d.cfg.Dir)
	if err != nil {
		return nil, err
	}
	var users []string
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), cluster+groupInfix)
		if !ok || !e.Type().IsRegular() {
			continue
		}
		user, ok := strings.CutSuffix(rest, stateSuffix)
		if ok && provisioner.ValidateUsername(user) == nil {
			users = append(users, user)
		}
	}
	sort.Strings(users)
	return users, nil
}

// DeployGroup starts the group's nodes unless they already run; they
// register with the cluster's ILB under service = spec.User. The cluster
// must run on the real ILB.
func (d *Driver) DeployGroup(ctx context.Context, spec provisioner.NodeGroupSpec) error {
	if err := checkGroupNames(spec.Cluster, spec.User); err != nil {
		return err
	}
	if spec.NodeCapacity < 1 {
		return provisioner.Errorf(provisioner.EINVALID, "node capacity must be at least 1, not %d", spec.NodeCapacity)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	d.adopting.RLock()
	defer d.adopting.RUnlock()
	defer d.lock(spec.Cluster, groupOp("deploy", spec.User))()

	s, err := d.readState(spec.Cluster)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return provisioner.Errorf(provisioner.ENOTFOUND, "local cluster %s does not exist", spec.Cluster)
	case err != nil:
		return provisioner.Wrap(provisioner.EUNAVAILABLE, err, "cannot read the state of cluster %s", spec.Cluster)
	case s.ILB == nil:
		return provisioner.Errorf(provisioner.EUNAVAILABLE, "user node groups need production's ILB in front of the cluster (serve --ilb-dir and --haproxy, see scripts/haproxy.sh); cluster %s runs behind our gateway, which has no services", spec.Cluster)
	case s.Pending || s.Destroying:
		return provisioner.Errorf(provisioner.ECONFLICT, "local cluster %s is not running", spec.Cluster)
	}
	old, err := d.readGroup(spec.Cluster, spec.User)
	switch {
	case err == nil && !old.Pending && !old.Destroy && allAlive(old.asCluster()):
		return nil
	case err == nil:
		if err := d.stop(ctx, old.asCluster()); err != nil {
			return provisioner.Wrap(provisioner.EUNAVAILABLE, err, "cannot stop the previous nodes of the group of %s on %s", spec.User, spec.Cluster)
		}
		d.forget(old.asCluster())
	case errors.Is(err, errCorrupt):
		d.log.Warn("replacing an unreadable node group state file", "cluster", spec.Cluster, "user", spec.User, "err", err)
	case !errors.Is(err, fs.ErrNotExist):
		return provisioner.Wrap(provisioner.EINTERNAL, err, "cannot read the group of %s on %s", spec.User, spec.Cluster)
	}
	ports, err := freePorts(spec.NodeCapacity)
	if err != nil {
		return provisioner.Wrap(provisioner.EUNAVAILABLE, err, "cannot prepare the group of %s on %s", spec.User, spec.Cluster)
	}
	g := &groupState{Format: stateFormat, Cluster: spec.Cluster, User: spec.User, Instance: newInstance(),
		Capacity: spec.NodeCapacity, Version: spec.Version, CreatedBy: spec.CreatedBy, ExpiresAt: spec.ExpiresAt,
		Started: time.Now().UTC(), Pending: true}
	base := strings.TrimSuffix(d.groupFile(spec.Cluster, spec.User), stateSuffix)
	for i, port := range ports {
		g.Nodes = append(g.Nodes, &procState{Role: roleNode + " " + strconv.Itoa(i+1) + " of " + spec.User,
			Port: port, Log: d.logPath(base, nodeLogExt(i))})
	}
	if err := d.writeGroup(g); err != nil {
		return provisioner.Wrap(provisioner.EINTERNAL, err, "cannot record the group of %s on %s", spec.User, spec.Cluster)
	}
	if err := d.startGroup(g, s); err != nil {
		d.stop(context.WithoutCancel(ctx), g.asCluster())
		d.forget(g.asCluster())
		d.removeGroupFile(g.Cluster, g.User)
		return provisioner.Wrap(provisioner.EUNAVAILABLE, err, "cannot start the group of %s on %s", spec.User, spec.Cluster)
	}
	d.log.Info("node group started", "cluster", g.Cluster, "user", g.User, "nodes", len(g.Nodes))
	return nil
}

func (d *Driver) startGroup(g *groupState, s *clusterState) error {
	marker := proc.ClusterMarker + "=" + g.Instance
	orchestrator := d.discoveryURL(s)
	for i, n := range g.Nodes {
		// CLUSTER is the service the node registers under: production's
		// node.sh gets the user there for a user's group.
		env := d.env("PORT="+strconv.Itoa(n.Port), "CLUSTER="+g.User, "SERVICE="+g.User,
			"PARENT_CLUSTER="+g.Cluster, "NODES="+strconv.Itoa(g.Capacity), "VERSION="+g.Version,
			"ORCHESTRATOR="+orchestrator, "IPV4=127.0.0.1", "NODE_INDEX="+strconv.Itoa(i+1), marker)
		if err := d.start(n, []string{"/bin/sh", "-c", d.cfg.Command}, env); err != nil {
			return fmt.Errorf("node %d: %w", i+1, err)
		}
		if err := d.writeGroup(g); err != nil {
			return err
		}
	}
	g.Pending = false
	return d.writeGroup(g)
}

// GroupStatus observes a group: absent without a state file; running when
// its nodes are alive, healthy and registered with the cluster's ILB under
// the user's service.
func (d *Driver) GroupStatus(ctx context.Context, cluster, user string) (provisioner.DriverStatus, error) {
	if err := checkGroupNames(cluster, user); err != nil {
		return provisioner.DriverStatus{}, err
	}
	g, err := d.readGroup(cluster, user)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return provisioner.DriverStatus{State: provisioner.StateAbsent}, nil
	case errors.Is(err, errCorrupt):
		return provisioner.DriverStatus{State: provisioner.StateFailed, Reason: "the local state of the node group is unreadable; destroy it"}, nil
	case err != nil:
		return provisioner.DriverStatus{}, provisioner.Wrap(provisioner.EINTERNAL, err, "cannot read the group of %s on %s", user, cluster)
	}
	st := provisioner.DriverStatus{}
	switch op := d.inFlight(cluster); {
	case g.Destroy || op == groupOp("destroy", user) || op == "destroy":
		st.State = provisioner.StateDestroying
		return st, nil
	case op == groupOp("deploy", user):
		st.State = provisioner.StateDeploying
		return st, nil
	case g.Pending:
		st.State, st.Reason = provisioner.StateFailed, "the deployment was interrupted while starting its nodes; deploy again"
		return st, nil
	}
	for _, p := range g.Nodes {
		if !alive(p) {
			st.State, st.Reason = provisioner.StateFailed, d.deathReason(p)
			return st, nil
		}
	}
	s, err := d.readState(cluster)
	if err != nil || s.ILB == nil || !alive(s.ILB) {
		st.State, st.Reason = provisioner.StateFailed, "its cluster "+cluster+" is gone"
		return st, nil
	}
	st.State, st.Endpoint = provisioner.StateDeploying, s.Endpoint
	for _, n := range g.Nodes {
		if _, err := d.probe(ctx, n.Port, d.cfg.UpstreamHealth, false); err != nil {
			st.Reason = "waiting for " + n.Role + ": " + err.Error()
			return st, nil
		}
	}
	pctx, cancel := context.WithTimeout(ctx, d.cfg.HealthTimeout)
	defer cancel()
	got, err := ilb.Nodes(pctx, d.discoveryURL(s), user)
	switch {
	case err != nil:
		st.Reason = "asking the ILB for the nodes of " + user + ": " + err.Error()
	case got < g.Capacity:
		st.Reason = fmt.Sprintf("waiting for the nodes to register as %s: %d of %d", user, got, g.Capacity)
	default:
		st.State, st.Nodes = provisioner.StateRunning, got
	}
	return st, nil
}

// DestroyGroup stops the group's nodes and removes its state; an absent
// group is not an error. The ILB forgets them when their registrations
// end.
func (d *Driver) DestroyGroup(ctx context.Context, cluster, user string) error {
	if err := checkGroupNames(cluster, user); err != nil {
		return err
	}
	d.adopting.RLock()
	defer d.adopting.RUnlock()
	defer d.lock(cluster, groupOp("destroy", user))()
	return d.destroyGroup(ctx, cluster, user)
}

// destroyGroup runs under the cluster's lock.
func (d *Driver) destroyGroup(ctx context.Context, cluster, user string) error {
	g, err := d.readGroup(cluster, user)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case errors.Is(err, errCorrupt):
		d.log.Warn("removing an unreadable node group state file", "cluster", cluster, "user", user, "err", err)
		return d.removeGroupFile(cluster, user)
	case err != nil:
		return provisioner.Wrap(provisioner.EINTERNAL, err, "cannot read the group of %s on %s", user, cluster)
	}
	if !g.Destroy {
		g.Destroy = true
		if err := d.writeGroup(g); err != nil {
			return provisioner.Wrap(provisioner.EINTERNAL, err, "cannot record the destroy of the group of %s on %s", user, cluster)
		}
	}
	if err := d.stop(ctx, g.asCluster()); err != nil {
		return provisioner.Wrap(provisioner.EUNAVAILABLE, err, "cannot stop the group of %s on %s", user, cluster)
	}
	d.forget(g.asCluster())
	if err := d.removeGroupFile(cluster, user); err != nil {
		return provisioner.Wrap(provisioner.EINTERNAL, err, "cannot remove the state of the group of %s on %s", user, cluster)
	}
	d.log.Info("node group destroyed", "cluster", cluster, "user", user)
	return nil
}

// destroyGroupsOf destroys every group of a cluster, under its lock.
func (d *Driver) destroyGroupsOf(ctx context.Context, cluster string) error {
	users, err := d.groupUsers(cluster)
	if err != nil {
		return err
	}
	var errs []error
	for _, u := range users {
		errs = append(errs, d.destroyGroup(ctx, cluster, u))
	}
	return errors.Join(errs...)
}

// adoptGroups keeps the live groups of the adopted clusters and destroys
// the rest; Adopt calls it with the directory locked.
func (d *Driver) adoptGroups(ctx context.Context, adopted []string) error {
	ents, err := os.ReadDir(d.cfg.Dir)
	if err != nil {
		return err
	}
	live := map[string]bool{}
	for _, c := range adopted {
		live[c] = true
	}
	var errs []error
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), stateSuffix)
		cluster, user, found := strings.Cut(name, groupInfix)
		if !ok || !found || checkGroupNames(cluster, user) != nil {
			continue
		}
		g, err := d.readGroup(cluster, user)
		if err == nil && live[cluster] && !g.Pending && !g.Destroy && allAlive(g.asCluster()) {
			d.log.Info("node group re-adopted", "cluster", cluster, "user", user)
			continue
		}
		d.log.Info("cleaning up a dead node group", "cluster", cluster, "user", user)
		errs = append(errs, d.destroyGroup(ctx, cluster, user))
	}
	return errors.Join(errs...)
}

// reregisterGroups registers the groups' nodes again with their service
// after the cluster's ILB reloaded (which forgets every registration).
func (d *Driver) reregisterGroups(ctx context.Context, s *clusterState) error {
	users, err := d.groupUsers(s.Name)
	if err != nil {
		return err
	}
	var errs []error
	for _, u := range users {
		g, err := d.readGroup(s.Name, u)
		if err != nil || g.Pending || g.Destroy {
			continue
		}
		var nodes []string
		for _, n := range g.Nodes {
			if alive(n) {
				nodes = append(nodes, "http://127.0.0.1:"+strconv.Itoa(n.Port))
			}
		}
		if len(nodes) > 0 {
			errs = append(errs, ilb.Reregister(ctx, d.discoveryURL(s), u, nodes))
		}
	}
	return errors.Join(errs...)
}
