package dynamodb

import (
	"context"
	"encoding/base64"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// signatureGrace keeps a signature's guard a while after its timestamp
// left the window, against clocks that disagree; DynamoDB's TTL deletes it
// later still (within days), and an expired signature is refused by its
// timestamp before its guard is looked at.
const signatureGrace = time.Minute

// ClaimSignature records a request signature that was accepted, so that no
// other request, in this process or another sharing the table, is accepted
// with it: a conditional put of the guard item SIG#<signature> (only if
// absent) that expires through the TTL attribute after until. It reports
// false, and no error, when the signature was claimed before. A write token
// recognises the SDK's retry of our own successful put.
//
// It implements signature.Replays for the AWS Lambda.
func (s *Store) ClaimSignature(ctx context.Context, sig []byte, until time.Time) (bool, error) {
	if err := checkContext(ctx, "record a request signature"); err != nil {
		return false, err
	}
	it := key("SIG#"+base64.RawURLEncoding.EncodeToString(sig), "SIG")
	it.setTTL(until.Add(signatureGrace).Unix())
	tok := writeToken()
	it.setNum(attrWriteTok, tok)
	_, err := s.db.PutItem(ctx, &ddb.PutItemInput{
		TableName: aws.String(s.table), Item: it,
		ConditionExpression:                 aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames:            map[string]string{"#pk": attrPK},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if old, ok := conditionFailed(err); ok {
		prev, perr := old.num(attrWriteTok)
		return perr == nil && prev == tok, nil
	}
	if err != nil {
		return false, storeError(ctx, err, "record a request signature")
	}
	return true, nil
}
