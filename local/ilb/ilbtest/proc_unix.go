//go:build unix

package ilbtest

import "syscall"

func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// stopGroup ends HAProxy's master and workers.
func stopGroup(pid int) {
	if pid > 1 {
		syscall.Kill(-pid, syscall.SIGTERM)
	}
}
