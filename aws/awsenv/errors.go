package awsenv

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

// transientCodes are AWS error codes that say "not now" in the services
// the provisioner calls; throttling and server faults are also recognised
// by the SDK's own retry classification.
var transientCodes = map[string]bool{
	"Throttling": true, "ThrottlingException": true, "RequestLimitExceeded": true, "SlowDown": true,
	"ServiceUnavailable": true, "Unavailable": true, "InternalError": true, "InternalFailure": true, "RequestTimeout": true,
	"KMSInternalException": true, "DependencyTimeoutException": true, "KeyUnavailableException": true,
	"LimitExceededException": true,
}

// Error turns an AWS SDK error into a domain error: EUNAVAILABLE for what
// may pass (a done context, the network, throttling, server faults),
// EINTERNAL for the rest (a missing resource, a refused request, no
// permission). The caller sees only msg; what and the SDK error stay in the
// wrapped error, for the log.
func Error(ctx context.Context, err error, msg, what string) error {
	cause := fmt.Errorf("%s: %w", what, err)
	if Transient(ctx, err) {
		return provisioner.Wrap(provisioner.EUNAVAILABLE, cause, "%s", msg)
	}
	return provisioner.Wrap(provisioner.EINTERNAL, cause, "%s", msg)
}

// Transient reports whether an AWS SDK error may pass by itself.
func Transient(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	var ae smithy.APIError
	if errors.As(err, &ae) && (transientCodes[ae.ErrorCode()] || ae.ErrorFault() == smithy.FaultServer) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	return retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) == aws.TrueTernary
}

// APICode returns the AWS error code in err's chain, or "".
func APICode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}
