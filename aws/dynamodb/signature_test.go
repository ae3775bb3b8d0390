package dynamodb

import (
	"bytes"
	"encoding/base64"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// TestClaimSignature: a signature is claimed once across Store values
// sharing the table (two Lambda instances), concurrently too; its guard
// expires through TTL after the window.
func TestClaimSignature(t *testing.T) {
	c := newClient(t)
	table := newTable(t, c)
	a, b := New(c, table), New(c, table)
	ctx := t.Context()
	sig := bytes.Repeat([]byte{0xa5}, 64)
	until := time.Now().Add(time.Minute).Truncate(time.Second)
	fresh, err := a.ClaimSignature(ctx, sig, until)
	if err != nil || !fresh {
		t.Fatalf("first claim: %v %v", fresh, err)
	}
	for _, s := range []*Store{a, b} {
		if fresh, err := s.ClaimSignature(ctx, sig, until); err != nil || fresh {
			t.Errorf("second claim: %v %v, want refused", fresh, err)
		}
	}
	items := rawItems(t, c, table)
	it, found := items["SIG#"+base64.RawURLEncoding.EncodeToString(sig)+"|SIG"]
	if !found {
		t.Fatalf("no guard item: %v", items)
	}
	if ttl, err := it.num(attrTTL); err != nil || ttl != until.Add(signatureGrace).Unix() {
		t.Errorf("guard ttl %d (%v), want %d", ttl, err, until.Add(signatureGrace).Unix())
	}

	// Many instances race for one signature: exactly one wins.
	other := bytes.Repeat([]byte{0x5a}, 64)
	var wins atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fresh, err := New(c, table).ClaimSignature(ctx, other, until)
			if err != nil {
				t.Error(err)
			}
			if fresh {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Errorf("%d claims of one signature succeeded, want 1", wins.Load())
	}
}

// lostResponse lets the first PutItem through, then loses its answer (as a
// network failure would), so the SDK sends it again.
type lostResponse struct {
	next aws.HTTPClient
	lost atomic.Bool
}

func (l *lostResponse) Do(r *http.Request) (*http.Response, error) {
	resp, err := l.next.Do(r)
	if err == nil && operation(r) == "PutItem" && l.lost.CompareAndSwap(false, true) {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return apiError(500, "InternalServerError", "lost")(r)
	}
	return resp, err
}

// TestClaimSignatureRetried: the SDK's retry of a claim whose answer was
// lost finds its own guard and succeeds, rather than refusing the request
// as a replay of itself.
func TestClaimSignatureRetried(t *testing.T) {
	c := newClient(t)
	table := newTable(t, c)
	lr := &lostResponse{}
	rc := newClient(t, retries(3), func(o *ddb.Options) { lr.next = o.HTTPClient; o.HTTPClient = lr })
	sig := bytes.Repeat([]byte{0x3c}, 64)
	fresh, err := New(rc, table).ClaimSignature(t.Context(), sig, time.Now().Add(time.Minute))
	if err != nil || !fresh || !lr.lost.Load() {
		t.Fatalf("claim with a lost answer: %v %v (lost %v)", fresh, err, lr.lost.Load())
	}
	if fresh, err := New(c, table).ClaimSignature(t.Context(), sig, time.Now().Add(time.Minute)); err != nil || fresh {
		t.Errorf("claim after the retried one: %v %v, want refused", fresh, err)
	}
}
