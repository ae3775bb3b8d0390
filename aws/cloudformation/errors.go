package cloudformation

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/smithy-go"

	"provisioner"
)

// cfnError turns a CloudFormation client error into a domain error:
// EUNAVAILABLE for what may pass (throttling, timeouts, network, server
// errors), EINTERNAL for the rest (a template or parameter CloudFormation
// refuses, no permission). The caller sees only msg; what and the SDK
// error stay in the wrapped error, for the log.
func cfnError(ctx context.Context, err error, msg, what string) error {
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
	if errors.As(err, &ae) && (ae.ErrorCode() == "Throttling" || ae.ErrorCode() == "ThrottlingException" ||
		ae.ErrorCode() == "ServiceUnavailable" || ae.ErrorCode() == "InternalFailure" || ae.ErrorFault() == smithy.FaultServer) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	return retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) == aws.TrueTernary
}

// isNotFound reports CloudFormation's answer for a stack name or id it
// does not know: a ValidationError "Stack with id X does not exist".
func isNotFound(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "ValidationError" && strings.Contains(ae.ErrorMessage(), "does not exist")
}

// isAlreadyExists reports a CreateStack refused because the name is taken.
func isAlreadyExists(err error) bool {
	var ae *types.AlreadyExistsException
	if errors.As(err, &ae) {
		return true
	}
	var api smithy.APIError
	return errors.As(err, &api) && api.ErrorCode() == "AlreadyExistsException"
}
