package kms

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/aws/smithy-go"

	"provisioner"
)

func TestKMSErrorCodes(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&smithy.GenericAPIError{Code: "ThrottlingException", Fault: smithy.FaultClient}, provisioner.EUNAVAILABLE},
		{&smithy.GenericAPIError{Code: "KMSInternalException", Fault: smithy.FaultServer}, provisioner.EUNAVAILABLE},
		{&smithy.GenericAPIError{Code: "DependencyTimeoutException"}, provisioner.EUNAVAILABLE},
		{&smithy.GenericAPIError{Code: "KeyUnavailableException"}, provisioner.EUNAVAILABLE},
		{&smithy.GenericAPIError{Code: "SomethingNew", Fault: smithy.FaultServer}, provisioner.EUNAVAILABLE},
		{fmt.Errorf("op: %w", context.DeadlineExceeded), provisioner.EUNAVAILABLE},
		{&smithy.GenericAPIError{Code: "NotFoundException"}, provisioner.EINTERNAL},
		{&smithy.GenericAPIError{Code: "DisabledException"}, provisioner.EINTERNAL},
		{&smithy.GenericAPIError{Code: "KMSInvalidStateException"}, provisioner.EINTERNAL},
		{&smithy.GenericAPIError{Code: "AccessDeniedException"}, provisioner.EINTERNAL},
		{&smithy.GenericAPIError{Code: "InvalidKeyUsageException"}, provisioner.EINTERNAL},
		{errors.New("anything else"), provisioner.EINTERNAL},
	} {
		err := kmsError(ctx, tc.err, "cannot sign token", "sign with KMS key #1 arn:aws:kms:secret")
		if got := provisioner.ErrorCode(err); got != tc.want {
			t.Errorf("%v: %s, want %s", tc.err, got, tc.want)
		}
		if provisioner.ErrorMessage(err) != "cannot sign token" {
			t.Errorf("%v: message %q", tc.err, provisioner.ErrorMessage(err))
		}
		if !errors.Is(err, tc.err) {
			t.Errorf("%v: cause not kept for the log", tc.err)
		}
	}
}
