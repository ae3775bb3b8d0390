//go:build unix && !linux

package local

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// jobProcs, where there is no /proc to search, lists the process groups of
// a job: the script's own (while its leader is the script) and the one of
// the step it runs (state/step.pgid). Processes that left both are not
// found; on Linux the job's marker finds them.
func jobProcs(st *jobState, dir string, leaderAlive bool) []procRef {
	var refs []procRef
	if leaderAlive {
		refs = append(refs, procRef{pid: st.PID})
	}
	if b, err := os.ReadFile(filepath.Join(dir, "state", "step.pgid")); err == nil {
		if g, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && g > 1 && syscall.Kill(-g, 0) == nil {
			refs = append(refs, procRef{pid: g})
		}
	}
	return refs
}

func signalJobProc(pgid int, hard bool) error { return signalGroup(pgid, hard) }
