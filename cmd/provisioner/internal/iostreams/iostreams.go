// Package iostreams is the CLI's standard input, output and error, with
// what is known about them (terminals, colour), so that commands choose
// between people's output and scripts' output in one place and tests can
// pretend to be a terminal.
package iostreams

import (
	"bytes"
	"io"
	"os"

	"golang.org/x/term"
)

// IOStreams are a command's input and outputs.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	stdinTTY, stdoutTTY, stderrTTY bool
	dumbTerm                       bool // TERM=dumb: no cursor movement
	colorEnabled                   bool
}

// System returns the process's streams, with terminals detected on their
// file descriptors and colour off under NO_COLOR (no-color.org).
func System() *IOStreams {
	return &IOStreams{
		In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr,
		stdinTTY: isTerminal(os.Stdin), stdoutTTY: isTerminal(os.Stdout), stderrTTY: isTerminal(os.Stderr),
		dumbTerm:     os.Getenv("TERM") == "dumb",
		colorEnabled: os.Getenv("NO_COLOR") == "",
	}
}

// Test returns streams on buffers: no terminal, no colour, until a test
// says otherwise with the setters.
func Test() (ios *IOStreams, in, out, errOut *bytes.Buffer) {
	in, out, errOut = &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: in, Out: out, ErrOut: errOut}, in, out, errOut
}

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// IsStdinTTY reports whether standard input is a terminal.
func (s *IOStreams) IsStdinTTY() bool { return s.stdinTTY }

// IsStdoutTTY reports whether standard output is a terminal: tables are
// then aligned under a header, else bare tab-separated rows for scripts.
func (s *IOStreams) IsStdoutTTY() bool { return s.stdoutTTY }

// IsStderrTTY reports whether standard error is a terminal.
func (s *IOStreams) IsStderrTTY() bool { return s.stderrTTY }

// SetStdinTTY overrides the detection (tests).
func (s *IOStreams) SetStdinTTY(v bool) { s.stdinTTY = v }

// SetStdoutTTY overrides the detection (tests).
func (s *IOStreams) SetStdoutTTY(v bool) { s.stdoutTTY = v }

// SetStderrTTY overrides the detection (tests).
func (s *IOStreams) SetStderrTTY(v bool) { s.stderrTTY = v }

// ProgressEnabled reports whether progress may be drawn in place on
// standard error: a terminal that can move its cursor. Elsewhere (CI logs)
// progress is one plain line per change.
func (s *IOStreams) ProgressEnabled() bool { return s.stderrTTY && !s.dumbTerm }

// ColorEnabled reports whether progress may use colour.
func (s *IOStreams) ColorEnabled() bool { return s.colorEnabled }

// SetColorEnabled overrides NO_COLOR (tests).
func (s *IOStreams) SetColorEnabled(v bool) { s.colorEnabled = v }
