package dynamodb

import (
	"context"
	"encoding/json"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"provisioner"
)

// The authorization server's records (provisioner.OAuthStore), each one
// item stored whole as JSON ("doc") with the attributes its conditions
// need, expiring through the TTL attribute an hour after the record
// itself (a used code must outlive its expiry a little, to recognise a
// replay):
//
//	record          pk                  sk      other attributes
//	client          OAUTHCLIENT#<id>    CLIENT
//	request         OAUTHREQ#<id>       REQ     used (taken)
//	code            OAUTHCODE#<hash>    CODE    used (taken)
//	grant           OAUTHGRANT#<id>     GRANT   current, revoked_at; gsi1pk OAUTHGRANTS#<login>, gsi1sk <created>#<id>
//
// A take is an UpdateItem that sets "used" to a write token only if it is
// absent, so of concurrent takes one wins; a rotation a PutItem under the
// condition that "current" is still the caller's. A write token recognises
// an SDK retry of a write that landed as our own.
const (
	oauthClientPrefix  = "OAUTHCLIENT#"
	oauthRequestPrefix = "OAUTHREQ#"
	oauthCodePrefix    = "OAUTHCODE#"
	oauthGrantPrefix   = "OAUTHGRANT#"
	oauthGrantsIndexPK = "OAUTHGRANTS#"

	attrDoc     = "doc"
	attrUsed    = "used"
	attrCurrent = "current"

	oauthGrace = time.Hour
)

func oauthKeyOK(id string) bool { return id != "" && len(id) <= maxKeyPart/2 }

// oauthItem is a record's item: its key, doc, TTL and write token.
func oauthItem(pk, sk string, v any, expires time.Time, tok int64) (item, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, provisioner.Wrap(provisioner.EINTERNAL, err, "cannot encode a record")
	}
	it := key(pk, sk)
	it.setStr(attrDoc, string(b))
	it.setTTL(expires.Add(oauthGrace).Unix())
	it.setNum(attrWriteTok, tok)
	return it, nil
}

func decodeDoc(it item, v any) error {
	doc, err := it.str(attrDoc)
	if err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(doc), v); err != nil {
		return malformed(attrDoc)
	}
	return nil
}

