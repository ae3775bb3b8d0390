// Package cluster is the embedded backend's cluster driver (Driver, a
// provisioner.ClusterDriver and provisioner.NodeGroupDriver): each local
// cluster is real processes on this machine, a `provisioner gateway` in
// front of an upstream, or production SlideRule's ILB (package ilb) under
// HAProxy in front of one process per node, with user node groups beside
// it. The processes outlive the service; a restarted service adopts those
// that are still alive (Adopt, StartAdopt), cleans up the rest, and
// quarantines live clusters its database does not know.
package cluster

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"provisioner"
	"provisioner/local/ilb"
	"provisioner/local/internal/proc"
)

// Defaults of Config.
const (
	DefaultHealthTimeout  = 2 * time.Second
	DefaultStopTimeout    = 5 * time.Second
	DefaultUpstreamHealth = "/source/health"
)

// Config configures a Driver.
type Config struct {
	// Dir holds one state file and the logs of each cluster; it is created
	// 0700 if missing.
	Dir string
	// Executable is the provisioner binary run as `gateway` for each
	// cluster; empty means os.Executable().
	Executable string
	// Issuer is the provisioner URL the gateways verify tokens against.
	Issuer string
	// Upstream is one URL every cluster's gateway forwards to
	// (--cluster-upstream). Exactly one of Upstream and Command is set.
	Upstream string
	// Command (--cluster-command) is started per cluster with /bin/sh -c as
	// the cluster's upstream. It is operator configuration and is never
	// edited: the cluster's values reach it only as environment variables,
	// PORT (a free loopback port it must listen on), CLUSTER, NODES and
	// VERSION, so nothing from a request is ever parsed by the shell. Quote
	// them ("$PORT") in the command.
	Command string
	// UpstreamHealth is the path on a Command's port that must answer 2xx
	// before the cluster counts as running; empty means
	// DefaultUpstreamHealth, SlideRule's own health path.
	UpstreamHealth string
	// HealthTimeout bounds each health probe; zero means DefaultHealthTimeout.
	HealthTimeout time.Duration
	// UnhealthyGrace is how long a running cluster's health checks may fail
	// (time out) before they count: then a node that does not answer is no
	// longer counted, and a cluster none of whose nodes (or whose ILB or
	// gateway) answers is failed. Zero means DefaultUnhealthyGrace.
	UnhealthyGrace time.Duration
	// Now is the clock of the grace period; nil means time.Now.
	Now func() time.Time
	// StopTimeout is how long Destroy waits after SIGTERM before SIGKILL;
	// zero means DefaultStopTimeout.
	StopTimeout time.Duration
	// Logger receives process starts, stops and clean-ups; nil discards.
	Logger *slog.Logger
	// ILB, when set, runs each cluster as production SlideRule's load
	// balancer (see ILBConfig) in front of NodeCapacity nodes, each a
	// Command, instead of a gateway in front of one Command.
	ILB *ILBConfig
	// Env ("KEY=VALUE") is added to the environment of the gateways and
	// commands. They inherit the service's environment except PROVISIONER_*
	// variables: those configure serve (and would set the gateway's flags),
	// so settings meant for the gateways go here.
	Env []string
}

// Driver runs each local cluster as real processes: a `provisioner gateway`
// and, with Config.Command, an upstream command; or, with Config.ILB,
// production's ILB under HAProxy and one Command per node. The processes
// run in sessions of their own, so they outlive a crash of the service and are
// re-adopted by Adopt when it restarts.
//
// Under systemd, KillMode=process keeps the clusters alive across a restart
// of the service; the default kills the whole control group.
//
// One Driver per Dir: the Driver serializes the operations on a cluster in
// memory, not across processes.
type Driver struct {
	cfg    Config
	log    *slog.Logger
	health *http.Client

	// adopting excludes Deploy and Destroy while Adopt sweeps the directory.
	adopting sync.RWMutex

	mu       sync.Mutex
	names    map[string]*nameLock    // per-cluster locks, dropped when unused
	children map[int]*child          // processes this Driver started, by pid
	seen     map[string]*healthTrack // deployments seen running, by instance
	// quarantined are alive clusters without a record (see StartAdopt).
	quarantined map[string]bool

	haproxy ilb.Version // with cfg.ILB
}

