package s3

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"

	"provisioner"
)

// s3Error turns an S3 client error into a domain error: EUNAVAILABLE for
// what may pass (throttling, timeouts, network, server errors), EINTERNAL
// for the rest (a missing bucket, no permission). The caller sees only msg;
// what and the SDK error stay in the wrapped error, for the log.
func s3Error(ctx context.Context, err error, msg, what string) error {
	cause := fmt.Errorf("%s: %w", what, err)
	if transient(ctx, err) {
		return provisioner.Wrap(provisioner.EUNAVAILABLE, cause, "%s", msg)
	}
	return provisioner.Wrap(provisioner.EINTERNAL, cause, "%s", msg)
}

// transient reports whether an AWS SDK error may pass by itself.
func transient(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	var ae smithy.APIError
	if errors.As(err, &ae) && (ae.ErrorCode() == "SlowDown" || ae.ErrorCode() == "ServiceUnavailable" ||
		ae.ErrorCode() == "InternalError" || ae.ErrorCode() == "RequestTimeout" || ae.ErrorFault() == smithy.FaultServer) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	return retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) == aws.TrueTernary
}

// apiCode returns the AWS error code in err's chain, or "".
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}
