//go:build !unix

package jobs

func jobProcs(*jobState, string, bool) []proc.Ref { return nil }

func signalJobProc(int, bool) error { return proc.ErrUnsupported }
