package junit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// pytestReport is what pytest 8 writes with --junitxml (xunit2).
const pytestReport = `<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests"><testsuite name="pytest" errors="1" failures="1" skipped="1" tests="5" time="0.412" timestamp="2026-08-01T10:00:00.000000+00:00" hostname="h"><testcase classname="tests.test_api" name="test_ok" time="0.001" /><testcase classname="tests.test_api" name="test_ok2" time="0.001" /><testcase classname="tests.test_api" name="test_bad" time="0.002"><failure message="assert 1 == 2">def test_bad():
&gt;       assert 1 == 2
E       assert 1 == 2</failure></testcase><testcase classname="tests.test_api" name="test_skip" time="0.000"><skipped type="pytest.skip" message="no cluster">/x.py:3: no cluster</skipped></testcase><testcase classname="tests.test_api" name="test_fixture" time="0.000"><error message="failed on setup with &quot;RuntimeError&quot;">RuntimeError</error></testcase></testsuite></testsuites>`

// pytestLegacy is the older pytest form with a lone <testsuite> root.
const pytestLegacy = `<?xml version="1.0" encoding="utf-8"?>
<testsuite errors="0" failures="0" name="pytest" skipped="0" tests="2" time="0.1">
  <testcase classname="t" file="t.py" line="1" name="a" time="0.0"></testcase>
  <testcase classname="t" file="t.py" line="4" name="b" time="0.0"><system-out>hello</system-out></testcase>
</testsuite>`

// jestReport is what jest-junit writes.
const jestReport = `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="jest tests" tests="3" failures="1" errors="0" time="1.234">
  <testsuite name="sliderule api" errors="0" failures="1" skipped="0" timestamp="2026-08-01T10:00:00" time="1.1" tests="2">
    <testcase classname="sliderule api version" name="sliderule api version" time="0.5">
    </testcase>
    <testcase classname="sliderule api time" name="sliderule api time" time="0.6">
      <failure>Error: expect(received).toBe(expected)</failure>
    </testcase>
  </testsuite>
  <testsuite name="other" errors="0" failures="0" skipped="1" timestamp="2026-08-01T10:00:01" time="0.1" tests="1">
    <testcase classname="other skipped" name="other skipped" time="0">
      <skipped/>
    </testcase>
  </testsuite>
</testsuites>`

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want Counts
	}{
		{"pytest", pytestReport, Counts{Tests: 5, Failures: 1, Errors: 1, Skipped: 1}},
		{"pytest legacy root", pytestLegacy, Counts{Tests: 2}},
		{"jest-junit", jestReport, Counts{Tests: 3, Failures: 1, Skipped: 1}},
		{"empty suites", `<testsuites/>`, Counts{}},
		{"counted beats stated", `<testsuite tests="1" failures="0"><testcase name="a"><failure/></testcase><testcase name="b"/></testsuite>`,
			Counts{Tests: 2, Failures: 1}},
		{"stated beats counted", `<testsuites failures="3"><testsuite><testcase name="a"/></testsuite></testsuites>`,
			Counts{Tests: 1, Failures: 3}},
		{"child suites summed when the root states nothing", `<testsuites><testsuite tests="2" errors="1"/><testsuite tests="3" failures="2"/></testsuites>`,
			Counts{Tests: 5, Failures: 2, Errors: 1}},
		{"nested suites", `<testsuites><testsuite><testsuite><testcase/><testcase><error/></testcase></testsuite></testsuite></testsuites>`,
			Counts{Tests: 2, Errors: 1}},
		{"failure and error in one case", `<testsuite><testcase><failure/><error/><skipped/></testcase></testsuite>`,
			Counts{Tests: 1, Failures: 1, Errors: 1}},
		{"nested elements inside failure do not count", `<testsuite><testcase><system-out><failure/></system-out></testcase></testsuite>`,
			Counts{Tests: 1}},
		{"float totals", `<testsuite tests="2.0" failures="1.0"/>`, Counts{Tests: 2, Failures: 1}},
		{"skips spelling", `<testsuite tests="2" skips="1"/>`, Counts{Tests: 2, Skipped: 1}},
		{"ascii declaration", `<?xml version="1.0" encoding="US-ASCII"?><testsuite tests="1"/>`, Counts{Tests: 1}},
		{"huge totals saturate", `<testsuite tests="99999999999999999999999" failures="1"/>`, Counts{Tests: 2147483647, Failures: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseBytes([]byte(tc.in))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got != tc.want {
				t.Fatalf("Parse = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseRefusesGarbage(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"empty", ""},
		{"blank", "  \n\t"},
		{"not xml", "PASSED 3 tests"},
		{"json", `{"tests": 3}`},
		{"html", `<html><body>502 Bad Gateway</body></html>`},
		{"truncated", `<testsuites><testsuite tests="3"><testcase name="a">`},
		{"mismatched", `<testsuite></testsuites>`},
		{"negative total", `<testsuite tests="-1"/>`},
		{"word total", `<testsuite failures="many"/>`},
		{"nan total", `<testsuite failures="NaN"/>`},
		{"fraction total", `<testsuite failures="0.5"/>`},
		{"bad total in nested suite", `<testsuites tests="1"><testsuite><testsuite errors="x"/></testsuite></testsuites>`},
		{"latin-1", `<?xml version="1.0" encoding="ISO-8859-1"?><testsuite/>`},
		{"text only", `<?xml version="1.0"?>`},
		{"entity bomb", `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]><testsuite name="&b;"/>`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseBytes([]byte(tc.in))
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, want an error", tc.in, c)
			}
		})
	}
	if _, err := ParseBytes([]byte(`<report/>`)); !errors.Is(err, ErrNotJUnit) {
		t.Fatalf("wrong root: %v, want ErrNotJUnit", err)
	}
}

func TestParseTooLarge(t *testing.T) {
	r := strings.NewReader("<testsuite>" + strings.Repeat(" ", MaxSize) + "</testsuite>")
	if _, err := Parse(r); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("Parse of an over-large report: %v", err)
	}
}

