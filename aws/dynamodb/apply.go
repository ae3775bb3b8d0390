package dynamodb

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"provisioner"
)

// maxTransactItems is DynamoDB's limit of items in one TransactWriteItems.
const maxTransactItems = 100

// busyRetries bounds how often Apply tries a transaction again that
// DynamoDB cancelled because another one held one of its items, or for
// throttling.
const busyRetries = 4

// txLedger is a budget ledger's conditional Put in a batch's transaction.
type txLedger struct {
	it     item
	cond   *string
	names  map[string]string
	values item
	what   string
}

// txRecord is a batch's versioned record: its cluster (or the
// cluster's tombstone, del) or its node group, written if the stored
// revision is revision.
type txRecord struct {
	it       item
	revision int64
	del      bool
	what     string // names the record in errors
}

// txPut is one Put of a batch's transaction after the cluster's and the
// ledgers'.
type txPut struct {
	it item
	// same, for an append (guard or record, written only where no item
	// is), recognises the item a repeat of the same append finds in its
	// place; nil for an operation, written unconditionally.
	same func(old item) bool
	what string // names the record in errors
}

// Apply writes b in one TransactWriteItems: the cluster's conditional Put
// (PutCluster's compare-and-swap, or DeleteCluster's tombstone) or the
// node group's (PutNodeGroup's), each
// budget ledger's (under its revision; a failed one is ECONFLICT), each
// operation, and each event and audit entry as its guard and record, both
// only where no item is (see putUnique). A batch of 40 records is at most
// 80 items, under DynamoDB's 100. The audit day index is written before,
// as by AppendAudit. A batch of one item (a cluster, or an operation,
// alone, or a node group) is a plain PutItem, since a transaction costs twice the write
// capacity of its items.
//
// A cancelled transaction is read item by item from its cancellation
// reasons (with the item that failed each condition): the cluster
// carrying this call's write token means an earlier attempt landed (the
// SDK retried a request whose response was lost), and the batch is done;
// an append that finds the very same record in place (written by an
// earlier attempt, or by an AppendEvent of the same event) is left out
// and the rest tried again; a cluster deleted already is left out as
// DeleteCluster would; another cluster revision, or an ID that is
// another record's, is ECONFLICT. Conflicts with other transactions and
// throttling are tried again a few times, then EUNAVAILABLE.
func (s *Store) Apply(ctx context.Context, b provisioner.Batch) (int64, error) {
	const op = "save changes"
	if err := b.Validate(); err != nil {
		return 0, err
	}
	c := b.Cluster
	if c != nil && len(c.Name) > maxKeyPart {
		if !b.DeleteCluster {
			return 0, provisioner.Errorf(provisioner.EINVALID, "cluster name is too long")
		}
		c = nil // no such record can exist
	}
	var rec *txRecord
	switch g := b.NodeGroup; {
	case c != nil && b.DeleteCluster:
		rec = &txRecord{it: key(clustersPK, c.Name), revision: c.Revision, del: true, what: fmt.Sprintf("cluster %q", c.Name)}
	case c != nil:
		it, err := clusterItem(*c)
		if err != nil {
			return 0, err
		}
		rec = &txRecord{it: it, revision: c.Revision, what: fmt.Sprintf("cluster %q", c.Name)}
	case g != nil:
		if len(g.Key()) > maxKeyPart {
			return 0, provisioner.Errorf(provisioner.EINVALID, "node group names are too long")
		}
		it, err := groupItem(*g)
		if err != nil {
			return 0, err
		}
		rec = &txRecord{it: it, revision: g.Revision, what: groupWhat(g.Cluster, g.User)}
	}
	var puts []txPut
	for _, o := range b.Operations {
		it, err := s.operationItem(o)
		if err != nil {
			return 0, err
		}
		puts = append(puts, txPut{it: it, what: fmt.Sprintf("operation %q", o.ID)})
	}
	appends := func(it item, guardPK string, ttl int64, what string) {
		for _, w := range uniqueWrites(it, guardPK, ttl) {
			puts = append(puts, txPut{it: w.it, same: w.same, what: what})
		}
	}
	for _, e := range b.Events {
		it, ttl, err := s.eventItem(e)
		if err != nil {
			return 0, err
		}
		appends(it, eventIDPrefix+e.ID, ttl, fmt.Sprintf("event %q", e.ID))
	}
	for _, e := range b.Audit {
		it, ttl, err := s.auditItem(e)
		if err != nil {
			return 0, err
		}
		appends(it, auditIDPrefix+e.ID, ttl, fmt.Sprintf("audit entry %q", e.ID))
	}
	var ledgers []txLedger
	for _, l := range b.Budgets {
		it, cond, names, values, err := ledgerItem(l)
		if err != nil {
			return 0, err
		}
		ledgers = append(ledgers, txLedger{it: it, cond: cond, names: names, values: values, what: fmt.Sprintf("budget ledger %q", l.Scope)})
	}
	if err := checkContext(ctx, op); err != nil {
		return 0, err
	}
	for _, e := range b.Audit {
		if err := s.indexDay(ctx, e.Time.UTC()); err != nil {
			return 0, storeError(ctx, err, op)
		}
	}
	switch {
	case len(ledgers) > 0:
	case c != nil && len(puts) == 0 && b.DeleteCluster:
		return 0, s.DeleteCluster(ctx, c.Name, c.Revision)
	case c != nil && len(puts) == 0:
		return s.PutCluster(ctx, *c)
	case b.NodeGroup != nil && len(puts) == 0:
		return s.PutNodeGroup(ctx, *b.NodeGroup)
	case rec == nil && len(puts) == 1 && puts[0].same == nil:
		_, err := s.db.PutItem(ctx, &ddb.PutItemInput{TableName: aws.String(s.table), Item: puts[0].it})
		return 0, storeError(ctx, err, op)
	}
	return s.transact(ctx, rec, ledgers, puts)
}

