//go:build unix && !linux

package jobs

import (
	"os"
	"path/filepath"
	"provisioner/local/internal/proc"
	"strconv"
	"strings"
	"syscall"
)

// jobProcs, where there is no /proc to search, lists the process groups of
// a job: the script's own (while its leader is the script) and the one of
// the step it runs (state/step.pgid). Processes that left both are not
// found; on Linux the job's marker finds them.
func jobProcs(st *jobState, dir string, leaderAlive bool) []proc.Ref {
	var refs []proc.Ref
	if leaderAlive {
		refs = append(refs, proc.Ref{PID: st.PID})
	}
	if b, err := os.ReadFile(filepath.Join(dir, "state", "step.pgid")); err == nil {
		if g, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && g > 1 && syscall.Kill(-g, 0) == nil {
			refs = append(refs, proc.Ref{PID: g})
		}
	}
	return refs
}

func signalJobProc(pgid int, hard bool) error { return proc.SignalGroup(pgid, hard) }
