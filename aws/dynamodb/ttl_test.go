package dynamodb

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"provisioner"
)

// rawItems returns every item of the table, by "pk|sk".
func rawItems(t *testing.T, c *ddb.Client, table string) map[string]item {
	t.Helper()
	out := map[string]item{}
	p := ddb.NewScanPaginator(c, &ddb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		ok(t, err)
		for _, it := range page.Items {
			d := decoder{it: it}
			out[d.str(attrPK)+"|"+d.str(attrSK)] = it
		}
	}
	return out
}

// TestTTL checks the TTL attribute on every kind of item: the record's own
// time plus the retention on operations, events, audit entries, their
// guards and the audit day index; now plus the retention on tombstones;
// none on clusters and jobs. The table has TTL enabled on it.
func TestTTL(t *testing.T) {
	const retention = 48 * time.Hour
	c := newClient(t)
	table := newTable(t, c)
	now := base.Add(10 * 24 * time.Hour)
	s := New(c, table, WithRetention(retention), WithClock(func() time.Time { return now }))
	ctx := t.Context()

	ttl, err := c.DescribeTimeToLive(ctx, &ddb.DescribeTimeToLiveInput{TableName: aws.String(table)})
	ok(t, err)
	if d := ttl.TimeToLiveDescription; d == nil || aws.ToString(d.AttributeName) != TTLAttribute ||
		d.TimeToLiveStatus != types.TimeToLiveStatusEnabled {
		t.Fatalf("table TTL = %+v, want enabled on %q", d, TTLAttribute)
	}

	evTime := base.Add(90 * time.Minute)
	auTime := base.Add(11*time.Hour + 59*time.Minute) // 23:59, the end of its day
	_, err = s.PutCluster(ctx, provisioner.Cluster{Name: "live", Deployment: provisioner.Deployment{CreatedAt: base}})
	ok(t, err)
	rev, err := s.PutCluster(ctx, provisioner.Cluster{Name: "gone", Deployment: provisioner.Deployment{CreatedAt: base}})
	ok(t, err)
	ok(t, s.DeleteCluster(ctx, "gone", rev))
	ok(t, s.PutOperation(ctx, provisioner.Operation{ID: "op1", CreatedAt: base, UpdatedAt: base.Add(time.Hour)}))
	ok(t, s.PutOperation(ctx, provisioner.Operation{ID: "op-zero"}))
	ok(t, s.AppendEvent(ctx, provisioner.Event{ID: "ev1", Cluster: "live", Time: evTime}))
	ok(t, s.AppendAudit(ctx, provisioner.AuditEntry{ID: "au1", Time: auTime}))
	_, err = s.PutJob(ctx, provisioner.Job{ID: "j1", CreatedAt: base})
	ok(t, err)

	evKey, _ := timeKey(evTime, "ev1")
	auKey, _ := timeKey(auTime, "au1")
	after := func(t time.Time) int64 { return t.Add(retention).Unix() }
	want := map[string]int64{ // pk|sk -> ttl (0: none)
		clustersPK + "|live":                0,
		clustersPK + "|gone":                after(now),
		opPrefix + "op1|" + opSK:            after(base.Add(time.Hour)),
		opPrefix + "op-zero|" + opSK:        after(now),
		eventPrefix + "live|" + evKey:       after(evTime),
		eventIDPrefix + "ev1|" + guardSK:    after(evTime),
		auditPrefix + "2026-11-25|" + auKey: after(auTime),
		auditIDPrefix + "au1|" + guardSK:    after(auTime),
		auditDaysPK + "|2026-11-25":         after(base.Truncate(24 * time.Hour).Add(24 * time.Hour)),
		jobPrefix + "j1|" + jobSK:           0,
	}
	items := rawItems(t, c, table)
	var keys []string
	for k := range items {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if len(items) != len(want) {
		t.Fatalf("table holds %v, want %d items", keys, len(want))
	}
	for k, w := range want {
		it, found := items[k]
		if !found {
			t.Errorf("no item %s among %v", k, keys)
			continue
		}
		av, has := it[TTLAttribute]
		switch {
		case w == 0 && has:
			t.Errorf("%s has a TTL (%v); it must never expire", k, av)
		case w != 0 && !has:
			t.Errorf("%s has no TTL, want %d", k, w)
		case w != 0:
			n, isNum := av.(*types.AttributeValueMemberN)
			if !isNum || n.Value != strconv.FormatInt(w, 10) {
				t.Errorf("%s has TTL %v, want the number %d", k, av, w)
			}
		}
	}

	// An audit entry's TTL never outlives its day's index entry.
	dayTTL, _ := items[auditDaysPK+"|2026-11-25"].num(TTLAttribute)
	entryTTL, _ := items[auditPrefix+"2026-11-25|"+auKey].num(TTLAttribute)
	if entryTTL > dayTTL {
		t.Errorf("audit entry expires at %d, after its day index (%d)", entryTTL, dayTTL)
	}
}

// TestNoRetention checks that WithRetention(0) writes no TTL at all.
func TestNoRetention(t *testing.T) {
	c := newClient(t)
	table := newTable(t, c)
	s := New(c, table, WithRetention(0))
	ctx := t.Context()
	ok(t, s.PutOperation(ctx, provisioner.Operation{ID: "op1", CreatedAt: base}))
	ok(t, s.AppendEvent(ctx, provisioner.Event{ID: "ev1", Cluster: "c", Time: base}))
	ok(t, s.AppendAudit(ctx, provisioner.AuditEntry{ID: "au1", Time: base}))
	rev, err := s.PutCluster(ctx, provisioner.Cluster{Name: "gone"})
	ok(t, err)
	ok(t, s.DeleteCluster(ctx, "gone", rev))
	for k, it := range rawItems(t, c, table) {
		if _, has := it[TTLAttribute]; has {
			t.Errorf("%s has a TTL with retention 0", k)
		}
	}
}

// TestSeparateRetention checks that the audit and event retentions replace
// the general one for their records (entry, guard, day index) only, and
// that an aggregated audit entry (CountAudit) carries the audit TTL too.
func TestSeparateRetention(t *testing.T) {
	const general, audit, events = 48 * time.Hour, 24 * time.Hour, 12 * time.Hour
	c := newClient(t)
	table := newTable(t, c)
	s := New(c, table, WithRetention(general), WithAuditRetention(audit), WithEventRetention(events))
	ctx := t.Context()
	at := base.Add(time.Hour)
	ok(t, s.AppendEvent(ctx, provisioner.Event{ID: "ev1", Cluster: "live", Time: at}))
	ok(t, s.AppendAudit(ctx, provisioner.AuditEntry{ID: "au1", Time: at}))
	ok(t, s.CountAudit(ctx, provisioner.AuditEntry{ID: "au2", Time: at}))
	ok(t, s.CountAudit(ctx, provisioner.AuditEntry{ID: "au2", Time: at.Add(time.Minute)}))
	ok(t, s.PutOperation(ctx, provisioner.Operation{ID: "op1", CreatedAt: at, UpdatedAt: at}))
	evKey, _ := timeKey(at, "ev1")
	au1, _ := timeKey(at, "au1")
	au2, _ := timeKey(at, "au2")
	day := at.UTC().Format(dayLayout)
	start, _ := time.Parse(dayLayout, day)
	want := map[string]int64{
		eventPrefix + "live|" + evKey:    at.Add(events).Unix(),
		eventIDPrefix + "ev1|" + guardSK: at.Add(events).Unix(),
		auditPrefix + day + "|" + au1:    at.Add(audit).Unix(),
		auditPrefix + day + "|" + au2:    at.Add(audit).Unix(),
		auditIDPrefix + "au2|" + guardSK: at.Add(audit).Unix(),
		auditDaysPK + "|" + day:          start.Add(24*time.Hour + audit).Unix(),
		opPrefix + "op1|" + opSK:         at.Add(general).Unix(),
	}
	items := rawItems(t, c, table)
	for k, w := range want {
		got, err := items[k].num(TTLAttribute)
		if err != nil || got != w {
			t.Errorf("%s: ttl %d (%v), want %d", k, got, err, w)
		}
	}
}
