package kms

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

// unavailableCodes are KMS error codes that say "not now": the caller may
// try again later. Throttling and server errors are recognised by the SDK's
// own retry classification as well.
var unavailableCodes = map[string]bool{
	"KMSInternalException":       true,
	"DependencyTimeoutException": true,
	"KeyUnavailableException":    true,
	"ThrottlingException":        true,
	"LimitExceededException":     true,
	"ServiceUnavailable":         true,
	"InternalFailure":            true,
}

// kmsError turns a KMS client error into a domain error: EUNAVAILABLE for
// what may pass (throttling, timeouts, network, KMS's own failures),
// EINTERNAL for the rest (a missing, disabled or wrong key; no permission).
// The caller sees only msg; what and the SDK error stay in the wrapped
// error, for the log.
func kmsError(ctx context.Context, err error, msg, what string) error {
	cause := fmt.Errorf("%s: %w", what, err)
	if transient(ctx, err) {
		return provisioner.Wrap(provisioner.EUNAVAILABLE, cause, "%s", msg)
	}
	return provisioner.Wrap(provisioner.EINTERNAL, cause, "%s", msg)
}

// transient reports whether an AWS SDK error may pass by itself: a
// cancelled or expired context, a network failure, throttling or a server
// error.
func transient(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		if unavailableCodes[ae.ErrorCode()] || ae.ErrorFault() == smithy.FaultServer {
			return true
		}
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
