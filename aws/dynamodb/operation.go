package dynamodb

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"provisioner"
)

// Operation attributes (with attrState, attrCreatedBy, attrCreatedAt,
// attrUpdatedAt of clusters).
const (
	opPrefix      = "OP#"
	opSK          = "OP"
	attrID        = "id"
	attrKind      = "kind"
	attrCluster   = "cluster"
	attrErrorCode = "error_code"
	attrMessage   = "message"
	attrDeadline  = "deadline"
)

// PutOperation creates the operation or replaces every field of the one
// with the same ID. Its TTL counts from UpdatedAt (CreatedAt, else now), so
// an operation is kept for the retention period after it last changed.
func (s *Store) PutOperation(ctx context.Context, op provisioner.Operation) error {
	it, err := s.operationItem(op)
	if err != nil {
		return err
	}
	if err := checkContext(ctx, "save operation"); err != nil {
		return err
	}
	_, err = s.db.PutItem(ctx, &ddb.PutItemInput{TableName: aws.String(s.table), Item: it})
	return storeError(ctx, err, "save operation")
}

// operationItem checks op and returns its item.
func (s *Store) operationItem(op provisioner.Operation) (item, error) {
	switch {
	case op.ID == "":
		return nil, provisioner.Errorf(provisioner.EINVALID, "operation id is required")
	case len(op.ID) > maxKeyPart:
		return nil, provisioner.Errorf(provisioner.EINVALID, "operation id is too long")
	}
	it := key(opPrefix+op.ID, opSK)
	it.setStr(attrID, op.ID)
	it.setStr(attrKind, op.Kind)
	it.setStr(attrCluster, op.Cluster)
	it.setStr(attrState, string(op.State))
	it.setStr(attrErrorCode, op.ErrorCode)
	it.setStr(attrMessage, op.Message)
	it.setStr(attrCreatedBy, op.CreatedBy)
	if err := it.setTimes([]timeAttr{{attrCreatedAt, op.CreatedAt}, {attrUpdatedAt, op.UpdatedAt},
		{attrDeadline, op.Deadline}}); err != nil {
		return nil, err
	}
	last := op.UpdatedAt
	if last.IsZero() {
		last = op.CreatedAt
	}
	it.setTTL(s.expiry(last))
	return it, nil
}

// GetOperation returns the operation with the given ID, or ENOTFOUND. The
// read is strongly consistent, so a poller sees a result as soon as it is
// written.
func (s *Store) GetOperation(ctx context.Context, id string) (provisioner.Operation, error) {
	if err := checkContext(ctx, "read operation"); err != nil {
		return provisioner.Operation{}, err
	}
	notFound := provisioner.Errorf(provisioner.ENOTFOUND, "operation %q not found", id)
	if id == "" || len(id) > maxKeyPart {
		return provisioner.Operation{}, notFound
	}
	out, err := s.db.GetItem(ctx, &ddb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            key(opPrefix+id, opSK),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return provisioner.Operation{}, storeError(ctx, err, "read operation")
	}
	if out.Item == nil {
		return provisioner.Operation{}, notFound
	}
	d := decoder{it: out.Item}
	op := provisioner.Operation{
		ID:        d.str(attrID),
		Kind:      d.str(attrKind),
		Cluster:   d.str(attrCluster),
		State:     provisioner.OperationState(d.str(attrState)),
		ErrorCode: d.str(attrErrorCode),
		Message:   d.str(attrMessage),
		CreatedBy: d.str(attrCreatedBy),
		CreatedAt: d.time(attrCreatedAt),
		UpdatedAt: d.time(attrUpdatedAt),
		Deadline:  d.time(attrDeadline),
	}
	if d.err != nil {
		return provisioner.Operation{}, d.err
	}
	return op, nil
}
