package dynamodb

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"provisioner"
	"provisioner/storetest"
	"provisioner/testkit"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// twoStores returns two Store values on one new table, each with a client
// (and connections) of its own, as two Lambda instances have. The second
// one's clock runs an hour behind: revisions must not depend on clocks
// agreeing.
func twoStores(t *testing.T) (a, b *Store) {
	ca, cb := newClient(t), newClient(t)
	table := newTable(t, ca)
	behind := func() time.Time { return time.Now().Add(-time.Hour) }
	return New(ca, table), New(cb, table, WithClock(behind))
}

// TestRaceNoLostUpdate has workers on two stores increment one cluster by
// read, modify, compare-and-swap, retrying on ECONFLICT. Every success must
// have started from a distinct revision, and the successes must form one
// chain from the created revision to the final one: no update was lost or
// applied on top of a stale read.
func TestRaceNoLostUpdate(t *testing.T) {
	a, b := twoStores(t)
	stores := []*Store{a, b}
	ctx := t.Context()
	first, err := a.PutCluster(ctx, provisioner.Cluster{Name: "alpha", Deployment: provisioner.Deployment{State: provisioner.StateRunning}})
	ok(t, err)

	const workers, perWorker = 8, 5
	var mu sync.Mutex
	next := map[int64]int64{} // revision read -> revision written
	var conflicts atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			s := stores[w%2]
			for range perWorker {
				var read, rev int64
				n, err := storetest.RetryConflicts(func() error {
					c, err := s.GetCluster(ctx, "alpha")
					if err != nil {
						return err
					}
					read = c.Revision
					c.NodeCapacity++
					c.Reason = fmt.Sprintf("worker %d", w)
					rev, err = s.PutCluster(ctx, c)
					return err
				})
				conflicts.Add(int64(n))
				if err != nil {
					t.Errorf("worker %d: %v", w, err)
					return
				}
				mu.Lock()
				if prev, dup := next[read]; dup {
					t.Errorf("revision %d was updated twice: to %d and to %d", read, prev, rev)
				}
				next[read] = rev
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	got, err := b.GetCluster(ctx, "alpha")
	ok(t, err)
	if got.NodeCapacity != workers*perWorker {
		t.Fatalf("after %d increments NodeCapacity = %d: updates were lost", workers*perWorker, got.NodeCapacity)
	}
	rev, n := first, 0
	for ; n < len(next); n++ {
		nr, ok := next[rev]
		if !ok {
			break
		}
		if nr <= rev {
			t.Fatalf("revision went from %d down to %d", rev, nr)
		}
		rev = nr
	}
	if n != workers*perWorker || rev != got.Revision {
		t.Fatalf("the chain of revisions from %d has %d links ending at %d; want %d ending at the stored %d",
			first, n, rev, workers*perWorker, got.Revision)
	}
	t.Logf("%d increments over two stores, %d conflicts retried", workers*perWorker, conflicts.Load())
}

// TestRaceCreate has workers on two stores create one cluster at once,
// first when it never existed, then over the tombstone of a delete: exactly
// one wins each time, and the re-created cluster's revision is above every
// revision of the deleted one, even when the winner's clock is behind.
func TestRaceCreate(t *testing.T) {
	a, b := twoStores(t)
	stores := []*Store{a, b}
	ctx := t.Context()
	race := func() (winner provisioner.Cluster) {
		const workers = 10
		var wg sync.WaitGroup
		var wins atomic.Int32
		for w := range workers {
			wg.Go(func() {
				c := provisioner.Cluster{Name: "shared", Deployment: provisioner.Deployment{CreatedBy: fmt.Sprintf("worker%d", w), State: provisioner.StateDeploying}}
				_, err := stores[w%2].PutCluster(ctx, c)
				switch provisioner.ErrorCode(err) {
				case "":
					wins.Add(1)
				case provisioner.ECONFLICT:
				default:
					t.Errorf("worker %d: %v", w, err)
				}
			})
		}
		wg.Wait()
		if n := wins.Load(); n != 1 {
			t.Fatalf("%d workers created the cluster, want 1", n)
		}
		got, err := a.GetCluster(ctx, "shared")
		ok(t, err)
		return got
	}
	first := race()
	upd := first
	upd.State = provisioner.StateRunning
	rev, err := b.PutCluster(ctx, upd) // b's clock is behind: revision+1
	ok(t, err)
	ok(t, a.DeleteCluster(ctx, "shared", rev))
	for range 3 { // a few rounds, so the clock-behind store wins some
		second := race()
		if second.Revision <= rev {
			t.Fatalf("re-created cluster has revision %d, not above its predecessor's %d", second.Revision, rev)
		}
		for _, old := range []int64{first.Revision, rev} {
			stale := second
			stale.Revision = old
			_, err := a.PutCluster(ctx, stale)
			testkit.WantCode(t, err, provisioner.ECONFLICT)
		}
		rev = second.Revision
		ok(t, b.DeleteCluster(ctx, "shared", rev))
	}
}

// TestRevisionsAcrossClocks deletes and re-creates a cluster, alternating
// between a store with the right time and one an hour behind: revisions
// keep growing, so no revision read before a delete matches a later record.
func TestRevisionsAcrossClocks(t *testing.T) {
	a, b := twoStores(t)
	ctx := t.Context()
	var seen []int64
	for i := range 6 {
		s := []*Store{a, b}[i%2]
		rev, err := s.PutCluster(ctx, provisioner.Cluster{Name: "cycle", Deployment: provisioner.Deployment{NodeCapacity: i}})
		ok(t, err)
		c, err := s.GetCluster(ctx, "cycle")
		ok(t, err)
		c.NodeCapacity++
		rev2, err := s.PutCluster(ctx, c)
		ok(t, err)
		seen = append(seen, rev, rev2)
		for _, old := range seen[:len(seen)-1] {
			testkit.WantCode(t, s.DeleteCluster(ctx, "cycle", old), provisioner.ECONFLICT)
		}
		ok(t, []*Store{b, a}[i%2].DeleteCluster(ctx, "cycle", rev2))
	}
	if !slices.IsSorted(seen) || len(slices.Compact(slices.Clone(seen))) != len(seen) {
		t.Fatalf("revisions %v do not strictly grow", seen)
	}
}

// TestRaceJobs runs the read-modify-write race on a job from two stores:
// each worker appends a step; none may be lost.
func TestRaceJobs(t *testing.T) {
	a, b := twoStores(t)
	stores := []*Store{a, b}
	ctx := t.Context()
	_, err := a.PutJob(ctx, provisioner.Job{ID: "j1", Kind: provisioner.JobTest, State: provisioner.JobRunning, CreatedAt: base})
	ok(t, err)
	const workers, perWorker = 8, 4
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			s := stores[w%2]
			for i := range perWorker {
				_, err := storetest.RetryConflicts(func() error {
					j, err := s.GetJob(ctx, "j1")
					if err != nil {
						return err
					}
					j.Steps = append(j.Steps, provisioner.StepResult{Name: fmt.Sprintf("w%d-%d", w, i), Status: "passed"})
					_, err = s.PutJob(ctx, j)
					return err
				})
				if err != nil {
					t.Errorf("worker %d: %v", w, err)
					return
				}
			}
		})
	}
	wg.Wait()
	j, err := b.GetJob(ctx, "j1")
	ok(t, err)
	if len(j.Steps) != workers*perWorker {
		t.Fatalf("job has %d steps after %d appends: updates were lost", len(j.Steps), workers*perWorker)
	}
}

