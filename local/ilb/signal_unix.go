//go:build unix

package ilb

import "syscall"

func sigusr2(pid int) error { return syscall.Kill(pid, syscall.SIGUSR2) }

// processExists says whether pid exists (a zombie counts).
func processExists(pid int) bool { return syscall.Kill(pid, 0) == nil }
