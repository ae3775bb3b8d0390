//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package main

// lockData is a no-op where flock is missing; serve runs local clusters
// only on Unix (see local.supported).
func lockData(string) (func(), error) { return func() {}, nil }
