package cloudformation

import (
	"errors"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/smithy-go"

	"provisioner/aws/awsenv"
)

// cfnError is awsenv.Error: one classification for every AWS adapter.
var cfnError = awsenv.Error

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
