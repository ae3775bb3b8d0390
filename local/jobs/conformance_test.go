package jobs

import (
	"context"
	"testing"
	"time"

	"provisioner"
	"provisioner/conformance"
)

func TestConformance(t *testing.T) {
	conformance.JobRunner(t, func(t *testing.T) conformance.Runner {
		e := newJobRunner(t, "  - name: hang\n    run: bash hang.sh\n")
		return conformance.Runner{Runner: e.runner, Timeout: 30 * time.Second,
			Job: func() provisioner.Job { return testJob("v1.0.0") },
			// Every process of the job killed at once: the machine is gone
			// without a word, as a reboot would leave it.
			Lose: func(t *testing.T, j provisioner.Job) {
				st, err := e.runner.readState(j.ID)
				if err != nil {
					t.Fatal(err)
				}
				e.runner.kill(context.Background(), st)
			},
		}
	})
}
