package dynamodb

import (
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// base is a fixed, millisecond-precise time for records.
var base = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// retries makes the client try max times without waiting in between and
// without the client-side retry quota, so fault tests run fast and
// deterministically.
func retries(max int) func(*ddb.Options) {
	return func(o *ddb.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = max
			so.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
			so.RateLimiter = ratelimit.None
		})
	}
}

// faultClient wraps the client's transport: fault sees every request
// first and may answer it itself (as DynamoDB or the network would fail),
// or let it through (nil, nil). It counts the requests it saw.
type faultClient struct {
	next  aws.HTTPClient
	fault func(r *http.Request) (*http.Response, error)
	calls *atomic.Int64
}

func (f faultClient) Do(r *http.Request) (*http.Response, error) {
	f.calls.Add(1)
	if resp, err := f.fault(r); resp != nil || err != nil {
		return resp, err
	}
	return f.next.Do(r)
}

// withFault routes the client's requests through fault.
func withFault(fault func(r *http.Request) (*http.Response, error), calls *atomic.Int64) func(*ddb.Options) {
	return func(o *ddb.Options) {
		o.HTTPClient = faultClient{next: o.HTTPClient, fault: fault, calls: calls}
	}
}

// apiError answers with a DynamoDB (awsJson1_0) error response, as the
// service sends them: the SDK's own deserializer reads it.
func apiError(status int, typ, msg string) func(*http.Request) (*http.Response, error) {
	return func(r *http.Request) (*http.Response, error) {
		body := fmt.Sprintf(`{"__type":"com.amazonaws.dynamodb.v20120810#%s","message":%q}`, typ, msg)
		return response(r, status, "application/x-amz-json-1.0", body), nil
	}
}

func response(r *http.Request, status int, contentType, body string) *http.Response {
	return &http.Response{
		StatusCode: status,
		Status:     fmt.Sprintf("%d %s", status, http.StatusText(status)),
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header: http.Header{"Content-Type": {contentType}, "X-Amzn-Requestid": {"TESTREQUEST"},
			"X-Amz-Crc32": {strconv.FormatUint(uint64(crc32.ChecksumIEEE([]byte(body))), 10)}},
		Body:          io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       r,
	}
}

// operation returns the DynamoDB operation a request calls.
func operation(r *http.Request) string {
	_, op, _ := strings.Cut(r.Header.Get("X-Amz-Target"), ".")
	return op
}

func ok(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