var _ provisioner.ClusterDriver = (*Driver)(nil)

// New checks cfg, fills in defaults and creates the state directory.
func New(cfg Config) (*Driver, error) {
	if err := proc.Supported(); err != nil {
		return nil, err
	}
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if cfg.Executable == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("local clusters: cannot find the provisioner executable: %w", err)
		}
		cfg.Executable = exe
	}
	if _, err := os.Stat(cfg.Executable); err != nil {
		return nil, fmt.Errorf("local clusters: executable: %w", err)
	}
	if cfg.UpstreamHealth == "" {
		cfg.UpstreamHealth = DefaultUpstreamHealth
	}
	if cfg.HealthTimeout <= 0 {
		cfg.HealthTimeout = DefaultHealthTimeout
	}
	if cfg.UnhealthyGrace <= 0 {
		cfg.UnhealthyGrace = DefaultUnhealthyGrace
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.StopTimeout <= 0 {
		cfg.StopTimeout = DefaultStopTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, err
	}
	cfg.Dir = dir
	var version ilb.Version
	if cfg.ILB != nil {
		if version, err = cfg.ILB.check(); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("local clusters: %w", err)
	}
	return &Driver{
		cfg:         cfg,
		log:         cfg.Logger,
		health:      newHealthClient(cfg.HealthTimeout),
		names:       map[string]*nameLock{},
		children:    map[int]*child{},
		seen:        map[string]*healthTrack{},
		quarantined: map[string]bool{},
		haproxy:     version,
	}, nil
}

func (c *Config) check() error {
	switch {
	case c.Dir == "":
		return errors.New("local clusters: a state directory is required")
	case (c.Upstream == "") == (c.Command == ""):
		return errors.New("local clusters: set exactly one of --cluster-upstream and --cluster-command")
	case strings.TrimSpace(c.Command) == "" && c.Command != "":
		return errors.New("local clusters: --cluster-command is blank")
	case c.ILB != nil && c.Command == "":
		return errors.New("local clusters: the real ILB needs --cluster-command: its nodes register with it")
	case c.UpstreamHealth != "" && !strings.HasPrefix(c.UpstreamHealth, "/"):
		return fmt.Errorf("local clusters: upstream health path %q must start with /", c.UpstreamHealth)
	}
	if err := checkURL("issuer", c.Issuer); err != nil {
		return err
	}
	if c.Upstream != "" {
		if err := checkURL("--cluster-upstream", c.Upstream); err != nil {
			return err
		}
	}
	for _, kv := range c.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return fmt.Errorf("local clusters: environment entry %q is not KEY=VALUE", kv)
		}
	}
	return nil
}

func checkURL(what, s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("local clusters: %s %q is not an absolute http(s) URL", what, s)
	}
	return nil
}

// Dir is the state directory.
func (d *Driver) Dir() string { return d.cfg.Dir }

// nameLock serializes the operations on one cluster; op says which one is
// in flight, so Status can tell a deploy in progress from an interrupted one.
type nameLock struct {
	mu   sync.Mutex
	refs int
	op   string
}

// lock takes the cluster's lock and marks op in flight.
func (d *Driver) lock(name, op string) (unlock func()) {
	d.mu.Lock()
	l := d.names[name]
	if l == nil {
		l = &nameLock{}
		d.names[name] = l
	}
	l.refs++
	d.mu.Unlock()
	l.mu.Lock()
	d.mu.Lock()
	l.op = op
	d.mu.Unlock()
	return func() {
		d.mu.Lock()
		l.op = ""
		l.refs--
		if l.refs == 0 {
			delete(d.names, name)
		}
		d.mu.Unlock()
		l.mu.Unlock()
	}
}

// inFlight returns the operation running on the cluster, "" for none.
func (d *Driver) inFlight(name string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if l := d.names[name]; l != nil {
		return l.op
	}
	return ""
}
