//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package local

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// dataLockName is the file under --data whose lock marks the directory in use.
const dataLockName = "serve.lock"

// lockData takes an exclusive lock on the data directory, held until
// unlock (or the process ends: the kernel drops it with the descriptor), so
// that a second serve, or an offline command that changes clusters, on the
// same directory is refused instead of fighting over its clusters. The file
// names the holder's pid for the message.
func lockData(dir string) (unlock func(), err error) {
	path := filepath.Join(dir, dataLockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("data directory lock: %w", err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if errors.Is(err, syscall.EWOULDBLOCK) {
		b, _ := os.ReadFile(path)
		f.Close()
		holder := "another process"
		if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil && pid > 0 {
			holder = fmt.Sprintf("process %d", pid)
		}
		return nil, fmt.Errorf("the data directory %s is in use by %s (another provisioner serve?): "+
			"two services on one directory would destroy each other's clusters; stop it first, or give another --data", dir, holder)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("data directory lock: %w", err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
