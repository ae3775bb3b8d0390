package dynamodb

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"provisioner"
	"provisioner/storetime"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

const (
	auditPrefix   = "AUDIT#"
	auditIDPrefix = "AUDITID#"
	auditDaysPK   = "AUDITDAYS"
	dayLayout     = "2006-01-02"
	attrLevel     = "level"
	attrAction    = "action"
	attrTarget    = "target"
	attrResult    = "result"
	attrSource    = "source"
	attrDetail    = "detail"
	attrCount     = "count"
	attrLast      = "last"

	// maxKnownDays bounds the memory of audit days already indexed.
	maxKnownDays = 64
	// dayIndexRefresh is how long a Store trusts its memory of a day index
	// item it wrote.
	dayIndexRefresh = time.Hour
)

// AppendAudit records e. The caller sets ID and Time; an ID already used is
// ECONFLICT, because the trail is append-only and must not be overwritten.
// The entry goes to the partition of its UTC day, after that day is in the
// day index.
func (s *Store) AppendAudit(ctx context.Context, e provisioner.AuditEntry) error {
	it, ttl, err := s.indexedAuditItem(ctx, e)
	if err != nil {
		return err
	}
	return s.putUnique(ctx, it, auditIDPrefix+e.ID, ttl, fmt.Sprintf("audit entry %q", e.ID))
}

// CountAudit records e, or adds its Count (0 counts as 1) to the entry with
// its ID. The ID guard is written first, as for AppendAudit; when it exists
// its ref names the entry's key (the first call's time, maybe another day),
// and one UpdateItem there sets the fields the entry does not have yet,
// adds the count (ADD is atomic, so concurrent calls lose nothing) and sets
// Last. Last is the time of the call that wrote last, which among calls at
// about the same time need not be the latest.
func (s *Store) CountAudit(ctx context.Context, e provisioner.AuditEntry) error {
	if e.Count < 0 {
		return provisioner.Errorf(provisioner.EINVALID, "audit entry count must not be negative")
	}
	it, ttl, err := s.indexedAuditItem(ctx, e)
	if err != nil {
		return err
	}
	ref := it[attrPK].(*types.AttributeValueMemberS).Value + "|" + it[attrSK].(*types.AttributeValueMemberS).Value
	guard := key(auditIDPrefix+e.ID, guardSK)
	guard.setStr(attrRef, ref)
	guard.setTTL(ttl)
	_, err = s.db.PutItem(ctx, &ddb.PutItemInput{
		TableName:                           aws.String(s.table),
		Item:                                guard,
		ConditionExpression:                 aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames:            map[string]string{"#pk": attrPK},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err != nil {
		old, failed := conditionFailed(err)
		if !failed {
			return storeError(ctx, err, "count audit entry")
		}
		r, _ := old.str(attrRef)
		pk, sk, found := strings.Cut(r, "|")
		if !found {
			return provisioner.Errorf(provisioner.EINTERNAL, "audit entry %q has a malformed guard", e.ID)
		}
		it[attrPK], it[attrSK] = strAV(pk), strAV(sk)
	}
	names := map[string]string{"#count": attrCount, "#last": attrLast}
	values := item{":n": numAV(int64(max(e.Count, 1)))}
	last, err := storetime.Format(e.Time)
	if err != nil {
		return err
	}
	values[":last"] = strAV(last)
	set := []string{"#last = :last"}
	i := 0
	for name, v := range it {
		if name == attrPK || name == attrSK {
			continue
		}
		i++
		n, p := fmt.Sprintf("#a%d", i), fmt.Sprintf(":a%d", i)
		names[n], values[p] = name, v
		set = append(set, fmt.Sprintf("%s = if_not_exists(%s, %s)", n, n, p))
	}
	_, err = s.db.UpdateItem(ctx, &ddb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key(it[attrPK].(*types.AttributeValueMemberS).Value, it[attrSK].(*types.AttributeValueMemberS).Value),
		UpdateExpression:          aws.String("SET " + strings.Join(set, ", ") + " ADD #count :n"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	})
	return storeError(ctx, err, "count audit entry")
}

// indexedAuditItem is auditItem, after e's day is in the day index.
func (s *Store) indexedAuditItem(ctx context.Context, e provisioner.AuditEntry) (item, int64, error) {
	it, ttl, err := s.auditItem(e)
	if err != nil {
		return nil, 0, err
	}
	if err := checkContext(ctx, "append audit entry"); err != nil {
		return nil, 0, err
	}
	if err := s.indexDay(ctx, e.Time.UTC()); err != nil {
		return nil, 0, storeError(ctx, err, "append audit entry")
	}
	return it, ttl, nil
}

// auditItem checks e and returns its item and TTL.
func (s *Store) auditItem(e provisioner.AuditEntry) (item, int64, error) {
	switch {
	case e.ID == "":
		return nil, 0, provisioner.Errorf(provisioner.EINVALID, "audit entry id is required")
	case e.Time.IsZero():
		return nil, 0, provisioner.Errorf(provisioner.EINVALID, "audit entry time is required")
	case len(e.ID) > maxKeyPart/2:
		return nil, 0, provisioner.Errorf(provisioner.EINVALID, "audit entry id is too long")
	}
	level, err := e.Level.MarshalText()
	if err != nil {
		return nil, 0, provisioner.Wrap(provisioner.EINVALID, err, "audit entry has an invalid level")
	}
	sk, err := timeKey(e.Time, e.ID)
	if err != nil {
		return nil, 0, err
	}
	t := e.Time.UTC()
	day := t.Format(dayLayout)
	ttl := s.auditExpiry(t)
	it := key(auditPrefix+day, sk)
	it.setStr(attrID, e.ID)
	if err := it.setTime(attrTime, t); err != nil {
		return nil, 0, err
	}
	it.setStr(attrActor, e.Actor)
	it.setStr(attrLevel, string(level))
	it.setStr(attrAction, e.Action)
	it.setStr(attrTarget, e.Target)
	it.setStr(attrResult, e.Result)
	it.setStr(attrSource, e.Source)
	it.setStr(attrDetail, e.Detail)
	it.setTTL(ttl)
	return it, ttl, nil
}

// indexDay makes sure the day of t is in the day index. The item is the
// same whoever writes it, so the write is a plain PutItem; a Store writes a
// day at most once an hour (the repeat refreshes an index item that a very
// short retention could have expired). The index item's TTL is the end of
// the day plus the retention, after every entry of the day.
func (s *Store) indexDay(ctx context.Context, t time.Time) error {
	day := t.Format(dayLayout)
	now := s.now()
	s.mu.Lock()
	written, known := s.auditDays[day]
	s.mu.Unlock()
	if known && now.Sub(written) < dayIndexRefresh {
		return nil
	}
	start, _ := time.Parse(dayLayout, day)
	it := key(auditDaysPK, day)
	it.setTTL(s.auditExpiry(start.Add(24 * time.Hour)))
	if _, err := s.db.PutItem(ctx, &ddb.PutItemInput{TableName: aws.String(s.table), Item: it}); err != nil {
		return err
	}
	s.mu.Lock()
	if len(s.auditDays) >= maxKnownDays {
		clear(s.auditDays)
	}
	s.auditDays[day] = now
	s.mu.Unlock()
	return nil
}

// errEnough stops a Query once a list is full.
var errEnough = errors.New("enough")

// ListAudit returns the entries matching every set field of f, newest first
// (entries with the same time: in descending ID order), at most f.Limit of
// them (100 when unset). Since is inclusive. It reads the day index
// backwards (down to Since's day), and each day's partition backwards with
// Actor and Action as a filter, strongly consistent, until the page is full.
func (s *Store) ListAudit(ctx context.Context, f provisioner.AuditFilter) ([]provisioner.AuditEntry, error) {
	if f.Limit < 0 {
		return nil, provisioner.Errorf(provisioner.EINVALID, "audit limit must not be negative")
	}
	if f.Limit == 0 {
		f.Limit = defaultLimit
	}
	var since string
	if !f.Since.IsZero() {
		var err error
		if since, err = storetime.Format(f.Since); err != nil {
			return nil, err
		}
	}
	if err := checkContext(ctx, "list audit entries"); err != nil {
		return nil, err
	}

	days := &ddb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK},
		ExpressionAttributeValues: item{":pk": strAV(auditDaysPK)},
		ConsistentRead:            aws.Bool(true),
		ScanIndexForward:          aws.Bool(false),
	}
	if since != "" {
		days.KeyConditionExpression = aws.String("#pk = :pk AND #sk >= :day")
		days.ExpressionAttributeNames["#sk"] = attrSK
		days.ExpressionAttributeValues[":day"] = strAV(f.Since.UTC().Format(dayLayout))
	}

	out := make([]provisioner.AuditEntry, 0, min(f.Limit, defaultLimit))
	err := s.query(ctx, days, 0, func(d item) error {
		day, err := d.str(attrSK)
		if err != nil {
			return err
		}
		in := auditQuery(s.table, day, since, f)
		err = s.query(ctx, in, f.Limit-len(out), func(it item) error {
			e, err := decodeAudit(it)
			out = append(out, e)
			return err
		})
		if err == nil && len(out) >= f.Limit {
			return errEnough
		}
		return err
	})
	if err != nil && !errors.Is(err, errEnough) {
		return nil, storeError(ctx, err, "list audit entries")
	}
	return out, nil
}

