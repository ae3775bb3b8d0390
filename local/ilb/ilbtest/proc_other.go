//go:build !unix

package ilbtest

import "syscall"

func sysProcAttr() *syscall.SysProcAttr { return nil }

func stopGroup(int) {}
