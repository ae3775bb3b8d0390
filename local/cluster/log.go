package cluster

import (
	"io"
	"os"
	"strings"
	"unicode"
)

// Bounds of the log excerpt in a failure reason, which travels to API
// callers and event logs.
const (
	maxTailLines = 10
	maxTailBytes = 2000
)

// tailLog returns the last lines of a log, at most maxBytes, with control
// characters replaced so a process cannot forge terminal output or log
// lines through it.
func tailLog(path string, maxLines, maxBytes int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return ""
	}
	off := max(size-int64(4*maxBytes), 0)
	b := make([]byte, size-off)
	if _, err := f.ReadAt(b, off); err != nil && err != io.EOF {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\r\n"), "\n")
	if off > 0 && len(lines) > 1 {
		lines = lines[1:] // the first is probably cut
	}
	if len(lines) > maxLines {
		lines = lines[len(lines)-maxLines:]
	}
	for i, l := range lines {
		lines[i] = sanitize(l)
	}
	out := strings.TrimSpace(strings.Join(lines, "\n"))
	if len(out) > maxBytes {
		out = strings.ToValidUTF8("..."+out[len(out)-maxBytes:], "")
	}
	return out
}

func sanitize(s string) string {
	s = strings.ToValidUTF8(strings.TrimRight(s, "\r"), "?")
	return strings.Map(func(r rune) rune {
		if r != '\t' && unicode.IsControl(r) {
			return '?'
		}
		return r
	}, s)
}
