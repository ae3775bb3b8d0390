package dynamodb

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"provisioner"
	"provisioner/aws/awstest"
	"provisioner/storetest"
)

// emulatorGate sends one request at a time to the emulator. moto (5.2.x)
// evaluates a ConditionExpression and then writes without a lock
// (moto/dynamodb/models/table.py, put_item), so two concurrent conditional
// writes to one item can both succeed there; DynamoDB evaluates the
// condition atomically with the write. Its TransactWriteItems copies the
// table first and puts the copy back when the transaction is cancelled,
// undoing any write made meanwhile (models/__init__.py). Through the gate each request is
// atomic, as in DynamoDB, while goroutines still interleave their requests
// in any order, so the compare-and-swap logic is tested as it runs in AWS.
// Without it the race tests fail now and then with updates lost inside the
// emulator.
var emulatorGate sync.Mutex

type gatedClient struct{ next aws.HTTPClient }

func (g gatedClient) Do(r *http.Request) (*http.Response, error) {
	emulatorGate.Lock()
	defer emulatorGate.Unlock()
	resp, err := g.next.Do(r)
	if err != nil {
		return nil, err
	}
	// The whole response, so the emulator is done with the request.
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, err
}

// newClient returns a DynamoDB client on the emulator (skipping the test
// without one, failing it under CI), with its own connections, behind
// emulatorGate.
func newClient(tb testing.TB, opts ...func(*ddb.Options)) *ddb.Client {
	tb.Helper()
	cfg := awstest.Config(tb)
	cfg.HTTPClient = gatedClient{next: cfg.HTTPClient}
	return ddb.NewFromConfig(cfg, opts...)
}

// newTable creates a table of its own for the test, deleted when it ends:
// the emulator is shared by every package and never reset.
func newTable(tb testing.TB, c *ddb.Client) string {
	tb.Helper()
	name := awstest.Name("provisioner-store")
	if err := CreateTable(context.Background(), c, name); err != nil {
		tb.Fatalf("CreateTable: %v", err)
	}
	tb.Cleanup(func() {
		if _, err := c.DeleteTable(context.Background(), &ddb.DeleteTableInput{TableName: aws.String(name)}); err != nil {
			tb.Logf("DeleteTable %s: %v", name, err)
		}
	})
	return name
}

func TestConformance(t *testing.T) {
	c := newClient(t)
	storetest.Run(t, func(t *testing.T) provisioner.Store { return New(c, newTable(t, c)) })
}

func BenchmarkStore(b *testing.B) {
	c := newClient(b)
	storetest.Bench(b, func(b *testing.B) provisioner.Store { return New(c, newTable(b, c)) })
}
