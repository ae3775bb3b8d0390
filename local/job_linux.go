package local

import (
	"bytes"
	"os"
	"strconv"
	"strings"
)

// jobProcs lists the running processes of a job: every process that
// carries the job's marker in its environment, wherever it went, and every
// process of the session the job's script leads, when that session is
// verifiably the job's (its leader is the script, or a marked process is in
// it), which catches processes started with a cleared environment.
func jobProcs(st *jobState, _ string, leaderAlive bool) []procRef {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	marker := []byte(jobMarkerEnv + "=" + st.JobID)
	self := os.Getpid()
	type proc struct {
		procRef
		marked, inSession bool
	}
	var procs []proc
	ours := leaderAlive
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 1 || pid == self {
			continue
		}
		sid, ident, running := procSession(pid)
		if !running {
			continue
		}
		p := proc{procRef: procRef{pid, ident}, inSession: sid == st.PID}
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
	var refs []procRef
	for _, p := range procs {
		if p.marked || ours {
			refs = append(refs, p.procRef)
		}
	}
	return refs
}

// procSession reads a process's session id and identity (as procIdentity);
// running is false for a zombie or a process that is gone.
func procSession(pid int) (sid int, ident string, running bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, "", false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, "", false
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state), f[3] field 6 (session), f[19] field 22 (starttime).
	if len(f) < 20 || f[0] == "Z" || f[0] == "X" {
		return 0, "", false
	}
	sid, _ = strconv.Atoi(f[3])
	return sid, bootID() + ":" + f[19], true
}

func signalJobProc(pid int, hard bool) error { return signalPID(pid, hard) }
