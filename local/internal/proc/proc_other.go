//go:build !unix

package proc

import (
	"errors"
	"syscall"
)

// ErrUnsupported is Supported's answer where local clusters and jobs
// cannot run.
var ErrUnsupported = errors.New("local clusters need Linux, macOS or another Unix")

func Supported() error                   { return ErrUnsupported }
func SysProcAttr() *syscall.SysProcAttr  { return nil }
func SignalGroup(int, bool) error        { return ErrUnsupported }
func Signal(int, bool) error             { return ErrUnsupported }
func Identity(int) (string, bool, error) { return "", false, ErrUnsupported }
func Marked(string) []Ref                { return nil }
