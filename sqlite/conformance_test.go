package sqlite

import (
	"context"
	"testing"
	"time"

	"provisioner/conformance"
)

func TestSchedulerConformance(t *testing.T) {
	conformance.Scheduler(t, func(t *testing.T) conformance.ReadableScheduler {
		db := openMemory(t)
		t.Cleanup(func() { db.Close() })
		// Not running: schedules stay pending for the suite to read.
		return NewScheduler(db, func(context.Context, string, time.Time) error { return nil })
	})
}
