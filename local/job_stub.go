//go:build !unix

package local

func jobProcs(*jobState, string, bool) []procRef { return nil }

func signalJobProc(int, bool) error { return errUnsupported }
