package cloudformation_test

import (
	"context"
	"testing"
	"time"

	"provisioner/aws/awstest"
	"provisioner/aws/cloudformation"
	"provisioner/conformance"
)

// allUp answers every health check with two nodes: the emulator runs no
// instance that could.
type allUp struct{}

func (allUp) Check(context.Context, string, string) (int, error)                { return 2, nil }
func (allUp) CheckService(context.Context, string, string, string) (int, error) { return 2, nil }

func TestConformance(t *testing.T) {
	conformance.ClusterDriver(t, func(t *testing.T) conformance.Driver {
		e := newEnv(t, func(c *cloudformation.Config) { c.HealthProbe = allUp{} })
		return conformance.Driver{Driver: e.d, Name: func() string { return awstest.Name("cf") }, Timeout: 30 * time.Second}
	})
}
