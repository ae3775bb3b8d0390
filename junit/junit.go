// Package junit reads JUnit XML test reports, as written by pytest
// (--junitxml), jest-junit and most other test runners, into test counts.
//
// Both root forms are accepted: <testsuites> holding <testsuite> elements,
// and a lone <testsuite>. Suites may nest. Every <testcase> counts once as a
// test, and as a failure, an error or a skip when it holds a <failure>,
// <error> or <skipped> element. The totals that the report itself states in
// the attributes of its root (or of the root's suites) are read too, and the
// larger of stated and counted wins for each number: a report can make a job
// fail by what it says or by what it holds, never pass by leaving something
// out.
//
// Anything that is not a well-formed JUnit report (another XML document,
// truncated XML, a negative or non-numeric total, more than MaxSize bytes) is
// an error; Parse never panics.
package junit

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxSize is the largest report Parse reads (64 MiB).
const MaxSize = 64 << 20

// Counts are the numbers of a report, or of several added together.
type Counts struct {
	Tests    int `json:"tests"`
	Failures int `json:"failures"`
	Errors   int `json:"errors"`
	Skipped  int `json:"skipped"`
}

// Add returns the sum of c and o; sums saturate instead of overflowing.
func (c Counts) Add(o Counts) Counts {
	return Counts{
		Tests:    satAdd(c.Tests, o.Tests),
		Failures: satAdd(c.Failures, o.Failures),
		Errors:   satAdd(c.Errors, o.Errors),
		Skipped:  satAdd(c.Skipped, o.Skipped),
	}
}

// Failed reports whether any test failed or erred.
func (c Counts) Failed() bool { return c.Failures > 0 || c.Errors > 0 }

func (c Counts) String() string {
	return fmt.Sprintf("%d tests, %d failures, %d errors, %d skipped", c.Tests, c.Failures, c.Errors, c.Skipped)
}

// ErrNotJUnit is returned (wrapped) for well-formed XML whose root is
// neither <testsuites> nor <testsuite>.
var ErrNotJUnit = errors.New("not a JUnit report")

// ParseBytes is Parse of a byte slice.
func ParseBytes(b []byte) (Counts, error) { return Parse(bytes.NewReader(b)) }

// Bounds on the failed test names a Report keeps.
const (
	MaxFailedNames = 50  // names kept per report (and per step, by callers that merge)
	MaxNameLength  = 200 // bytes of a name kept; longer names end in "..."
)

// Report is a report's counts and the names of its failed or erroneous
// tests, in document order: "classname.name" (the name alone when it has
// no classname or already starts with it, as jest-junit's do), at most MaxFailedNames of them, each cut to
// MaxNameLength bytes. FailedTruncated says names were left out.
type Report struct {
	Counts
	FailedNames     []string
	FailedTruncated bool
}

// Parse reads one JUnit XML report.
func Parse(r io.Reader) (Counts, error) {
	rep, err := ParseReport(r)
	return rep.Counts, err
}

