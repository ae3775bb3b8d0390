package dynamodb

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"provisioner"
)

// storeError turns an SDK error into a *provisioner.Error. The message names
// the operation only; the SDK's text (table names, request ids, endpoints)
// stays in the wrapped error, for logs:
//
//   - a done context: EUNAVAILABLE, with ctx.Err() in the chain (errors.Is)
//   - throttling, capacity, transaction conflicts, 5xx and network
//     failures, i.e. what the SDK itself retries, once its retries are
//     spent: EUNAVAILABLE
//   - anything else (a missing table, missing permissions, a bad request):
//     EINTERNAL
//
// Conditional check failures never reach it: callers turn them into
// ECONFLICT with a message about the record.
func storeError(ctx context.Context, err error, op string) error {
	if err == nil {
		return nil
	}
	if cerr := provisioner.ContextError(ctx, err, op); cerr != nil {
		return cerr
	}
	if transient(err) {
		return provisioner.Wrap(provisioner.EUNAVAILABLE, err, "%s: the state store is unavailable or busy; try again", op)
	}
	return provisioner.Wrap(provisioner.EINTERNAL, err, "%s: state store failure", op)
}

// transientCodes are DynamoDB error codes worth retrying later that the
// SDK's default retryables do not name.
var transientCodes = map[string]bool{
	"TransactionConflictException":     true,
	"ReplicatedWriteConflictException": true, // global tables, strong consistency
	"InternalServerError":              true,
	"ServiceUnavailable":               true,
}

// transient reports whether err is a failure that goes away by itself: what
// the SDK's standard retryer retries (throttling, connection errors, HTTP
// 5xx), and DynamoDB's write conflicts.
func transient(err error) bool {
	var rnf *types.ResourceNotFoundException
	if errors.As(err, &rnf) { // a missing table is a configuration error
		return false
	}
	for _, r := range retry.DefaultRetryables {
		if r.IsErrorRetryable(err) == aws.TrueTernary {
			return true
		}
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return transientCodes[ae.ErrorCode()] || ae.ErrorFault() == smithy.FaultServer
	}
	return false
}

// conditionFailed returns the old item of a failed conditional write (nil
// when there was none), and whether err is such a failure.
func conditionFailed(err error) (item, bool) {
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return item(ccf.Item), true
	}
	return nil, false
}
