//go:build unix && !linux

package local

// procIdentity uses ps(1) where there is no /proc.
func procIdentity(pid int) (string, bool, error) { return psIdentity(pid) }

// markedProcs finds nothing without /proc: only verified process groups are
// stopped.
func markedProcs(string) []procRef { return nil }
