package iostreams

import "testing"

func TestTestStreams(t *testing.T) {
	ios, in, out, errOut := Test()
	if ios.In != in || ios.Out != out || ios.ErrOut != errOut {
		t.Fatal("Test's streams are not its buffers")
	}
	if ios.IsStdinTTY() || ios.IsStdoutTTY() || ios.IsStderrTTY() || ios.ProgressEnabled() || ios.ColorEnabled() {
		t.Error("test streams start as no terminal, without colour")
	}
	ios.SetStdinTTY(true)
	ios.SetStdoutTTY(true)
	ios.SetColorEnabled(true)
	if !ios.IsStdinTTY() || !ios.IsStdoutTTY() || ios.IsStderrTTY() || !ios.ColorEnabled() {
		t.Error("the setters set one stream each")
	}
	if ios.ProgressEnabled() {
		t.Error("progress follows standard error, not standard output")
	}
	ios.SetStderrTTY(true)
	if !ios.ProgressEnabled() {
		t.Error("no progress on a terminal")
	}
	ios.dumbTerm = true
	if ios.ProgressEnabled() {
		t.Error("progress on TERM=dumb")
	}
}
