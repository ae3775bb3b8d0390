package cmdutil

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"

	"provisioner/cmd/provisioner/internal/iostreams"
)

// Progress shows a spinner with state and elapsed time on standard error
// when it is a terminal, and one plain line per state change otherwise
// (CI logs).
type Progress struct {
	w     io.Writer
	what  string
	now   func() time.Time
	start time.Time
	last  string
	bar   *progressbar.ProgressBar
}

// NewProgress starts the progress of what, timed by now.
func NewProgress(ios *iostreams.IOStreams, now func() time.Time, what string) *Progress {
	p := &Progress{w: ios.ErrOut, what: what, now: now, start: now()}
	if ios.ProgressEnabled() {
		p.bar = progressbar.NewOptions(-1, progressbar.OptionSetWriter(p.w), progressbar.OptionSpinnerType(14),
			progressbar.OptionSetDescription(what), progressbar.OptionShowElapsedTimeOnFinish(),
			progressbar.OptionEnableColorCodes(ios.ColorEnabled()))
	}
	return p
}

// Update reports the current state.
func (p *Progress) Update(state string) {
	elapsed := p.now().Sub(p.start).Round(time.Second)
	if p.bar != nil {
		p.bar.Describe(fmt.Sprintf("%s: %s (%s)", p.what, state, elapsed))
		_ = p.bar.Add(1)
		return
	}
	if state != p.last {
		fmt.Fprintf(p.w, "%s: %s after %s\n", p.what, state, elapsed)
		p.last = state
	}
}

// Done ends the spinner's line.
func (p *Progress) Done() {
	if p.bar != nil {
		_ = p.bar.Finish()
		fmt.Fprintln(p.w)
	}
}
