package cluster

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"provisioner/local/internal/files"
	"sort"
	"strings"
	"time"

	"provisioner"
)

// Files of a cluster in the state directory.
const (
	stateSuffix    = ".json"
	gatewayLogExt  = ".gateway.log"
	upstreamLogExt = ".upstream.log"
	maxStateSize   = 64 << 10
	stateFormat    = 1
)

// Process roles, as Status reports them.
const (
	roleGateway  = "gateway"
	roleUpstream = "upstream command"
	roleILB      = "ilb"
	roleNode     = "node"
)

// clusterState is the state file of one cluster: what is needed to find,
// check and stop its processes after the service restarts.
type clusterState struct {
	Format   int       `json:"format"`
	Name     string    `json:"name"`
	Instance string    `json:"instance"` // random; marks every process of this deployment
	Spec     stateSpec `json:"spec"`
	Endpoint string    `json:"endpoint"`
	Started  time.Time `json:"started_at"`
	// Pending is set while the processes are being started: a state found
	// pending by anyone but the deploy itself was interrupted.
	Pending bool `json:"pending,omitempty"`
	// Destroying is set before the first signal, so a crash mid-destroy is
	// finished by the next Destroy or Adopt.
	Destroying bool       `json:"destroying,omitempty"`
	Upstream   *procState `json:"upstream,omitempty"` // nil with a shared upstream
	Gateway    *procState `json:"gateway,omitempty"`  // nil with the real ILB
	// With the real ILB: HAProxy (Port is the user port, production's :80),
	// its node-facing port (production's :8050) and one process per node.
	ILB           *procState   `json:"ilb,omitempty"`
	DiscoveryPort int          `json:"discovery_port,omitempty"`
	Nodes         []*procState `json:"nodes,omitempty"`
}

type stateSpec struct {
	IsPublic  bool      `json:"is_public"`
	Nodes     int       `json:"node_capacity"`
	Version   string    `json:"version,omitempty"`
	CreatedBy string    `json:"created_by,omitempty"`
	ExpiresAt time.Time `json:"expires_at"`
}

// procState is one process, identified by pid and start identity, so a
// recycled pid is never taken for it.
type procState struct {
	Role  string `json:"role"`
	PID   int    `json:"pid,omitempty"` // 0 until started
	Ident string `json:"ident,omitempty"`
	Port  int    `json:"port"`
	Log   string `json:"log"`
}

func (s *clusterState) spec() provisioner.ClusterSpec {
	return provisioner.ClusterSpec{Name: s.Name, IsPublic: s.Spec.IsPublic, NodeCapacity: s.Spec.Nodes,
		Version: s.Spec.Version, CreatedBy: s.Spec.CreatedBy, ExpiresAt: s.Spec.ExpiresAt}
}

// procs lists the processes, the upstream (or nodes) first: when several
// died, theirs is the likelier cause.
func (s *clusterState) procs() []*procState {
	ps := append([]*procState{}, s.Nodes...)
	for _, p := range []*procState{s.Upstream, s.ILB, s.Gateway} {
		if p != nil {
			ps = append(ps, p)
		}
	}
	return ps
}

func newInstance() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (d *Driver) statePath(name string) string { return filepath.Join(d.cfg.Dir, name+stateSuffix) }

// errCorrupt marks a state file that exists but cannot be trusted.
var errCorrupt = errors.New("unreadable state file")

// readState returns the cluster's state, fs.ErrNotExist, or errCorrupt.
func (d *Driver) readState(name string) (*clusterState, error) {
	b, err := files.ReadSmall(d.statePath(name), maxStateSize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fs.ErrNotExist
	}
	if err != nil {
		return nil, fmt.Errorf("%w %s: %v", errCorrupt, d.statePath(name), err)
	}
	var s clusterState
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%w %s: %v", errCorrupt, d.statePath(name), err)
	}
	if err := s.check(name); err != nil {
		return nil, fmt.Errorf("%w %s: %v", errCorrupt, d.statePath(name), err)
	}
	return &s, nil
}

// check refuses states that would make a signal hit the wrong process: pid 0
// or 1 would signal our own group or every process.
func (s *clusterState) check(name string) error {
	switch {
	case s.Format != stateFormat:
		return fmt.Errorf("format %d, want %d", s.Format, stateFormat)
	case s.Name != name:
		return fmt.Errorf("names cluster %q", s.Name)
	case s.Instance == "" || strings.ContainsAny(s.Instance, "=\x00"):
		return errors.New("bad instance")
	case (s.Gateway == nil) == (s.ILB == nil):
		return errors.New("want exactly one of a gateway and an ILB")
	}
	for _, p := range s.procs() {
		if p == nil {
			return errors.New("empty process entry")
		}
		if p.PID < 0 || p.PID == 1 || (p.PID == 0 && !s.Pending) || (p.PID > 0 && p.Ident == "") {
			return fmt.Errorf("bad %s pid %d", p.Role, p.PID)
		}
	}
	return nil
}

func (d *Driver) writeState(s *clusterState) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return files.WriteAtomic(d.cfg.Dir, s.Name+stateSuffix, append(b, '\n'))
}

func (d *Driver) removeState(name string) error {
	err := os.Remove(d.statePath(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err == nil {
		files.SyncDir(d.cfg.Dir)
	}
	return err
}

// stateNames lists the clusters with a state file, sorted. Files that do
// not carry a valid cluster name are not ours and are left alone.
func (d *Driver) stateNames() ([]string, error) { return Names(d.cfg.Dir) }

// Names lists the clusters with a state file in a Driver's
// directory (Config.Dir), alive or not; a missing directory has none.
func Names(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), stateSuffix)
		if !ok || !e.Type().IsRegular() || provisioner.ValidateClusterName(name) != nil {
			continue
		}
		names = append(names, name)
	}
	sort.Strings(names)
	return names, nil
}
