package jobs

import (
	"bytes"
	"os"
	"strconv"

	"provisioner/local/internal/proc"
)

// jobProcs lists the running processes of a job: every process that
// carries the job's marker in its environment, wherever it went, and every
// process of the session the job's script leads, when that session is
// verifiably the job's (its leader is the script, or a marked process is in
// it), which catches processes started with a cleared environment.
func jobProcs(st *jobState, _ string, leaderAlive bool) []proc.Ref {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	marker := []byte(proc.JobMarker + "=" + st.JobID)
	self := os.Getpid()
	type found struct {
		proc.Ref
		marked, inSession bool
	}
	var procs []found
	ours := leaderAlive
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 1 || pid == self {
			continue
		}
		sid, ident, running := proc.Session(pid)
		if !running {
			continue
		}
		p := found{Ref: proc.Ref{PID: pid, Ident: ident}, inSession: sid == st.PID}
		if b, err := os.ReadFile("/proc/" + e.Name() + "/environ"); err == nil {
			for kv := range bytes.SplitSeq(b, []byte{0}) {
				if bytes.Equal(kv, marker) {
					p.marked = true
					break
				}
			}
		}
		if p.marked && p.inSession {
			ours = true
		}
		if p.marked || p.inSession {
			procs = append(procs, p)
		}
	}
	var refs []proc.Ref
	for _, p := range procs {
		if p.marked || ours {
			refs = append(refs, p.Ref)
		}
	}
	return refs
}

func signalJobProc(pid int, hard bool) error { return proc.Signal(pid, hard) }
