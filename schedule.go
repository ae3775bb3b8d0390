package provisioner

import (
	"context"
	"time"
)

// Scheduler keeps each cluster's one destroy schedule, and each node
// group's: the key is a cluster's name or a group's GroupKey (see
// ParseScheduleKey), so a group's schedule never fires a cluster's destroy. Schedules MUST be
// durable (survive restarts; one missed while down fires at start), fire
// once, and be retried until the destroy succeeds. Setting replaces any
// earlier schedule of the cluster; removing an absent one is not an error.
type Scheduler interface {
	SetDestroy(ctx context.Context, key string, at time.Time) error
	RemoveDestroy(ctx context.Context, key string) error
}

// Schedule is a destroy schedule as the embedded scheduler stores it.
type Schedule struct {
	Cluster     string    `json:"cluster"`
	At          time.Time `json:"at"`
	Attempts    int       `json:"attempts"`
	NextAttempt time.Time `json:"next_attempt"` // At, or later after failures
	LastError   string    `json:"last_error,omitempty"`
}
