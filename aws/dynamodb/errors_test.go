package dynamodb

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"provisioner"
	"provisioner/testkit"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
)

// storeCalls are one call of each Store method, on ctx.
func storeCalls(s *Store) map[string]func(ctx context.Context) error {
	return map[string]func(ctx context.Context) error{
		"GetCluster": func(ctx context.Context) error { _, err := s.GetCluster(ctx, "alpha"); return err },
		"PutCluster": func(ctx context.Context) error {
			_, err := s.PutCluster(ctx, provisioner.Cluster{Name: "alpha", Deployment: provisioner.Deployment{Revision: 7}})
			return err
		},
		"DeleteCluster": func(ctx context.Context) error { return s.DeleteCluster(ctx, "alpha", 7) },
		"ListClusters":  func(ctx context.Context) error { _, err := s.ListClusters(ctx); return err },
		"PutOperation": func(ctx context.Context) error {
			return s.PutOperation(ctx, provisioner.Operation{ID: "op-1", CreatedAt: base})
		},
		"GetOperation": func(ctx context.Context) error { _, err := s.GetOperation(ctx, "op-1"); return err },
		"AppendEvent": func(ctx context.Context) error {
			return s.AppendEvent(ctx, provisioner.Event{ID: "ev-1", Cluster: "alpha", Time: base})
		},
		"ListEvents": func(ctx context.Context) error { _, err := s.ListEvents(ctx, "alpha", 0); return err },
		"AppendAudit": func(ctx context.Context) error {
			return s.AppendAudit(ctx, provisioner.AuditEntry{ID: "au-1", Time: base})
		},
		"ListAudit": func(ctx context.Context) error { _, err := s.ListAudit(ctx, provisioner.AuditFilter{}); return err },
		"PutJob": func(ctx context.Context) error {
			_, err := s.PutJob(ctx, provisioner.Job{ID: "j1", CreatedAt: base})
			return err
		},
		"Apply": func(ctx context.Context) error {
			_, err := s.Apply(ctx, provisioner.Batch{Cluster: &provisioner.Cluster{Name: "alpha", Deployment: provisioner.Deployment{Revision: 7}},
				Events: []provisioner.Event{{ID: "ev-2", Cluster: "alpha", Time: base}}})
			return err
		},
		"GetJob":   func(ctx context.Context) error { _, err := s.GetJob(ctx, "j1"); return err },
		"ListJobs": func(ctx context.Context) error { _, err := s.ListJobs(ctx, provisioner.JobFilter{}); return err },
	}
}

