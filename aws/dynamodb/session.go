package dynamodb

import (
	"context"
	"sort"
	"time"

	"provisioner"
	"provisioner/storetime"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Sessions live in one partition per user, SESSIONS#<login>, keyed by
// their ID, and expire through the TTL attribute at their expiry. A
// revocation also writes a copy of the session to the partition REVOKED
// under <revoked_at>#<id>, with the same TTL: the revocation feed reads
// that partition from a time on. Revocations are rare, so one partition
// stays small.
const (
	sessionsPrefix = "SESSIONS#"
	revokedPK      = "REVOKED"

	attrLogin     = "login"
	attrUID       = "uid"
	attrVia       = "via"
	attrRevokedAt = "revoked_at"
	attrCheckedAt = "checked_at"
)

func sessionItem(pk, sk string, s provisioner.Session) (item, error) {
	level, err := s.Level.MarshalText()
	if err != nil {
		return nil, provisioner.Wrap(provisioner.EINVALID, err, "session has an invalid level")
	}
	it := key(pk, sk)
	it.setStr(attrLogin, s.Login)
	it.setStr(attrID, s.ID)
	it.setNum(attrUID, s.UID)
	it.setStr(attrLevel, string(level))
	it.setStr(attrVia, s.Via)
	it.setStr(attrReason, s.Reason)
	if err := it.setTimes([]timeAttr{{attrCreatedAt, s.Created}, {attrExpiresAt, s.Expires},
		{attrRevokedAt, s.RevokedAt}, {attrCheckedAt, s.CheckedAt}}); err != nil {
		return nil, err
	}
	it.setTTL(s.Expires.Unix())
	return it, nil
}

func decodeSession(it item) (provisioner.Session, error) {
	d := decoder{it: it}
	s := provisioner.Session{
		Login: d.str(attrLogin), ID: d.str(attrID), UID: d.num(attrUID), Via: d.str(attrVia), Reason: d.str(attrReason),
		Created: d.time(attrCreatedAt), Expires: d.time(attrExpiresAt), RevokedAt: d.time(attrRevokedAt), CheckedAt: d.time(attrCheckedAt),
	}
	level := d.str(attrLevel)
	if d.err != nil {
		return provisioner.Session{}, d.err
	}
	if err := s.Level.UnmarshalText([]byte(level)); err != nil {
		return provisioner.Session{}, malformed(attrLevel)
	}
	return s, nil
}

func sessionKeyOK(login, id string) bool {
	return login != "" && id != "" && len(login)+len(sessionsPrefix) <= maxKeyPart && len(id) <= maxKeyPart/2
}

// CreateSession records a new session, only if the login has no session
// of that ID.
func (s *Store) CreateSession(ctx context.Context, ss provisioner.Session) error {
	switch {
	case ss.Login == "" || ss.ID == "":
		return provisioner.Errorf(provisioner.EINVALID, "a session needs a login and an id")
	case ss.Created.IsZero() || ss.Expires.IsZero():
		return provisioner.Errorf(provisioner.EINVALID, "a session needs its creation and expiry times")
	case !sessionKeyOK(ss.Login, ss.ID):
		return provisioner.Errorf(provisioner.EINVALID, "session login or id is too long")
	}
	if err := checkContext(ctx, "create session"); err != nil {
		return err
	}
	it, err := sessionItem(sessionsPrefix+ss.Login, ss.ID, ss)
	if err != nil {
		return err
	}
	_, err = s.db.PutItem(ctx, &ddb.PutItemInput{
		TableName: aws.String(s.table), Item: it,
		ConditionExpression:                 aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames:            map[string]string{"#pk": attrPK},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if old, failed := conditionFailed(err); failed {
		// The SDK's retry of a write whose answer was lost finds the
		// write itself: that is success, not a conflict.
		if old != nil && sameItem(old, it) {
			return nil
		}
		return provisioner.Wrap(provisioner.ECONFLICT, err, "session %q already exists", ss.ID)
	}
	return storeError(ctx, err, "create session")
}

// GetSession returns the login's session id (strongly consistent).
func (s *Store) GetSession(ctx context.Context, login, id string) (provisioner.Session, error) {
	if err := checkContext(ctx, "read session"); err != nil {
		return provisioner.Session{}, err
	}
	if !sessionKeyOK(login, id) {
		return provisioner.Session{}, provisioner.Errorf(provisioner.ENOTFOUND, "session %q of %s not found", id, login)
	}
	out, err := s.db.GetItem(ctx, &ddb.GetItemInput{
		TableName: aws.String(s.table), Key: key(sessionsPrefix+login, id), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return provisioner.Session{}, storeError(ctx, err, "read session")
	}
	if out.Item == nil {
		return provisioner.Session{}, provisioner.Errorf(provisioner.ENOTFOUND, "session %q of %s not found", id, login)
	}
	return decodeSession(out.Item)
}

// ListSessions returns the login's sessions, newest first.
func (s *Store) ListSessions(ctx context.Context, login string) ([]provisioner.Session, error) {
	if err := checkContext(ctx, "list sessions"); err != nil {
		return nil, err
	}
	if !sessionKeyOK(login, "x") {
		return []provisioner.Session{}, nil
	}
	in := &ddb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK},
		ExpressionAttributeValues: item{":pk": strAV(sessionsPrefix + login)},
		ConsistentRead:            aws.Bool(true),
	}
	out, err := queryAll(ctx, s, in, 0, "list sessions", decodeSession)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.After(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// RevokeSessions revokes the login's session id, or every live one. Each
// revocation first writes the feed's copy, then the session under the
// condition that it is not revoked yet: a failure between the two leaves
// a gateway refusing a session the provisioner still accepts, never the
// other way round, and a retry completes it.
func (s *Store) RevokeSessions(ctx context.Context, login, id string, at time.Time, reason string) ([]provisioner.Session, error) {
	var all []provisioner.Session
	if id != "" {
		ss, err := s.GetSession(ctx, login, id)
		if err != nil {
			return nil, err
		}
		all = []provisioner.Session{ss}
	} else {
		var err error
		if all, err = s.ListSessions(ctx, login); err != nil {
			return nil, err
		}
	}
	if _, err := storetime.Format(at); err != nil {
		return nil, err
	}
	var out []provisioner.Session
	for _, ss := range all {
		if !ss.Live(at) {
			continue
		}
		ss.RevokedAt, ss.Reason = at.UTC(), reason
		sk, err := timeKey(ss.RevokedAt, ss.Login+"/"+ss.ID)
		if err != nil {
			return nil, err
		}
		feed, err := sessionItem(revokedPK, sk, ss)
		if err != nil {
			return nil, err
		}
		if _, err := s.db.PutItem(ctx, &ddb.PutItemInput{TableName: aws.String(s.table), Item: feed}); err != nil {
			return nil, storeError(ctx, err, "revoke session")
		}
		it, err := sessionItem(sessionsPrefix+ss.Login, ss.ID, ss)
		if err != nil {
			return nil, err
		}
		_, err = s.db.PutItem(ctx, &ddb.PutItemInput{
			TableName: aws.String(s.table), Item: it,
			ConditionExpression:      aws.String("attribute_exists(#pk) AND attribute_not_exists(#rev)"),
			ExpressionAttributeNames: map[string]string{"#pk": attrPK, "#rev": attrRevokedAt},
		})
		if _, failed := conditionFailed(err); failed {
			continue // revoked meanwhile by someone else
		}
		if err != nil {
			return nil, storeError(ctx, err, "revoke session")
		}
		out = append(out, ss)
	}
	return out, nil
}

// CheckSession records a passed membership check of a session not revoked.
func (s *Store) CheckSession(ctx context.Context, login, id string, at time.Time) error {
	ss, err := s.GetSession(ctx, login, id)
	if err != nil || !ss.RevokedAt.IsZero() {
		return err
	}
	ss.CheckedAt = at.UTC()
	it, err := sessionItem(sessionsPrefix+login, id, ss)
	if err != nil {
		return err
	}
	_, err = s.db.PutItem(ctx, &ddb.PutItemInput{
		TableName: aws.String(s.table), Item: it,
		ConditionExpression:      aws.String("attribute_exists(#pk) AND attribute_not_exists(#rev)"),
		ExpressionAttributeNames: map[string]string{"#pk": attrPK, "#rev": attrRevokedAt},
	})
	if _, failed := conditionFailed(err); failed {
		return nil
	}
	return storeError(ctx, err, "record session check")
}

// ListRevoked reads the feed partition from since on.
func (s *Store) ListRevoked(ctx context.Context, since, now time.Time, limit int) ([]provisioner.Session, error) {
	if limit < 0 {
		return nil, provisioner.Errorf(provisioner.EINVALID, "limit must not be negative")
	}
	if limit == 0 {
		limit = 1000
	}
	from, err := storetime.Format(since)
	if err != nil {
		return nil, err
	}
	n, err := storetime.Format(now)
	if err != nil {
		return nil, err
	}
	if err := checkContext(ctx, "list revoked sessions"); err != nil {
		return nil, err
	}
	in := &ddb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("#pk = :pk AND #sk >= :from"),
		FilterExpression:          aws.String("#exp > :now"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK, "#sk": attrSK, "#exp": attrExpiresAt},
		ExpressionAttributeValues: item{":pk": strAV(revokedPK), ":from": strAV(from), ":now": strAV(n)},
		ConsistentRead:            aws.Bool(true),
	}
	return queryAll(ctx, s, in, limit, "list revoked sessions", decodeSession)
}
