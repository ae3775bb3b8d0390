//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package keyring

import (
	"os"
	"path/filepath"
	"syscall"
)

// lockDir takes an exclusive advisory lock that serialises writers (rotation
// in one process, key creation and pruning in another). Readers do not lock.
func lockDir(dir string) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