// auditQuery reads one day of entries newest first: from since on, when
// set, and only those matching f's actor and action.
func auditQuery(table, day, since string, f provisioner.AuditFilter) *ddb.QueryInput {
	in := &ddb.QueryInput{
		TableName:                 aws.String(table),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK},
		ExpressionAttributeValues: item{":pk": strAV(auditPrefix + day)},
		ConsistentRead:            aws.Bool(true),
		ScanIndexForward:          aws.Bool(false),
	}
	if since != "" {
		// Sort keys are "<time>#<id>": every key of an entry at since
		// or later sorts at or after since itself.
		in.KeyConditionExpression = aws.String("#pk = :pk AND #sk >= :since")
		in.ExpressionAttributeNames["#sk"] = attrSK
		in.ExpressionAttributeValues[":since"] = strAV(since)
	}
	filterEqual(in, map[string]string{attrActor: f.Actor, attrAction: f.Action})
	return in
}

func decodeAudit(it item) (provisioner.AuditEntry, error) {
	d := decoder{it: it}
	e := provisioner.AuditEntry{
		ID:     d.str(attrID),
		Time:   d.time(attrTime),
		Actor:  d.str(attrActor),
		Action: d.str(attrAction),
		Target: d.str(attrTarget),
		Result: d.str(attrResult),
		Source: d.str(attrSource),
		Detail: d.str(attrDetail),
		Count:  int(d.num(attrCount)),
		Last:   d.time(attrLast),
	}
	level := d.str(attrLevel)
	if d.err != nil {
		return e, d.err
	}
	if err := e.Level.UnmarshalText([]byte(level)); err != nil {
		return e, provisioner.Wrap(provisioner.EINTERNAL, err, "stored audit level is malformed")
	}
	return e, nil
}
