package proc

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

// Identity returns the boot id and start time (in clock ticks since boot)
// of a process: together with the pid they name it uniquely, even after the
// pid is recycled. running is false for a zombie; a missing process is
// ("", false, nil).
func Identity(pid int) (ident string, running bool, err error) {
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

// Session reads a process's session id and identity (as Identity); running
// is false for a zombie or a process that is gone.
func Session(pid int) (sid int, ident string, running bool) {
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

// Marked finds the running processes whose environment holds marker (a
// "NAME=value" entry), wherever their process group or parent is now.
// Processes of other users are unreadable and skipped.
func Marked(marker string) []Ref {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	want := []byte(marker)
	self := os.Getpid()
	var refs []Ref
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
				if ident, running, _ := Identity(pid); running {
					refs = append(refs, Ref{pid, ident})
				}
				break
			}
		}
	}
	return refs
}
