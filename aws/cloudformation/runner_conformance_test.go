package cloudformation_test

import (
	"testing"
	"time"

	"provisioner"
	"provisioner/aws/cloudformation"
	"provisioner/conformance"
)

func TestRunnerConformance(t *testing.T) {
	conformance.JobRunner(t, func(t *testing.T) conformance.Runner {
		w := newRunnerWorld(t, false)
		return conformance.Runner{Runner: w.r, Timeout: 30 * time.Second,
			Job: func() provisioner.Job {
				return provisioner.Job{ID: newJobID(), Kind: provisioner.JobTest, Cluster: "c1", Version: "v4.5.1",
					RequestedBy: "ada", CreatedAt: w.Now(), Deadline: w.Now().Add(time.Hour)}
			},
			// No upload for LostAfter: the machine is gone. The emulator's
			// instance never uploads, so only the runner's clock moves.
			Lose: func(t *testing.T, j provisioner.Job) { w.add(cloudformation.LostAfter + time.Minute) },
		}
	})
}
