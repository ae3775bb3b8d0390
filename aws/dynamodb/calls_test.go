package dynamodb

import (
	"slices"
	"testing"

	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"provisioner"
	"provisioner/aws/awsenv"
	"provisioner/aws/awstest"
)

// TestCallsPerMethod pins the DynamoDB requests each method makes, counted
// by the SDK middleware of awsenv: one request per call, two per append
// (guard, record), one transaction per Apply of more than one item, and
// the audit day index once per day and Store.
func TestCallsPerMethod(t *testing.T) {
	cfg := awstest.Config(t)
	cfg.HTTPClient = gatedClient{next: cfg.HTTPClient}
	calls := awsenv.Count(&cfg)
	c := ddb.NewFromConfig(cfg)
	s := New(c, newTable(t, c))
	ctx := t.Context()
	var rev int64
	var err error
	for _, tc := range []struct {
		name string
		call func() error
		want []string
	}{
		{"PutCluster create", func() error {
			rev, err = s.PutCluster(ctx, provisioner.Cluster{Name: "alpha"})
			return err
		}, []string{"DynamoDB.PutItem=1"}},
		{"GetCluster", func() error { _, err := s.GetCluster(ctx, "alpha"); return err }, []string{"DynamoDB.GetItem=1"}},
		{"PutCluster update", func() error {
			rev, err = s.PutCluster(ctx, provisioner.Cluster{Name: "alpha", Deployment: provisioner.Deployment{Revision: rev}})
			return err
		}, []string{"DynamoDB.PutItem=1"}},
		{"ListClusters", func() error { _, err := s.ListClusters(ctx); return err }, []string{"DynamoDB.Query=1"}},
		{"DeleteCluster", func() error { return s.DeleteCluster(ctx, "alpha", rev) }, []string{"DynamoDB.PutItem=1"}},
		{"PutCluster re-create", func() error {
			_, err := s.PutCluster(ctx, provisioner.Cluster{Name: "alpha"})
			return err
		}, []string{"DynamoDB.PutItem=1"}},
		{"AppendEvent", func() error {
			return s.AppendEvent(ctx, provisioner.Event{ID: "e1", Cluster: "alpha", Time: base})
		}, []string{"DynamoDB.PutItem=2"}},
		{"ListEvents", func() error { _, err := s.ListEvents(ctx, "alpha", 0); return err }, []string{"DynamoDB.Query=1"}},
		{"AppendAudit first of the day", func() error {
			return s.AppendAudit(ctx, provisioner.AuditEntry{ID: "a1", Time: base})
		}, []string{"DynamoDB.PutItem=3"}},
		{"AppendAudit", func() error {
			return s.AppendAudit(ctx, provisioner.AuditEntry{ID: "a2", Time: base})
		}, []string{"DynamoDB.PutItem=2"}},
		{"ListAudit one day", func() error { _, err := s.ListAudit(ctx, provisioner.AuditFilter{}); return err }, []string{"DynamoDB.Query=2"}},
		{"Apply cluster, operation, event, audit entry", func() error {
			c := provisioner.Cluster{Name: "beta"}
			_, err := s.Apply(ctx, provisioner.Batch{Cluster: &c, Operations: []provisioner.Operation{{ID: "op0"}},
				Events: []provisioner.Event{{ID: "e2", Cluster: "beta", Time: base}}, Audit: []provisioner.AuditEntry{{ID: "a3", Time: base}}})
			return err
		}, []string{"DynamoDB.TransactWriteItems=1"}},
		{"Apply cluster alone", func() error {
			c := provisioner.Cluster{Name: "gamma"}
			_, err := s.Apply(ctx, provisioner.Batch{Cluster: &c})
			return err
		}, []string{"DynamoDB.PutItem=1"}},
		{"PutOperation", func() error { return s.PutOperation(ctx, provisioner.Operation{ID: "op1"}) }, []string{"DynamoDB.PutItem=1"}},
		{"GetOperation", func() error { _, err := s.GetOperation(ctx, "op1"); return err }, []string{"DynamoDB.GetItem=1"}},
		{"PutJob", func() error { _, err := s.PutJob(ctx, provisioner.Job{ID: "j1"}); return err }, []string{"DynamoDB.PutItem=1"}},
		{"GetJob", func() error { _, err := s.GetJob(ctx, "j1"); return err }, []string{"DynamoDB.GetItem=1"}},
		{"ListJobs", func() error {
			_, err := s.ListJobs(ctx, provisioner.JobFilter{State: provisioner.JobRunning})
			return err
		}, []string{"DynamoDB.Query=1"}},
	} {
		calls.Reset()
		ok(t, tc.call())
		if got := calls.Calls(); !slices.Equal(got, tc.want) {
			t.Errorf("%s made %v, want %v", tc.name, got, tc.want)
		}
	}
}
