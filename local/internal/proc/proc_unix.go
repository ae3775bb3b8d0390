//go:build unix

package proc

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// Supported says whether local clusters and jobs can run here: nil on Unix.
func Supported() error { return nil }

// SysProcAttr puts a process in a session (and process group) of its own:
// it survives the service, and one signal to the group reaches the
// processes it started.
func SysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }

// SignalGroup signals the process group led by pgid: SIGTERM, or SIGKILL
// with kill. Callers verify the leader first: a group outlives neither its
// members nor the reuse of its leader's pid, so only a verified leader
// proves the group is ours.
func SignalGroup(pgid int, kill bool) error {
	if pgid <= 1 || pgid == os.Getpid() {
		return syscall.EINVAL
	}
	return syscall.Kill(-pgid, sig(kill))
}

// Signal signals one process: SIGTERM, or SIGKILL with kill.
func Signal(pid int, kill bool) error {
	if pid <= 1 || pid == os.Getpid() {
		return syscall.EINVAL
	}
	return syscall.Kill(pid, sig(kill))
}

func sig(kill bool) syscall.Signal {
	if kill {
		return syscall.SIGKILL
	}
	return syscall.SIGTERM
}

// PSIdentity asks ps(1) for a process's start time, its identity where
// there is no /proc. running is false for a zombie; a missing process is
// ("", false, nil).
func PSIdentity(pid int) (ident string, running bool, err error) {
	out, err := exec.Command("ps", "-o", "stat=", "-o", "lstart=", "-p", strconv.Itoa(pid)).Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) && len(strings.TrimSpace(string(out))) == 0 {
		return "", false, nil // ps exits 1 when no process matches
	}
	if err != nil {
		return "", false, err
	}
	stat, start, ok := strings.Cut(strings.TrimSpace(string(out)), " ")
	if !ok {
		return "", false, nil
	}
	return "ps:" + strings.Join(strings.Fields(start), " "), !strings.HasPrefix(stat, "Z"), nil
}
