package s3

import "provisioner/aws/awsenv"

// s3Error is awsenv.Error: one classification for every AWS adapter.
var s3Error = awsenv.Error

// apiCode returns the AWS error code in err's chain, or "".
var apiCode = awsenv.APICode
