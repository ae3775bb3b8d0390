// Package proc is how the embedded backend's cluster driver and job runner
// find, identify and signal the processes they start: each runs in a
// session of its own, is known by its pid and start identity (so a recycled
// pid is never taken for it), and carries a marker variable in its
// environment that its children inherit.
package proc

import (
	"errors"
	"fmt"
	"os/exec"
)

// Markers of the processes: each process of a local cluster carries
// ClusterMarker=<instance id>, each process of a local job JobMarker=<job
// id>, so processes that left their process group are still found and
// stopped.
const (
	ClusterMarker = "SLIDERULE_CLUSTER_INSTANCE"
	JobMarker     = "SLIDERULE_JOB"
)

// Ref is a running process: its pid and start identity (see Identity).
type Ref struct {
	PID   int
	Ident string
}

// ExitText says how a process ended, from the error of its Wait.
func ExitText(err error) string {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return "exited with status 0"
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		return fmt.Sprintf("exited with status %d", ee.ExitCode())
	case ee != nil:
		return "ended: " + ee.ProcessState.String()
	}
	return "ended: " + err.Error()
}