// TestErrorTranslation answers every request with one failure and checks
// each method's error: the code, the attempts the SDK made (transient
// failures are retried before they surface), the cause kept for logs, and
// a message that names none of the cause's details.
func TestErrorTranslation(t *testing.T) {
	const secret = "tbl-7d3f-secret" // stands for a table name, an ARN, an endpoint
	connReset := func(*http.Request) (*http.Response, error) {
		return nil, &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	}
	html503 := func(r *http.Request) (*http.Response, error) {
		return response(r, 503, "text/html", "<html><body>Service Unavailable "+secret+"</body></html>"), nil
	}
	cases := []struct {
		name    string
		fault   func(*http.Request) (*http.Response, error)
		code    string
		apiCode string // the SDK error kept in the chain, if an API error
		tries   int64  // requests per call: the SDK retries what it deems transient
	}{
		{"Throttling", apiError(400, "ThrottlingException", "Throughput exceeds the current capacity of "+secret), provisioner.EUNAVAILABLE, "ThrottlingException", 2},
		{"ProvisionedThroughputExceeded", apiError(400, "ProvisionedThroughputExceededException", "The level of configured provisioned throughput for "+secret+" was exceeded"), provisioner.EUNAVAILABLE, "ProvisionedThroughputExceededException", 2},
		{"RequestLimitExceeded", apiError(400, "RequestLimitExceeded", "Throughput exceeds the account limit: "+secret), provisioner.EUNAVAILABLE, "RequestLimitExceeded", 2},
		{"TransactionConflict", apiError(400, "TransactionConflictException", "Transaction is ongoing for the item "+secret), provisioner.EUNAVAILABLE, "TransactionConflictException", 1},
		{"InternalServerError", apiError(500, "InternalServerError", "Internal server error "+secret), provisioner.EUNAVAILABLE, "InternalServerError", 2},
		{"ServiceUnavailableHTML", html503, provisioner.EUNAVAILABLE, "", 2},
		{"ConnectionReset", connReset, provisioner.EUNAVAILABLE, "", 2},
		{"AccessDenied", apiError(400, "AccessDeniedException", "User: arn:aws:sts::123456789012:assumed-role/"+secret+" is not authorized to perform: dynamodb:PutItem"), provisioner.EINTERNAL, "AccessDeniedException", 1},
		{"Validation", apiError(400, "ValidationException", "One or more parameter values were invalid: "+secret), provisioner.EINTERNAL, "ValidationException", 1},
		{"ResourceNotFound", apiError(400, "ResourceNotFoundException", "Requested resource not found: Table: "+secret+" not found"), provisioner.EINTERNAL, "ResourceNotFoundException", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int64
			s := New(newClient(t, retries(2), withFault(tc.fault, &calls)), secret)
			for method, call := range storeCalls(s) {
				calls.Store(0)
				err := call(t.Context())
				pe := testkit.WantCode(t, err, tc.code)
				for _, leak := range []string{secret, "Exception", "arn:", "127.0.0.1", "html", "StatusCode"} {
					if strings.Contains(pe.Message, leak) {
						t.Errorf("%s: message %q leaks %q", method, pe.Message, leak)
					}
				}
				if pe.Err == nil {
					t.Errorf("%s: the cause is not kept: %#v", method, pe)
				}
				if tc.apiCode != "" {
					var ae smithy.APIError
					if !errors.As(err, &ae) || ae.ErrorCode() != tc.apiCode {
						t.Errorf("%s: the cause %v is not the SDK's %s", method, err, tc.apiCode)
					}
				}
				if n := calls.Load(); n != tc.tries {
					t.Errorf("%s: %d requests, want %d", method, n, tc.tries)
				}
			}
		})
	}
}

// TestErrorsFromEmulator checks the same translation on real failures: a
// table that does not exist, and an endpoint where nothing listens.
func TestErrorsFromEmulator(t *testing.T) {
	t.Run("MissingTable", func(t *testing.T) {
		table := "provisioner-no-such-table-" + strings.ReplaceAll(t.Name(), "/", "-")
		s := New(newClient(t), table)
		for method, call := range storeCalls(s) {
			pe := testkit.WantCode(t, call(t.Context()), provisioner.EINTERNAL)
			var rnf *types.ResourceNotFoundException
			if !errors.As(pe, &rnf) {
				t.Errorf("%s: cause %v is not ResourceNotFoundException", method, pe.Err)
			}
			if strings.Contains(pe.Message, table) {
				t.Errorf("%s: message %q names the table", method, pe.Message)
			}
		}
	})
	t.Run("NothingListening", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		ok(t, err)
		addr := l.Addr().String()
		l.Close()
		c := newClient(t, retries(2), func(o *ddb.Options) { o.BaseEndpoint = aws.String("http://" + addr) })
		for method, call := range storeCalls(New(c, "t")) {
			pe := testkit.WantCode(t, call(t.Context()), provisioner.EUNAVAILABLE)
			if strings.Contains(pe.Message, addr) || strings.Contains(pe.Message, "refused") {
				t.Errorf("%s: message %q leaks the cause", method, pe.Message)
			}
		}
	})
	t.Run("Malformed", func(t *testing.T) {
		c := newClient(t)
		table := newTable(t, c)
		bad := key(clustersPK, "bad")
		bad[attrNodes] = strAV("seven")
		_, err := c.PutItem(t.Context(), &ddb.PutItemInput{TableName: aws.String(table), Item: bad})
		ok(t, err)
		s := New(c, table)
		_, err = s.GetCluster(t.Context(), "bad")
		testkit.WantCode(t, err, provisioner.EINTERNAL)
		_, err = s.ListClusters(t.Context())
		testkit.WantCode(t, err, provisioner.EINTERNAL)
	})
}
