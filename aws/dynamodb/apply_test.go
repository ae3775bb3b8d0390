package dynamodb

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"provisioner"
	"provisioner/testkit"
)

// cancelled answers a TransactWriteItems as DynamoDB does when it cancels
// the transaction: one reason per item, code(i) for item i.
func cancelled(code func(i int) string) func(r *http.Request) (*http.Response, error) {
	return func(r *http.Request) (*http.Response, error) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		var in struct{ TransactItems []json.RawMessage }
		if err := json.Unmarshal(body, &in); err != nil {
			return nil, err
		}
		var reasons []string
		for i := range in.TransactItems {
			reasons = append(reasons, fmt.Sprintf(`{"Code":%q}`, code(i)))
		}
		out := fmt.Sprintf(`{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException","Message":"Transaction cancelled","CancellationReasons":[%s]}`,
			strings.Join(reasons, ","))
		return response(r, 400, "application/x-amz-json-1.0", out), nil
	}
}

// TestApplyCancelled: a transaction DynamoDB cancels for a conflict with
// another transaction, or for throttling, is tried again a few times
// (then EUNAVAILABLE); one cancelled for a reason the store does not know
// is EINTERNAL, and nothing is retried.
func TestApplyCancelled(t *testing.T) {
	c := newClient(t)
	table := newTable(t, c)
	var failures atomic.Int64
	var calls atomic.Int64
	reason := "TransactionConflict"
	fault := func(r *http.Request) (*http.Response, error) {
		if operation(r) != "TransactWriteItems" || failures.Add(-1) < 0 {
			return nil, nil
		}
		return cancelled(func(i int) string {
			if i == 1 {
				return reason
			}
			return "None"
		})(r)
	}
	s := New(newClient(t, withFault(fault, &calls)), table)
	ctx := t.Context()
	apply := func(n int) error {
		cl := provisioner.Cluster{Name: fmt.Sprint("c", n)}
		_, err := s.Apply(ctx, provisioner.Batch{Cluster: &cl,
			Events: []provisioner.Event{{ID: fmt.Sprint("e", n), Cluster: cl.Name, Time: base}}})
		return err
	}
	for n, tc := range []struct {
		reason   string
		failures int64
		code     string
		calls    int64
	}{
		{"TransactionConflict", 2, "", 3},
		{"ThrottlingError", 1, "", 2},
		{"TransactionConflict", busyRetries + 1, provisioner.EUNAVAILABLE, busyRetries + 1},
		{"ItemCollectionSizeLimitExceeded", 1, provisioner.EINTERNAL, 1},
	} {
		reason = tc.reason
		failures.Store(tc.failures)
		calls.Store(0)
		err := apply(n)
		if got := calls.Load(); got != tc.calls {
			t.Errorf("%s x%d: %d transactions, want %d", tc.reason, tc.failures, got, tc.calls)
		}
		if tc.code == "" {
			ok(t, err)
			if _, err := s.GetCluster(ctx, fmt.Sprint("c", n)); err != nil {
				t.Fatalf("%s: the batch is not there after its retry: %v", tc.reason, err)
			}
		} else {
			testkit.WantCode(t, err, tc.code)
			_, err := s.GetCluster(ctx, fmt.Sprint("c", n))
			testkit.WantCode(t, err, provisioner.ENOTFOUND)
		}
	}
}

// TestApplyRepeats: an append already made (by AppendEvent, or by an
// earlier attempt) is recognised in a batch and left out, and a cluster
// deleted already (a tombstone) does not stop the rest of a deleting
// batch; an ID that is another record's still conflicts.
func TestApplyRepeats(t *testing.T) {
	c := newClient(t)
	s := New(c, newTable(t, c))
	ctx := t.Context()
	e1 := provisioner.Event{ID: "e1", Cluster: "alpha", Time: base, Type: "deploy.requested"}
	e2 := provisioner.Event{ID: "e2", Cluster: "alpha", Time: base.Add(1), Type: "schedule.set"}
	ok(t, s.AppendEvent(ctx, e1))
	cl := provisioner.Cluster{Name: "alpha"}
	rev, err := s.Apply(ctx, provisioner.Batch{Cluster: &cl, Events: []provisioner.Event{e1, e2}})
	ok(t, err)
	events, err := s.ListEvents(ctx, "alpha", 0)
	ok(t, err)
	if len(events) != 2 || events[0].ID != "e1" || events[1].ID != "e2" {
		t.Fatalf("events %+v, want e1 and e2 once each", events)
	}

	other := e1
	other.Type = "state.failed"
	cl.Revision = rev
	_, err = s.Apply(ctx, provisioner.Batch{Cluster: &cl, Events: []provisioner.Event{other}})
	testkit.WantCode(t, err, provisioner.ECONFLICT)
	if got, err := s.GetCluster(ctx, "alpha"); err != nil || got.Revision != rev {
		t.Fatalf("a conflicting batch changed the cluster: %+v, %v", got, err)
	}

	ok(t, s.DeleteCluster(ctx, "alpha", rev))
	e3 := provisioner.Event{ID: "e3", Cluster: "alpha", Time: base.Add(2), Type: "state.absent"}
	_, err = s.Apply(ctx, provisioner.Batch{Cluster: &cl, DeleteCluster: true, Events: []provisioner.Event{e3}})
	ok(t, err)
	if events, err = s.ListEvents(ctx, "alpha", 0); err != nil || len(events) != 3 {
		t.Fatalf("events %+v, %v; want e3 after the delete", events, err)
	}
}
