package dynamodb

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"provisioner"
)

const (
	eventPrefix   = "EVENT#"
	eventIDPrefix = "EVENTID#"
	guardSK       = "ID"
	attrTime      = "time"
	attrType      = "type"
	attrActor     = "actor"
	attrRef       = "ref" // a guard's pointer to its record: "<pk>|<sk>"
	defaultLimit  = 100   // ListEvents, ListAudit and ListJobs without a limit
)

// AppendEvent records e. The caller sets ID and Time; an ID already used
// (by any cluster's event) is ECONFLICT, because a cluster's history is
// append-only (see putUnique).
func (s *Store) AppendEvent(ctx context.Context, e provisioner.Event) error {
	it, ttl, err := s.eventItem(e)
	if err != nil {
		return err
	}
	if err := checkContext(ctx, "append event"); err != nil {
		return err
	}
	return s.putUnique(ctx, it, eventIDPrefix+e.ID, ttl, fmt.Sprintf("event %q", e.ID))
}

// eventItem checks e and returns its item and TTL.
func (s *Store) eventItem(e provisioner.Event) (item, int64, error) {
	if err := e.Validate(); err != nil {
		return nil, 0, err
	}
	if len(e.ID) > maxKeyPart/2 || len(e.Cluster) > maxKeyPart {
		return nil, 0, provisioner.Errorf(provisioner.EINVALID, "event id or cluster is too long")
	}
	sk, err := timeKey(e.Time, e.ID)
	if err != nil {
		return nil, 0, err
	}
	ttl := s.eventExpiry(e.Time)
	it := key(eventPrefix+e.Cluster, sk)
	it.setStr(attrID, e.ID)
	it.setStr(attrCluster, e.Cluster)
	if err := it.setTime(attrTime, e.Time); err != nil {
		return nil, 0, err
	}
	it.setStr(attrType, e.Type)
	it.setStr(attrActor, e.Actor)
	it.setStr(attrMessage, e.Message)
	it.setTTL(ttl)
	return it, ttl, nil
}

// ListEvents returns the newest limit events of the cluster (100 when limit
// is 0), oldest first; events with the same time come in ID order. A
// cluster without events, or without a record, has none. The Query reads
// the cluster's partition backwards, strongly consistent, and stops at
// limit.
func (s *Store) ListEvents(ctx context.Context, cluster string, limit int) ([]provisioner.Event, error) {
	if limit < 0 {
		return nil, provisioner.Errorf(provisioner.EINVALID, "event limit must not be negative")
	}
	if limit == 0 {
		limit = defaultLimit
	}
	if err := checkContext(ctx, "list events"); err != nil {
		return nil, err
	}
	out := make([]provisioner.Event, 0, min(limit, defaultLimit))
	if cluster == "" || len(cluster) > maxKeyPart {
		return out, nil
	}
	in := &ddb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK},
		ExpressionAttributeValues: item{":pk": strAV(eventPrefix + cluster)},
		ConsistentRead:            aws.Bool(true),
		ScanIndexForward:          aws.Bool(false),
	}
	err := s.query(ctx, in, limit, func(it item) error {
		d := decoder{it: it}
		e := provisioner.Event{
			ID:      d.str(attrID),
			Cluster: d.str(attrCluster),
			Time:    d.time(attrTime),
			Type:    d.str(attrType),
			Actor:   d.str(attrActor),
			Message: d.str(attrMessage),
		}
		out = append(out, e)
		return d.err
	})
	if err != nil {
		return nil, storeError(ctx, err, "list events")
	}
	slices.Reverse(out)
	return out, nil
}

// putUnique writes the new record it, whose ID the guard item guardPK/"ID"
// makes unique whatever the record's own key. The guard goes first, naming
// the record's key; then the record, only if absent. Both writes are
// conditional on absence, and both recognise a repeat of the same append
// (an SDK retry, or a caller retrying after a failure between the two
// writes), so an append either converges or reports ECONFLICT for an ID
// that is another record's. Two plain writes cost half a transaction of
// two items, and never conflict with other transactions.
func (s *Store) putUnique(ctx context.Context, it item, guardPK string, ttl int64, what string) error {
	for _, w := range uniqueWrites(it, guardPK, ttl) {
		_, err := s.db.PutItem(ctx, &ddb.PutItemInput{
			TableName:                           aws.String(s.table),
			Item:                                w.it,
			ConditionExpression:                 aws.String("attribute_not_exists(#pk)"),
			ExpressionAttributeNames:            map[string]string{"#pk": attrPK},
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		})
		if err == nil {
			continue
		}
		old, failed := conditionFailed(err)
		if !failed {
			return storeError(ctx, err, "append "+what)
		}
		if old == nil || !w.same(old) {
			return provisioner.Wrap(provisioner.ECONFLICT, err, "%s already exists", what)
		}
	}
	return nil
}

