//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package local

// lockData is a no-op where flock is missing; local clusters run only on
// Unix (see proc.Supported in local/internal/proc).
func lockData(string) (func(), error) { return func() {}, nil }