// ParseReport is Parse that also keeps the names of the failed tests.
func ParseReport(r io.Reader) (Report, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxSize+1))
	if err != nil {
		return Report{}, err
	}
	if len(data) > MaxSize {
		return Report{}, fmt.Errorf("JUnit report larger than %d bytes", MaxSize)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return Report{}, fmt.Errorf("%w: the file is empty", ErrNotJUnit)
	}
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	d.CharsetReader = charsetReader

	var (
		counted Counts // from <testcase> elements
		stated  Counts // from the attributes of the root (or its suites)
		depth   int    // element depth; the root is 1
		root    string
		// rootStated: the root stated its own totals; otherwise the
		// totals of the root's direct child suites are summed.
		rootStated bool
		// inCase is the depth of the open <testcase>, 0 outside one;
		// seen* say what that test case holds so far.
		inCase                           int
		seenFailure, seenError, seenSkip bool
		caseName                         string
		failed                           []string
		failedCut                        bool
	)
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return Report{}, fmt.Errorf("malformed JUnit XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			name := t.Name.Local
			if depth == 1 {
				if name != "testsuites" && name != "testsuite" {
					return Report{}, fmt.Errorf("%w: the root element is <%s>", ErrNotJUnit, truncate(name, 40))
				}
				root = name
				c, found, err := attrCounts(t.Attr)
				if err != nil {
					return Report{}, err
				}
				stated, rootStated = c, found
				continue
			}
			switch {
			case name == "testsuite" && depth == 2 && root == "testsuites" && !rootStated:
				c, _, err := attrCounts(t.Attr)
				if err != nil {
					return Report{}, err
				}
				stated = stated.Add(c)
			case name == "testsuite":
				// Nested deeper: its totals are part of its parent's;
				// still check them.
				if _, _, err := attrCounts(t.Attr); err != nil {
					return Report{}, err
				}
			case name == "testcase" && inCase == 0:
				inCase = depth
				seenFailure, seenError, seenSkip = false, false, false
				caseName = testName(t.Attr)
			case inCase > 0 && depth == inCase+1:
				switch name {
				case "failure":
					seenFailure = true
				case "error":
					seenError = true
				case "skipped":
					seenSkip = true
				}
			}
		case xml.EndElement:
			if inCase > 0 && depth == inCase {
				inCase = 0
				counted.Tests = satAdd(counted.Tests, 1)
				if seenFailure {
					counted.Failures = satAdd(counted.Failures, 1)
				}
				if seenError {
					counted.Errors = satAdd(counted.Errors, 1)
				}
				if seenFailure || seenError {
					if len(failed) < MaxFailedNames {
						failed = append(failed, caseName)
					} else {
						failedCut = true
					}
				}
				if seenSkip && !seenFailure && !seenError {
					counted.Skipped = satAdd(counted.Skipped, 1)
				}
			}
			depth--
		}
	}
	if root == "" {
		return Report{}, fmt.Errorf("%w: no root element", ErrNotJUnit)
	}
	return Report{Counts: Counts{
		Tests:    max(counted.Tests, stated.Tests),
		Failures: max(counted.Failures, stated.Failures),
		Errors:   max(counted.Errors, stated.Errors),
		Skipped:  max(counted.Skipped, stated.Skipped),
	}, FailedNames: failed, FailedTruncated: failedCut}, nil
}

// testName is a test case's "classname.name", or the one of them it has.
func testName(attrs []xml.Attr) string {
	var class, name string
	for _, a := range attrs {
		if a.Name.Space != "" {
			continue
		}
		switch a.Name.Local {
		case "classname":
			class = strings.TrimSpace(a.Value)
		case "name":
			name = strings.TrimSpace(a.Value)
		}
	}
	switch {
	case class != "" && name != "" && !strings.HasPrefix(name, class):
		// jest-junit repeats the class in the name; pytest does not.
		name = class + "." + name
	case name == "":
		name = class
	}
	if name == "" {
		name = "(unnamed test)"
	}
	return CutName(name)
}

// CutName cuts a test name to MaxNameLength bytes, on a rune boundary.
func CutName(s string) string {
	if len(s) <= MaxNameLength {
		return s
	}
	n := MaxNameLength - 3
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

// attrCounts reads the tests, failures, errors and skipped (or skips, as
// some writers spell it) attributes; found says whether one was present.
func attrCounts(attrs []xml.Attr) (c Counts, found bool, err error) {
	for _, a := range attrs {
		if a.Name.Space != "" {
			continue
		}
		var dst *int
		switch a.Name.Local {
		case "tests":
			dst = &c.Tests
		case "failures":
			dst = &c.Failures
		case "errors":
			dst = &c.Errors
		case "skipped", "skips":
			dst = &c.Skipped
		default:
			continue
		}
		v := strings.TrimSpace(a.Value)
		n, perr := strconv.ParseInt(v, 10, 64)
		if perr != nil || n < 0 {
			// Some writers state totals as "1.0"; accept integral floats.
			f, ferr := strconv.ParseFloat(v, 64)
			if ferr != nil || f < 0 || f != math.Trunc(f) || math.IsInf(f, 0) {
				return Counts{}, false, fmt.Errorf("malformed JUnit XML: attribute %s=%q is not a count", a.Name.Local, truncate(a.Value, 40))
			}
			if f > math.MaxInt32 {
				f = math.MaxInt32
			}
			n = int64(f)
		}
		n = min(n, math.MaxInt32)
		*dst = max(*dst, int(n))
		found = true
	}
	return c, found, nil
}

// charsetReader accepts the encodings a JUnit writer declares in practice
// for UTF-8 content; anything else is refused rather than misread.
func charsetReader(label string, input io.Reader) (io.Reader, error) {
	switch strings.ToLower(strings.TrimSpace(label)) {
	case "utf-8", "utf8", "us-ascii", "ascii":
		return input, nil
	}
	return nil, fmt.Errorf("unsupported encoding %q", truncate(label, 40))
}

func satAdd(a, b int) int {
	if b > 0 && a > math.MaxInt-b {
		return math.MaxInt
	}
	return a + b
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
