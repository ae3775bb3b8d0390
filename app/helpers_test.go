package app

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"provisioner"
	"provisioner/jwt"
	"provisioner/sqlite"
	"provisioner/testkit"
	"provisioner/testkit/embedded"
)

// clock is a settable time for guard-window and deadline tests.
// testDriver is a scriptable ClusterDriver: clusters come up after `up`
// Status calls, or never, or fail, and go away on Destroy unless stuck.
type testDriver struct {
	mu        sync.Mutex
	clusters  map[string]*tdCluster
	deploys   map[string]int
	upAfter   int    // Status calls until running; <0 never
	failWith  string // when set, clusters fail with this reason
	stuck     bool   // Destroy leaves clusters running
	deployErr error
	groups    map[string]*tdCluster // by GroupKey
}

type tdCluster struct {
	spec  provisioner.ClusterSpec
	polls int
	state provisioner.ClusterState
}

func newTestDriver() *testDriver {
	return &testDriver{clusters: map[string]*tdCluster{}, deploys: map[string]int{}, upAfter: 1, groups: map[string]*tdCluster{}}
}

func (d *testDriver) Deploy(_ context.Context, spec provisioner.ClusterSpec) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.deployErr != nil {
		return d.deployErr
	}
	d.deploys[spec.Name]++
	if _, ok := d.clusters[spec.Name]; !ok {
		d.clusters[spec.Name] = &tdCluster{spec: spec, state: provisioner.StateDeploying}
	}
	return nil
}

func (d *testDriver) Status(_ context.Context, name string) (provisioner.DriverStatus, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, ok := d.clusters[name]
	if !ok {
		return provisioner.DriverStatus{State: provisioner.StateAbsent}, nil
	}
	if c.state == provisioner.StateDeploying {
		c.polls++
		switch {
		case d.failWith != "":
			c.state = provisioner.StateFailed
		case d.upAfter >= 0 && c.polls >= d.upAfter:
			c.state = provisioner.StateRunning
		}
	}
	st := provisioner.DriverStatus{State: c.state}
	if c.state == provisioner.StateRunning {
		st.Endpoint, st.Nodes = "http://127.0.0.1:1/"+name, c.spec.NodeCapacity
	}
	if c.state == provisioner.StateFailed {
		st.Reason = d.failWith
	}
	return st, nil
}

func (d *testDriver) Destroy(_ context.Context, name string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.stuck {
		delete(d.clusters, name)
	}
	return nil
}

func (d *testDriver) DeployGroup(_ context.Context, spec provisioner.NodeGroupSpec) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.deployErr != nil {
		return d.deployErr
	}
	if _, ok := d.clusters[spec.Cluster]; !ok {
		return provisioner.Errorf(provisioner.ENOTFOUND, "no cluster %s", spec.Cluster)
	}
	key := provisioner.GroupKey(spec.Cluster, spec.User)
	if _, ok := d.groups[key]; !ok {
		d.groups[key] = &tdCluster{spec: provisioner.ClusterSpec{Name: key, NodeCapacity: spec.NodeCapacity}, state: provisioner.StateDeploying}
	}
	return nil
}

func (d *testDriver) GroupStatus(_ context.Context, cluster, user string) (provisioner.DriverStatus, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	g, ok := d.groups[provisioner.GroupKey(cluster, user)]
	if !ok {
		return provisioner.DriverStatus{State: provisioner.StateAbsent}, nil
	}
	if g.state == provisioner.StateDeploying {
		if g.polls++; d.upAfter >= 0 && g.polls >= d.upAfter {
			g.state = provisioner.StateRunning
		}
	}
	return provisioner.DriverStatus{State: g.state, Nodes: g.spec.NodeCapacity}, nil
}

func (d *testDriver) DestroyGroup(_ context.Context, cluster, user string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.groups, provisioner.GroupKey(cluster, user))
	return nil
}

func (d *testDriver) hasGroup(cluster, user string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.groups[provisioner.GroupKey(cluster, user)]
	return ok
}

func (d *testDriver) has(name string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.clusters[name]
	return ok
}

// testScheduler records destroy schedules.
type testScheduler struct {
	mu sync.Mutex
	at map[string]time.Time
}

func (s *testScheduler) SetDestroy(_ context.Context, c string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.at[c] = at
	return nil
}

func (s *testScheduler) RemoveDestroy(_ context.Context, c string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.at, c)
	return nil
}

func (s *testScheduler) get(c string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.at[c]
	return t, ok
}

type fixture struct {
	app    *App
	store  *sqlite.DB
	driver *testDriver
	sched  *testScheduler
	clock  *testkit.Clock
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	store, keys := embedded.Open(t)
	clk := testkit.NewClock(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	f := &fixture{store: store, driver: newTestDriver(), sched: &testScheduler{at: map[string]time.Time{}}, clock: clk}
	f.app = New(Config{Store: store, Tokens: jwt.New(jwt.Config{Issuer: "http://test", Signer: keys}),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: clk.Now,
		Driver: f.driver, Scheduler: f.sched, Poll: time.Millisecond,
		Limits: Limits{MaxNodes: 4, MaxTTL: 8 * time.Hour, MaxClusters: 2}})
	return f
}

var (
	admin  = Caller{User: provisioner.User{Login: "ada", ID: 1, Level: provisioner.LevelAdmin}, Source: "test"}
	orgMem = Caller{User: provisioner.User{Login: "otto", ID: 2, Level: provisioner.LevelOrgMember}, Source: "test"}
	member = Caller{User: provisioner.User{Login: "mia", ID: 3, Level: provisioner.LevelMember}, Source: "test"}
	anon   = Caller{User: provisioner.Anonymous, Source: "test"}
)

func (f *fixture) cluster(t *testing.T, name string) provisioner.Cluster {
	t.Helper()
	cl, err := f.app.Status(context.Background(), admin, name)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// wait advances an operation to its end, as a poller would.
func (f *fixture) wait(t *testing.T, id string) provisioner.Operation {
	t.Helper()
	for i := 0; i < 100; i++ {
		op, err := f.app.Operation(context.Background(), admin, id, 0)
		if err != nil {
			t.Fatal(err)
		}
		if op.Done() {
			return op
		}
		advance := func() error { return f.app.advance(context.Background(), op.Cluster) }
		if cluster, user, group := provisioner.ParseScheduleKey(op.Cluster); group {
			advance = func() error { return f.app.advanceGroup(context.Background(), cluster, user) }
		}
		if err := advance(); err != nil {
			t.Fatal(err)
		}
	}
	t.Fatalf("operation %s never ended", id)
	return provisioner.Operation{}
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := provisioner.ErrorCode(err); got != code {
		t.Fatalf("want %s, got %v", code, err)
	}
}

func (f *fixture) deployed(t *testing.T, c Caller, name string, public bool) provisioner.Cluster {
	t.Helper()
	r, err := f.app.Deploy(context.Background(), c, DeployRequest{Cluster: name, IsPublic: public, NodeCapacity: 2, TTL: time.Hour, Version: "v1.2.3"})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Done {
		if op := f.wait(t, r.Operation.ID); op.State != provisioner.OpSuccess {
			t.Fatalf("deploy failed: %+v", op)
		}
	}
	cl := f.cluster(t, name)
	if cl.State != provisioner.StateRunning {
		t.Fatalf("not running: %+v", cl)
	}
	return cl
}
