package local

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

var bootID = sync.OnceValue(func() string {
	b, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	return strings.TrimSpace(string(b))
})

// procIdentity returns the boot id and start time (in clock ticks since
// boot) of a process: together with the pid they name it uniquely, even
// after the pid is recycled. running is false for a zombie; a missing
// process is ("", false, nil).
func procIdentity(pid int) (ident string, running bool, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	// The command name in parentheses may hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	if i < 0 || len(f) < 20 {
		return "", false, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	// f[0] is field 3 (state), f[19] field 22 (starttime).
	return bootID() + ":" + f[19], f[0] != "Z" && f[0] != "X", nil
}

// markedProcs finds the running processes whose environment carries the
// instance marker, wherever their process group or parent is now.
// Processes of other users are unreadable and skipped.
func markedProcs(instance string) []procRef {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	want := []byte(markerEnv + "=" + instance)
	self := os.Getpid()
	var refs []procRef
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 1 || pid == self {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil || !bytes.Contains(b, want) {
			continue
		}
		for kv := range bytes.SplitSeq(b, []byte{0}) {
			if bytes.Equal(kv, want) {
				if ident, running, _ := procIdentity(pid); running {
					refs = append(refs, procRef{pid, ident})
				}
				break
			}
		}
	}
	return refs
}
