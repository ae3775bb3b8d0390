package provisioner

import "time"

// OperationState is where a long request (DEPLOY, DESTROY) is.
type OperationState string

// Operations end in success or failure, once.
const (
	OpPending OperationState = "pending"
	OpSuccess OperationState = "success"
	OpFailure OperationState = "failure"
)

// Operation is a DEPLOY or DESTROY the caller may wait for.
type Operation struct {
	ID        string         `json:"id"`
	Kind      string         `json:"kind"`    // "deploy", "destroy", "deploy_group" or "destroy_group"
	Cluster   string         `json:"cluster"` // a node group's: GroupKey
	State     OperationState `json:"state"`
	ErrorCode string         `json:"error,omitempty"`
	Message   string         `json:"error_description,omitempty"`
	CreatedBy string         `json:"created_by,omitempty"`
	CreatedAt time.Time      `json:"created_at"`
	UpdatedAt time.Time      `json:"updated_at"`
	// Deadline is when the server gives up waiting (DEPLOY/DESTROY: 10 minutes).
	Deadline time.Time `json:"deadline"`
}

// Done reports whether the operation has its final result.
func (o Operation) Done() bool { return o.State == OpSuccess || o.State == OpFailure }

// Event is one thing that happened to a cluster: a state change or a
// schedule action, with who caused it.
type Event struct {
	ID      string    `json:"id"`
	Cluster string    `json:"cluster"` // a node group's: GroupKey
	Time    time.Time `json:"time"`
	Type    string    `json:"type"` // e.g. "deploy.requested", "state.running", "schedule.set"
	Actor   string    `json:"actor,omitempty"`
	Message string    `json:"message,omitempty"`
}

// Validate refuses (EINVALID) what no store appends: an event without an
// ID, a cluster or a time.
func (e Event) Validate() error {
	switch {
	case e.ID == "":
		return Errorf(EINVALID, "event id is required")
	case e.Cluster == "":
		return Errorf(EINVALID, "event cluster is required")
	case e.Time.IsZero():
		return Errorf(EINVALID, "event time is required")
	}
	return nil
}
