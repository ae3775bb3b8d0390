package plan

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// version is a job version as far as selectors care: a semantic version,
// or "newest" for anything else (latest, a branch, a commit).
type version struct {
	nums   [3]int64
	pre    string // pre-release suffix; sorts before the release
	newest bool
}

var (
	jobVersionRE   = regexp.MustCompile(`^v?([0-9]{1,9})(?:\.([0-9]{1,9}))?(?:\.([0-9]{1,9}))?(?:-([0-9A-Za-z.-]+))?$`)
	boundVersionRE = regexp.MustCompile(`^v([0-9]{1,9})(?:\.([0-9]{1,9}))?(?:\.([0-9]{1,9}))?$`)
)

func parseJobVersion(s string) version {
	m := jobVersionRE.FindStringSubmatch(s)
	if m == nil {
		return version{newest: true}
	}
	var v version
	for i := range 3 {
		if m[i+1] != "" {
			v.nums[i], _ = strconv.ParseInt(m[i+1], 10, 64)
		}
	}
	v.pre = m[4]
	return v
}

func cmpVersion(a, b version) int {
	switch {
	case a.newest && b.newest:
		return 0
	case a.newest:
		return 1
	case b.newest:
		return -1
	}
	for i := range 3 {
		if a.nums[i] != b.nums[i] {
			if a.nums[i] < b.nums[i] {
				return -1
			}
			return 1
		}
	}
	switch {
	case a.pre == b.pre:
		return 0
	case a.pre == "":
		return 1
	case b.pre == "":
		return -1
	}
	return strings.Compare(a.pre, b.pre)
}

type bound struct {
	set  bool
	v    version
	incl bool
}

// selector is an interval of versions; the zero selector holds every
// version.
type selector struct {
	lo, hi bound
}

func parseSelector(s string) (selector, error) {
	var sel selector
	if strings.TrimSpace(s) == "" {
		if s != "" {
			return sel, fmt.Errorf("%q is blank", s)
		}
		return sel, nil
	}
	if len(s) > maxSelectorSize {
		return sel, fmt.Errorf("longer than %d characters", maxSelectorSize)
	}
	terms := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' })
	for _, t := range terms {
		op := ""
		for _, o := range []string{">=", "<=", "==", ">", "<", "="} {
			if strings.HasPrefix(t, o) {
				op = o
				break
			}
		}
		if op == "" {
			return sel, fmt.Errorf("%q: start each comparison with >=, >, <=, < or =", t)
		}
		m := boundVersionRE.FindStringSubmatch(t[len(op):])
		if m == nil {
			return sel, fmt.Errorf("%q: compare with a version vMAJOR[.MINOR[.PATCH]], such as v5.1", t)
		}
		var v version
		for i := range 3 {
			if m[i+1] != "" {
				v.nums[i], _ = strconv.ParseInt(m[i+1], 10, 64)
			}
		}
		switch op {
		case ">=", ">":
			sel.lo = tighterLo(sel.lo, bound{true, v, op == ">="})
		case "<=", "<":
			sel.hi = tighterHi(sel.hi, bound{true, v, op == "<="})
		default:
			sel.lo = tighterLo(sel.lo, bound{true, v, true})
			sel.hi = tighterHi(sel.hi, bound{true, v, true})
		}
	}
	if sel.empty() {
		return sel, fmt.Errorf("%q selects no version", s)
	}
	return sel, nil
}

// tighterLo is the tighter of two lower bounds: the higher.
func tighterLo(a, b bound) bound { return tighter(a, b, 1) }

// tighterHi is the tighter of two upper bounds: the lower.
func tighterHi(a, b bound) bound { return tighter(a, b, -1) }

// tighter is the tighter of two bounds, an unset one being none: the one
// further in direction dir (1 up, -1 down), or at the same version the
// exclusive one.
func tighter(a, b bound, dir int) bound {
	if !a.set {
		return b
	}
	if !b.set {
		return a
	}
	switch c := dir * cmpVersion(a.v, b.v); {
	case c > 0:
		return a
	case c < 0:
		return b
	}
	return bound{true, a.v, a.incl && b.incl}
}

func (s selector) empty() bool {
	if !s.lo.set || !s.hi.set {
		return false
	}
	c := cmpVersion(s.lo.v, s.hi.v)
	return c > 0 || c == 0 && !(s.lo.incl && s.hi.incl)
}

func (s selector) matches(v version) bool {
	if s.lo.set {
		c := cmpVersion(v, s.lo.v)
		if c < 0 || c == 0 && !s.lo.incl {
			return false
		}
	}
	if s.hi.set {
		c := cmpVersion(v, s.hi.v)
		if c > 0 || c == 0 && !s.hi.incl {
			return false
		}
	}
	return true
}

func (s selector) overlaps(o selector) bool {
	return !selector{lo: tighterLo(s.lo, o.lo), hi: tighterHi(s.hi, o.hi)}.empty()
}
