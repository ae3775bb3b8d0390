package ec2

import (
	"errors"

	awss3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"provisioner/aws/awsenv"
)

// awsError is awsenv.Error: one classification for every AWS adapter.
var awsError = awsenv.Error

// apiCode returns the AWS error code in err's chain, or "".
var apiCode = awsenv.APICode

// capacityCodes are RunInstances errors that say the spot market cannot
// give this machine now; on-demand may.
var capacityCodes = map[string]bool{
	"InsufficientInstanceCapacity":     true,
	"InsufficientCapacity":             true,
	"InsufficientHostCapacity":         true,
	"InsufficientReservedCapacity":     true,
	"UnfulfillableCapacity":            true,
	"SpotMaxPriceTooLow":               true,
	"MaxSpotInstanceCountExceeded":     true,
	"SpotInstanceRequestLimitExceeded": true,
}

// capacityError reports a spot capacity error.
func capacityError(err error) bool { return capacityCodes[apiCode(err)] }

// instanceNotFound reports EC2's answer for instance ids it does not know
// (or no longer shows: terminated an hour ago).
func instanceNotFound(err error) bool {
	c := apiCode(err)
	return c == "InvalidInstanceID.NotFound" || c == "InvalidInstanceID.Malformed"
}

func s3NotFound(err error) bool {
	var nsk *awss3types.NoSuchKey
	var nf *awss3types.NotFound
	return errors.As(err, &nsk) || errors.As(err, &nf) || apiCode(err) == "NoSuchKey" || apiCode(err) == "NotFound"
}