// transact is Apply's loop: it writes the versioned record rec (if
// any), the ledgers and puts in one transaction, and reads a
// cancellation as Apply says.
func (s *Store) transact(ctx context.Context, rec *txRecord, ledgers []txLedger, puts []txPut) (int64, error) {
	const op = "save changes"
	tok := writeToken()
	var cl item
	var what string
	var del bool
	prev, creates, busy := int64(0), 0, 0
	if rec != nil {
		cl, what, del, prev = rec.it, rec.what, rec.del, rec.revision
		cl.setNum(attrWriteTok, tok)
	}
	for {
		var tx []types.TransactWriteItem
		var rev int64
		if cl != nil {
			put := &types.Put{TableName: aws.String(s.table), Item: cl,
				ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld}
			if del {
				put.ConditionExpression, put.ExpressionAttributeNames, put.ExpressionAttributeValues = s.tombstone(cl, rec.revision)
			} else {
				rev = s.nextRevision(prev)
				cl.setNum(attrRevision, rev)
				put.ConditionExpression, put.ExpressionAttributeNames, put.ExpressionAttributeValues = versionedCondition(rec.revision, rev)
			}
			tx = append(tx, types.TransactWriteItem{Put: put})
		}
		for _, l := range ledgers {
			l.it.setNum(attrWriteTok, tok)
			tx = append(tx, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(s.table), Item: l.it,
				ConditionExpression: l.cond, ExpressionAttributeNames: l.names, ExpressionAttributeValues: l.values,
				ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld}})
		}
		for _, p := range puts {
			put := &types.Put{TableName: aws.String(s.table), Item: p.it}
			if p.same != nil {
				put.ConditionExpression = aws.String("attribute_not_exists(#pk)")
				put.ExpressionAttributeNames = map[string]string{"#pk": attrPK}
				put.ReturnValuesOnConditionCheckFailure = types.ReturnValuesOnConditionCheckFailureAllOld
			}
			tx = append(tx, types.TransactWriteItem{Put: put})
		}
		switch {
		case len(tx) == 0: // everything was there already
			return rev, nil
		case len(tx) > maxTransactItems:
			return 0, provisioner.Errorf(provisioner.EINVALID, "a batch of %d items is more than one transaction holds", len(tx))
		}
		_, err := s.db.TransactWriteItems(ctx, &ddb.TransactWriteItemsInput{TransactItems: tx})
		if err == nil {
			return rev, nil
		}
		var tce *types.TransactionCanceledException
		if !errors.As(err, &tce) {
			return 0, storeError(ctx, err, op)
		}
		reasons := tce.CancellationReasons
		if len(reasons) != len(tx) {
			return 0, provisioner.Wrap(provisioner.EINTERNAL, err, "%s: the transaction was cancelled for reasons not given", op)
		}
		var keep []txPut
		retryCluster, dropCluster, again := false, false, false
		for i, r := range reasons {
			old := item(r.Item)
			var p *txPut
			var led *txLedger
			switch first := len(tx) - len(puts); {
			case i >= first:
				p = &puts[i-first]
			case i >= first-len(ledgers):
				led = &ledgers[i-(first-len(ledgers))]
			}
			switch code := aws.ToString(r.Code); {
			case led != nil && code == "ConditionalCheckFailed":
				if cl == nil && ownWrite(old, tok) {
					return 0, nil // an earlier attempt landed, all of it
				}
				return 0, provisioner.Wrap(provisioner.ECONFLICT, err, "%s was changed by another request", led.what)
			case code == "" || code == "None":
				if p != nil {
					keep = append(keep, *p)
				}
			case code == "TransactionConflict" || code == "ThrottlingError" ||
				code == "ProvisionedThroughputExceeded" || code == "RequestLimitExceeded":
				again = true
				if p != nil {
					keep = append(keep, *p)
				}
			case code != "ConditionalCheckFailed":
				return 0, provisioner.Wrap(provisioner.EINTERNAL, err, "%s: state store failure (%s)", op, code)
			case led != nil: // not reached: its check failure is above
			case p == nil && ownWrite(old, tok): // an earlier attempt landed
				if del {
					return 0, nil
				}
				return old.num(attrRevision)
			case p == nil && del:
				if old != nil && !isTombstone(old) {
					return 0, provisioner.Wrap(provisioner.ECONFLICT, err, "%s was changed by another request", what)
				}
				dropCluster = true // deleted already: the rest still goes
			case p == nil:
				var cerr error
				if prev, cerr = versionedRetry(old, rec.revision, what, err); cerr != nil {
					return 0, cerr
				}
				retryCluster = true
			case p.same == nil || old == nil || !p.same(old):
				return 0, provisioner.Wrap(provisioner.ECONFLICT, err, "%s already exists", p.what)
			}
			// A record found in place is left out of the next attempt.
		}
		if !dropCluster && !retryCluster && !again && len(keep) == len(puts) {
			return 0, provisioner.Wrap(provisioner.EINTERNAL, err, "%s: the transaction was cancelled for no reason given", op)
		}
		if dropCluster {
			cl = nil
		}
		if retryCluster {
			if creates++; creates >= createAttempts {
				return 0, tombstoneRace(what)
			}
		}
		if again {
			if busy++; busy > busyRetries {
				return 0, provisioner.Wrap(provisioner.EUNAVAILABLE, err, "%s: the state store is busy; try again", op)
			}
			if err := sleep(ctx, time.Duration(busy)*(20*time.Millisecond+rand.N(30*time.Millisecond))); err != nil {
				return 0, storeError(ctx, err, op)
			}
		}
		puts = keep
	}
}

// sleep waits d, or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
