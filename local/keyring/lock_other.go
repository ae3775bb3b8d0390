//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package keyring

import "sync"

// lockMu serialises writers within the process; on these platforms there is
// no advisory file lock, so do not rotate from another process while serving.
var lockMu sync.Mutex

func lockDir(string) (func(), error) {
	lockMu.Lock()
	return lockMu.Unlock, nil
}
