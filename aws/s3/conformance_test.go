package s3_test

import (
	"testing"

	"provisioner"
	"provisioner/aws/s3"
	"provisioner/conformance"
)

func TestConformance(t *testing.T) {
	conformance.LogStore(t, func(t *testing.T) provisioner.LogStore {
		return newFixture(t).logs(t, s3.Config{Prefix: "logs"})
	})
}
