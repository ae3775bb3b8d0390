//go:build !unix

package local

import (
	"errors"
	"syscall"
)

var errUnsupported = errors.New("local clusters need Linux, macOS or another Unix")

func supported() error                       { return errUnsupported }
func sysProcAttr() *syscall.SysProcAttr      { return nil }
func signalGroup(int, bool) error            { return errUnsupported }
func signalPID(int, bool) error              { return errUnsupported }
func procIdentity(int) (string, bool, error) { return "", false, errUnsupported }
func markedProcs(string) []procRef           { return nil }
