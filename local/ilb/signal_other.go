//go:build !unix

package ilb

import "errors"

func sigusr2(int) error { return errors.New("reloading HAProxy needs Unix") }

func processExists(int) bool { return false }
