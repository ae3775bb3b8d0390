package kms

import "provisioner/aws/awsenv"

// kmsError is awsenv.Error: one classification for every AWS adapter.
var kmsError = awsenv.Error

// apiCode returns the AWS error code in err's chain, or "".
var apiCode = awsenv.APICode