func TestAddSaturates(t *testing.T) {
	big := Counts{Tests: int(^uint(0) >> 1)}
	if got := big.Add(Counts{Tests: 5, Failures: 1}); got.Tests != big.Tests || got.Failures != 1 {
		t.Fatalf("Add = %+v", got)
	}
	if !(Counts{Errors: 1}).Failed() || (Counts{Tests: 3, Skipped: 3}).Failed() {
		t.Fatal("Failed is wrong")
	}
}

// TestSeedCorpus makes sure the checked-in fuzz corpus parses as the fuzz
// target expects (it also runs as part of FuzzParse without -fuzz).
func TestSeedCorpus(t *testing.T) {
	ents, err := os.ReadDir(filepath.Join("testdata", "fuzz", "FuzzParse"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) < 10 {
		t.Fatalf("only %d corpus files", len(ents))
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{pytestReport, pytestLegacy, jestReport, `<testsuites/>`, `<testsuite tests="1"><testcase><failure/></testcase></testsuite>`, "", "garbage"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseBytes(b)
		if err != nil {
			if c != (Counts{}) {
				t.Fatalf("error %v with counts %+v", err, c)
			}
			return
		}
		if c.Tests < 0 || c.Failures < 0 || c.Errors < 0 || c.Skipped < 0 {
			t.Fatalf("negative counts %+v", c)
		}
		// Parsing is deterministic.
		if c2, err := ParseBytes(b); err != nil || c2 != c {
			t.Fatalf("second parse %+v, %v; first %+v", c2, err, c)
		}
	})
}

func TestParseReportFailedNames(t *testing.T) {
	doc := `<testsuites><testsuite name="s">
	<testcase classname="tests.test_a" name="test_ok"/>
	<testcase classname="tests.test_a" name="test_fails"><failure message="x"/></testcase>
	<testcase name="bare_error"><error/></testcase>
	<testcase classname="only.class"><failure/></testcase>
	<testcase classname="tests.test_a" name="test_skip"><skipped/></testcase>
	</testsuite></testsuites>`
	rep, err := ParseReport(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"tests.test_a.test_fails", "bare_error", "only.class"}
	if !slices.Equal(rep.FailedNames, want) || rep.FailedTruncated {
		t.Errorf("failed names %q (truncated %v), want %q", rep.FailedNames, rep.FailedTruncated, want)
	}
	if rep.Counts != (Counts{Tests: 5, Failures: 2, Errors: 1, Skipped: 1}) {
		t.Errorf("counts %v", rep.Counts)
	}
	rep, err = ParseReport(strings.NewReader(jestReport))
	if err != nil || !slices.Equal(rep.FailedNames, []string{"sliderule api time"}) {
		t.Errorf("jest: %q, %v", rep.FailedNames, err)
	}
}

func TestParseReportBoundsNames(t *testing.T) {
	var b strings.Builder
	b.WriteString("<testsuite>")
	long := strings.Repeat("é", MaxNameLength)
	for i := range MaxFailedNames + 5 {
		fmt.Fprintf(&b, `<testcase classname="c" name="%s%d"><failure/></testcase>`, long, i)
	}
	b.WriteString("</testsuite>")
	rep, err := ParseReport(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.FailedNames) != MaxFailedNames || !rep.FailedTruncated || rep.Failures != MaxFailedNames+5 {
		t.Fatalf("%d names, truncated %v, %d failures", len(rep.FailedNames), rep.FailedTruncated, rep.Failures)
	}
	for _, n := range rep.FailedNames {
		if len(n) > MaxNameLength || !utf8.ValidString(n) || !strings.HasSuffix(n, "...") {
			t.Fatalf("name %q: %d bytes", n, len(n))
		}
	}
}