// createOAuth puts a new item, only if its key is free.
func (s *Store) createOAuth(ctx context.Context, op string, it item, tok int64) error {
	if err := checkContext(ctx, op); err != nil {
		return err
	}
	_, err := s.db.PutItem(ctx, &ddb.PutItemInput{
		TableName: aws.String(s.table), Item: it,
		ConditionExpression:                 aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames:            map[string]string{"#pk": attrPK},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if old, failed := conditionFailed(err); failed {
		if ownWrite(old, tok) {
			return nil
		}
		return provisioner.Wrap(provisioner.ECONFLICT, err, "%s: already exists", op)
	}
	return storeError(ctx, err, op)
}

// getOAuth reads an item (strongly consistent) into v; ENOTFOUND if absent.
func (s *Store) getOAuth(ctx context.Context, op, pk, sk string, v any) (item, error) {
	if err := checkContext(ctx, op); err != nil {
		return nil, err
	}
	out, err := s.db.GetItem(ctx, &ddb.GetItemInput{TableName: aws.String(s.table), Key: key(pk, sk), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, storeError(ctx, err, op)
	}
	if out.Item == nil {
		return nil, provisioner.Errorf(provisioner.ENOTFOUND, "%s: not found", op)
	}
	return out.Item, decodeDoc(out.Item, v)
}

// takeOAuth marks an item used, once, and decodes it into v. A used item
// is ECONFLICT (decoded too), an absent one ENOTFOUND.
func (s *Store) takeOAuth(ctx context.Context, op, pk, sk string, v any) error {
	if err := checkContext(ctx, op); err != nil {
		return err
	}
	tok := writeToken()
	out, err := s.db.UpdateItem(ctx, &ddb.UpdateItemInput{
		TableName: aws.String(s.table), Key: key(pk, sk),
		UpdateExpression:                    aws.String("SET #used = :tok"),
		ConditionExpression:                 aws.String("attribute_exists(#pk) AND attribute_not_exists(#used)"),
		ExpressionAttributeNames:            map[string]string{"#pk": attrPK, "#used": attrUsed},
		ExpressionAttributeValues:           item{":tok": numAV(tok)},
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		return decodeDoc(out.Attributes, v)
	}
	old, failed := conditionFailed(err)
	switch {
	case !failed:
		return storeError(ctx, err, op)
	case old == nil:
		return provisioner.Errorf(provisioner.ENOTFOUND, "%s: not found", op)
	}
	if derr := decodeDoc(old, v); derr != nil {
		return derr
	}
	if used, _ := old.num(attrUsed); used == tok { // an SDK retry of our own take
		return nil
	}
	return provisioner.Wrap(provisioner.ECONFLICT, err, "%s: used before", op)
}

// CreateOAuthClient records a new client.
func (s *Store) CreateOAuthClient(ctx context.Context, c provisioner.OAuthClient) error {
	if err := c.Check(); err != nil {
		return err
	}
	if !oauthKeyOK(c.ID) {
		return provisioner.Errorf(provisioner.EINVALID, "OAuth client id is too long")
	}
	c.IssuedAt, c.UsedAt, c.Expires = utc(c.IssuedAt), utc(c.UsedAt), utc(c.Expires)
	tok := writeToken()
	it, err := oauthItem(oauthClientPrefix+c.ID, "CLIENT", c, c.Expires, tok)
	if err != nil {
		return err
	}
	return s.createOAuth(ctx, "create OAuth client", it, tok)
}

// GetOAuthClient returns a client.
func (s *Store) GetOAuthClient(ctx context.Context, id string) (provisioner.OAuthClient, error) {
	var c provisioner.OAuthClient
	if !oauthKeyOK(id) {
		return c, provisioner.Errorf(provisioner.ENOTFOUND, "OAuth client not found")
	}
	_, err := s.getOAuth(ctx, "read OAuth client", oauthClientPrefix+id, "CLIENT", &c)
	return c, err
}

// TouchOAuthClient records a use of a client: a read, then a write of
// the client as it was read. Two touches at once both land; either's
// times are right.
func (s *Store) TouchOAuthClient(ctx context.Context, id string, usedAt, expires time.Time) error {
	c, err := s.GetOAuthClient(ctx, id)
	if err != nil {
		return err
	}
	c.UsedAt, c.Expires = utc(usedAt), utc(expires)
	it, err := oauthItem(oauthClientPrefix+id, "CLIENT", c, c.Expires, writeToken())
	if err != nil {
		return err
	}
	_, err = s.db.PutItem(ctx, &ddb.PutItemInput{
		TableName: aws.String(s.table), Item: it,
		ConditionExpression:      aws.String("attribute_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{"#pk": attrPK},
	})
	if _, failed := conditionFailed(err); failed {
		return provisioner.Wrap(provisioner.ENOTFOUND, err, "OAuth client not found")
	}
	return storeError(ctx, err, "record OAuth client use")
}

// CreateOAuthRequest records a pending authorization request.
func (s *Store) CreateOAuthRequest(ctx context.Context, r provisioner.OAuthRequest) error {
	if err := r.Check(); err != nil {
		return err
	}
	if !oauthKeyOK(r.ID) {
		return provisioner.Errorf(provisioner.EINVALID, "OAuth request id is too long")
	}
	r.Created, r.Expires = utc(r.Created), utc(r.Expires)
	tok := writeToken()
	it, err := oauthItem(oauthRequestPrefix+r.ID, "REQ", r, r.Expires, tok)
	if err != nil {
		return err
	}
	return s.createOAuth(ctx, "create OAuth request", it, tok)
}

// TakeOAuthRequest returns a request, once.
func (s *Store) TakeOAuthRequest(ctx context.Context, id string) (provisioner.OAuthRequest, error) {
	var r provisioner.OAuthRequest
	if !oauthKeyOK(id) {
		return r, provisioner.Errorf(provisioner.ENOTFOUND, "OAuth request not found")
	}
	err := s.takeOAuth(ctx, "take OAuth request", oauthRequestPrefix+id, "REQ", &r)
	if provisioner.ErrorCode(err) == provisioner.ECONFLICT {
		return provisioner.OAuthRequest{}, provisioner.Wrap(provisioner.ENOTFOUND, err, "OAuth request not found (taken before)")
	}
	return r, err
}

// CreateOAuthCode records a new code.
func (s *Store) CreateOAuthCode(ctx context.Context, c provisioner.OAuthCode) error {
	if err := c.Check(); err != nil {
		return err
	}
	if !oauthKeyOK(c.Hash) {
		return provisioner.Errorf(provisioner.EINVALID, "OAuth code hash is too long")
	}
	c.Created, c.Expires = utc(c.Created), utc(c.Expires)
	tok := writeToken()
	it, err := oauthItem(oauthCodePrefix+c.Hash, "CODE", c, c.Expires, tok)
	if err != nil {
		return err
	}
	return s.createOAuth(ctx, "create OAuth code", it, tok)
}

// TakeOAuthCode marks a code used, once; a used one is a replay.
func (s *Store) TakeOAuthCode(ctx context.Context, hash string) (provisioner.OAuthCode, error) {
	var c provisioner.OAuthCode
	if !oauthKeyOK(hash) {
		return c, provisioner.Errorf(provisioner.ENOTFOUND, "OAuth code not found")
	}
	err := s.takeOAuth(ctx, "take OAuth code", oauthCodePrefix+hash, "CODE", &c)
	return c, err
}

func (s *Store) grantItem(g provisioner.OAuthGrant, tok int64) (item, error) {
	it, err := oauthItem(oauthGrantPrefix+g.ID, "GRANT", g, g.Expires, tok)
	if err != nil {
		return nil, err
	}
	sk, err := timeKey(g.Created, g.ID)
	if err != nil {
		return nil, err
	}
	it.setStr(attrGSI1PK, oauthGrantsIndexPK+g.User.Login)
	it.setStr(attrGSI1SK, sk)
	it.setStr(attrCurrent, g.Current)
	if err := it.setTime(attrRevokedAt, g.RevokedAt); err != nil {
		return nil, err
	}
	return it, nil
}

func checkGrant(g provisioner.OAuthGrant) (provisioner.OAuthGrant, error) {
	if err := g.Check(); err != nil {
		return g, err
	}
	if !oauthKeyOK(g.ID) || len(g.User.Login)+len(oauthGrantsIndexPK) > maxKeyPart {
		return g, provisioner.Errorf(provisioner.EINVALID, "OAuth grant id or login is too long")
	}
	g.Created, g.Expires, g.RevokedAt = utc(g.Created), utc(g.Expires), utc(g.RevokedAt)
	return g, nil
}

// CreateOAuthGrant records a new grant.
func (s *Store) CreateOAuthGrant(ctx context.Context, g provisioner.OAuthGrant) error {
	g, err := checkGrant(g)
	if err != nil {
		return err
	}
	tok := writeToken()
	it, err := s.grantItem(g, tok)
	if err != nil {
		return err
	}
	return s.createOAuth(ctx, "create OAuth grant", it, tok)
}

// GetOAuthGrant returns a grant.
func (s *Store) GetOAuthGrant(ctx context.Context, id string) (provisioner.OAuthGrant, error) {
	var g provisioner.OAuthGrant
	if !oauthKeyOK(id) {
		return g, provisioner.Errorf(provisioner.ENOTFOUND, "OAuth grant not found")
	}
	_, err := s.getOAuth(ctx, "read OAuth grant", oauthGrantPrefix+id, "GRANT", &g)
	return g, err
}

// ListOAuthGrants returns a login's grants, newest first, from gsi1.
func (s *Store) ListOAuthGrants(ctx context.Context, login string) ([]provisioner.OAuthGrant, error) {
	if err := checkContext(ctx, "list OAuth grants"); err != nil {
		return nil, err
	}
	if login == "" || len(login)+len(oauthGrantsIndexPK) > maxKeyPart {
		return []provisioner.OAuthGrant{}, nil
	}
	in := &ddb.QueryInput{
		TableName:                 aws.String(s.table),
		IndexName:                 aws.String(IndexName),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrGSI1PK},
		ExpressionAttributeValues: item{":pk": strAV(oauthGrantsIndexPK + login)},
		ScanIndexForward:          aws.Bool(false),
	}
	return queryAll(ctx, s, in, 0, "list OAuth grants", func(it item) (provisioner.OAuthGrant, error) {
		var g provisioner.OAuthGrant
		return g, decodeDoc(it, &g)
	})
}

// putGrantIf writes g if the stored grant's current token is prev and it
// is not revoked. It reports whether the write landed; an absent grant
// is ENOTFOUND.
func (s *Store) putGrantIf(ctx context.Context, op string, g provisioner.OAuthGrant, prev string) (bool, error) {
	if err := checkContext(ctx, op); err != nil {
		return false, err
	}
	tok := writeToken()
	it, err := s.grantItem(g, tok)
	if err != nil {
		return false, err
	}
	in := &ddb.PutItemInput{
		TableName: aws.String(s.table), Item: it,
		ConditionExpression:                 aws.String("attribute_exists(#pk) AND #cur = :prev AND attribute_not_exists(#rev)"),
		ExpressionAttributeNames:            map[string]string{"#pk": attrPK, "#cur": attrCurrent, "#rev": attrRevokedAt},
		ExpressionAttributeValues:           item{":prev": strAV(prev)},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}
	if prev == "" {
		in.ConditionExpression = aws.String("attribute_exists(#pk) AND attribute_not_exists(#cur) AND attribute_not_exists(#rev)")
		in.ExpressionAttributeValues = nil
	}
	_, err = s.db.PutItem(ctx, in)
	if err == nil {
		return true, nil
	}
	old, failed := conditionFailed(err)
	switch {
	case !failed:
		return false, storeError(ctx, err, op)
	case old == nil:
		return false, provisioner.Errorf(provisioner.ENOTFOUND, "OAuth grant not found")
	}
	return ownWrite(old, tok), nil
}

// RotateOAuthGrant replaces a live grant whose current token is prev.
func (s *Store) RotateOAuthGrant(ctx context.Context, g provisioner.OAuthGrant, prev string) error {
	g, err := checkGrant(g)
	if err != nil {
		return err
	}
	done, err := s.putGrantIf(ctx, "rotate OAuth grant", g, prev)
	if err == nil && !done {
		err = provisioner.Errorf(provisioner.ECONFLICT, "the grant was renewed or revoked meanwhile")
	}
	return err
}

// RevokeOAuthGrant revokes a grant, once: read it, then write it revoked
// under the condition that nobody rotated or revoked it meanwhile, again
// if somebody did.
func (s *Store) RevokeOAuthGrant(ctx context.Context, id string, at time.Time, reason string) (provisioner.OAuthGrant, bool, error) {
	for range 8 {
		g, err := s.GetOAuthGrant(ctx, id)
		if err != nil || !g.RevokedAt.IsZero() {
			return g, false, err
		}
		prev := g.Current
		g.RevokedAt, g.Reason = utc(at), reason
		done, err := s.putGrantIf(ctx, "revoke OAuth grant", g, prev)
		if err != nil || done {
			return g, done, err
		}
	}
	return provisioner.OAuthGrant{}, false, provisioner.Errorf(provisioner.EUNAVAILABLE, "revoke OAuth grant: it keeps changing; try again")
}

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}