// TestLostResponse lets the first attempt of every write reach the table
// and then fails it as a reset connection would: the SDK retries, the
// retry's condition fails on the write itself, and the store must
// recognise its own write (write token, guard reference, identical record)
// instead of reporting a conflict.
func TestLostResponse(t *testing.T) {
	var lost atomic.Int64
	c := newClient(t, retries(3), func(o *ddb.Options) {
		o.HTTPClient = &lossyClient{next: o.HTTPClient, seen: map[string]bool{}, lost: &lost}
	})
	s := New(c, newTable(t, c))
	ctx := t.Context()
	step := func(name string, f func() error) {
		t.Helper()
		before := lost.Load()
		if err := f(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if lost.Load() == before {
			t.Fatalf("%s: no response was lost; the test tests nothing", name)
		}
	}

	var rev int64
	step("create", func() (err error) {
		rev, err = s.PutCluster(ctx, provisioner.Cluster{Name: "alpha", Deployment: provisioner.Deployment{State: provisioner.StateDeploying}})
		return err
	})
	got, err := s.GetCluster(ctx, "alpha")
	ok(t, err)
	if got.Revision != rev {
		t.Fatalf("create returned revision %d, stored %d", rev, got.Revision)
	}
	got.State = provisioner.StateRunning
	step("update", func() (err error) { rev, err = s.PutCluster(ctx, got); return err })
	if got, err = s.GetCluster(ctx, "alpha"); err != nil || got.Revision != rev || got.State != provisioner.StateRunning {
		t.Fatalf("after update: %+v, %v; want revision %d", got, err, rev)
	}
	step("delete", func() error { return s.DeleteCluster(ctx, "alpha", rev) })
	_, err = s.GetCluster(ctx, "alpha")
	testkit.WantCode(t, err, provisioner.ENOTFOUND)

	var jrev int64
	step("create job", func() (err error) {
		jrev, err = s.PutJob(ctx, provisioner.Job{ID: "j1", State: provisioner.JobQueued, CreatedAt: base})
		return err
	})
	step("update job", func() (err error) {
		jrev, err = s.PutJob(ctx, provisioner.Job{ID: "j1", State: provisioner.JobRunning, CreatedAt: base, Revision: jrev})
		return err
	})
	if j, err := s.GetJob(ctx, "j1"); err != nil || j.Revision != jrev || j.State != provisioner.JobRunning {
		t.Fatalf("job: %+v, %v; want revision %d", j, err, jrev)
	}

	bc := provisioner.Cluster{Name: "beta", Deployment: provisioner.Deployment{State: provisioner.StateDeploying}}
	batch := func(n int) provisioner.Batch {
		at := base.Add(time.Duration(n) * time.Minute)
		return provisioner.Batch{Cluster: &bc, Operations: []provisioner.Operation{{ID: fmt.Sprint("op", n), CreatedAt: at}},
			Events: []provisioner.Event{{ID: fmt.Sprint("bev", n), Cluster: "beta", Time: at}},
			Audit:  []provisioner.AuditEntry{{ID: fmt.Sprint("bau", n), Time: at}}}
	}
	step("apply create", func() (err error) { bc.Revision, err = s.Apply(ctx, batch(0)); return err })
	bc.State = provisioner.StateRunning
	step("apply update", func() (err error) { bc.Revision, err = s.Apply(ctx, batch(1)); return err })
	if got, err := s.GetCluster(ctx, "beta"); err != nil || got.Revision != bc.Revision || got.State != provisioner.StateRunning {
		t.Fatalf("after apply: %+v, %v; want revision %d", got, err, bc.Revision)
	}
	step("apply delete", func() error {
		b := batch(2)
		b.DeleteCluster = true
		_, err := s.Apply(ctx, b)
		return err
	})
	_, err = s.GetCluster(ctx, "beta")
	testkit.WantCode(t, err, provisioner.ENOTFOUND)
	if events, err := s.ListEvents(ctx, "beta", 0); err != nil || len(events) != 3 {
		t.Fatalf("events of the batches: %v, %v; want 3", events, err)
	}

	sess := provisioner.Session{ID: "s1", Login: "ada", Created: base, Expires: base.Add(time.Hour), CheckedAt: base}
	step("create session", func() error { return s.CreateSession(ctx, sess) })
	if got, err := s.GetSession(ctx, "ada", "s1"); err != nil || !got.Expires.Equal(sess.Expires) {
		t.Fatalf("session: %+v, %v", got, err)
	}
	// Another session with the same id still conflicts.
	other := sess
	other.Expires = base.Add(2 * time.Hour)
	testkit.WantCode(t, s.CreateSession(ctx, other), provisioner.ECONFLICT)

	step("event", func() error {
		return s.AppendEvent(ctx, provisioner.Event{ID: "ev1", Cluster: "alpha", Time: base, Type: "state.running"})
	})
	step("audit", func() error {
		return s.AppendAudit(ctx, provisioner.AuditEntry{ID: "au1", Time: base, Action: "deploy", Result: "success"})
	})
	events, err := s.ListEvents(ctx, "alpha", 0)
	ok(t, err)
	entries, err := s.ListAudit(ctx, provisioner.AuditFilter{})
	ok(t, err)
	if len(events) != 1 || len(entries) != 4 {
		t.Fatalf("%d events and %d audit entries, want 1 and 4 (3 of the batches)", len(events), len(entries))
	}
	// A real duplicate still conflicts.
	err = s.AppendEvent(ctx, provisioner.Event{ID: "ev1", Cluster: "alpha", Time: base, Type: "state.failed"})
	testkit.WantCode(t, err, provisioner.ECONFLICT)
}

// lossyClient passes every request on, but fails the first attempt of each
// PutItem and TransactWriteItems after the table has applied it, as when a
// connection drops before the response arrives. The SDK's retries send the
// same body again (for a transaction, the same ClientRequestToken, which
// the emulator ignores), which it lets through.
type lossyClient struct {
	next aws.HTTPClient
	mu   sync.Mutex
	seen map[string]bool // bodies of PutItem requests already sent
	lost *atomic.Int64
}

func (l *lossyClient) Do(r *http.Request) (*http.Response, error) {
	if op := operation(r); (op != "PutItem" && op != "TransactWriteItems") || r.Body == nil {
		return l.next.Do(r)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(body))
	l.mu.Lock()
	first := !l.seen[string(body)]
	l.seen[string(body)] = true
	l.mu.Unlock()
	resp, err := l.next.Do(r)
	if err != nil || !first || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	l.lost.Add(1)
	return nil, &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
}