// uniqueWrite is one of the two items of an append, and how to recognise
// the item a repeat of the same append finds in its place.
type uniqueWrite struct {
	it   item
	same func(old item) bool
}

// uniqueWrites returns the guard of the record it (guardPK/"ID", naming
// its key) and the record: the writes of an append, each to be made only
// where no item is.
func uniqueWrites(it item, guardPK string, ttl int64) []uniqueWrite {
	ref := it[attrPK].(*types.AttributeValueMemberS).Value + "|" + it[attrSK].(*types.AttributeValueMemberS).Value
	guard := key(guardPK, guardSK)
	guard.setStr(attrRef, ref)
	guard.setTTL(ttl)
	return []uniqueWrite{
		{guard, func(old item) bool { r, err := old.str(attrRef); return err == nil && r == ref }},
		{it, func(old item) bool { return sameItem(old, it) }},
	}
}

// sameItem reports whether two items hold the same strings, numbers and
// booleans, but for the TTL (which depends on the Store's retention).
func sameItem(a, b item) bool {
	if len(a) != len(b) {
		return false
	}
	for k, va := range a {
		if k == attrTTL {
			continue
		}
		switch va := va.(type) {
		case *types.AttributeValueMemberS:
			vb, ok := b[k].(*types.AttributeValueMemberS)
			if !ok || va.Value != vb.Value {
				return false
			}
		case *types.AttributeValueMemberN:
			vb, ok := b[k].(*types.AttributeValueMemberN)
			if !ok || va.Value != vb.Value {
				return false
			}
		case *types.AttributeValueMemberBOOL:
			vb, ok := b[k].(*types.AttributeValueMemberBOOL)
			if !ok || va.Value != vb.Value {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// query runs in page by page, giving each item to fn, until limit items
// were given (limit 0: all of them) or the result ends. With no filter
// expression the page size is the number still wanted, so DynamoDB reads
// no more than that.
func (s *Store) query(ctx context.Context, in *ddb.QueryInput, limit int, fn func(item) error) error {
	n := 0
	for {
		if in.FilterExpression == nil && limit > 0 {
			in.Limit = aws.Int32(int32(min(limit-n, 1000)))
		}
		page, err := s.db.Query(ctx, in)
		if err != nil {
			return err
		}
		for _, it := range page.Items {
			if err := fn(it); err != nil {
				return err
			}
			if n++; limit > 0 && n >= limit {
				return nil
			}
		}
		if len(page.LastEvaluatedKey) == 0 {
			return nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}

// queryAll reads the items in selects (at most limit of them; 0: all) and
// decodes each: a list empty but never nil (null in JSON) when none match.
// A failed read is a store error of op; a record that does not decode is
// reported as it is.
func queryAll[T any](ctx context.Context, s *Store, in *ddb.QueryInput, limit int, op string,
	decode func(item) (T, error)) ([]T, error) {
	out := []T{}
	var bad error
	err := s.query(ctx, in, limit, func(it item) error {
		v, err := decode(it)
		if err != nil {
			bad = err
			return err
		}
		out = append(out, v)
		return nil
	})
	switch {
	case bad != nil:
		return nil, bad
	case err != nil:
		return nil, storeError(ctx, err, op)
	}
	return out, nil
}

// filterEqual makes in keep only the items whose attributes equal the
// given values; an empty value matches anything. The conditions are joined
// in attribute order, so a request is the same every time.
func filterEqual(in *ddb.QueryInput, equal map[string]string) {
	var filter []string
	for _, name := range slices.Sorted(maps.Keys(equal)) {
		if v := equal[name]; v != "" {
			filter = append(filter, "#"+name+" = :"+name)
			in.ExpressionAttributeNames["#"+name] = name
			in.ExpressionAttributeValues[":"+name] = strAV(v)
		}
	}
	if len(filter) > 0 {
		in.FilterExpression = aws.String(strings.Join(filter, " AND "))
	}
}
