package ilb

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"time"
)

// MinMajor and MinMinor are the oldest HAProxy that runs the ILB config
// with production's token checks.
const (
	MinMajor = 3
	MinMinor = 0
)

// Version is an HAProxy version, as `haproxy -v` prints it.
type Version struct {
	Major, Minor int
	Text         string // e.g. "3.0.11-9e587df"
}

func (v Version) String() string { return v.Text }

// AtLeast says whether v is major.minor or newer.
func (v Version) AtLeast(major, minor int) bool {
	return v.Major > major || (v.Major == major && v.Minor >= minor)
}

var versionRE = regexp.MustCompile(`(?m)^HA-?Proxy version ((\d+)\.(\d+)\S*)`)

// ParseVersion reads the first line of `haproxy -v`, e.g.
// "HAProxy version 3.0.11-9e587df 2025/06/02 - https://haproxy.org/" or
// "HA-Proxy version 2.6.12-1+deb12u2 2025/04/11 - https://haproxy.org/".
func ParseVersion(out string) (Version, error) {
	m := versionRE.FindStringSubmatch(out)
	if m == nil {
		return Version{}, errors.New("no HAProxy version in its -v output")
	}
	major, _ := strconv.Atoi(m[2])
	minor, _ := strconv.Atoi(m[3])
	return Version{Major: major, Minor: minor, Text: m[1]}, nil
}

// ErrTooOld is wrapped by CheckHAProxy's error for an HAProxy older than
// MinMajor.MinMinor.
var ErrTooOld = errors.New("HAProxy is too old for the ILB config")

// FindHAProxy returns path if set, else the haproxy on PATH.
func FindHAProxy(path string) (string, error) {
	if path == "" {
		path = "haproxy"
	}
	p, err := exec.LookPath(path)
	if err != nil {
		return "", fmt.Errorf("no HAProxy: %w", err)
	}
	return p, nil
}

// CheckHAProxy runs `path -v` and refuses an HAProxy older than 3.0, saying
// why.
func CheckHAProxy(ctx context.Context, path string) (Version, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "-v").Output()
	if err != nil {
		return Version{}, fmt.Errorf("%s -v: %w", path, err)
	}
	v, err := ParseVersion(string(out))
	if err != nil {
		return Version{}, fmt.Errorf("%s: %w", path, err)
	}
	if err := v.usable(); err != nil {
		return v, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

func (v Version) usable() error {
	if v.AtLeast(MinMajor, MinMinor) {
		return nil
	}
	return fmt.Errorf("%w: version %s, need >= %d.%d (production runs 3.3): before 3.0, "+
		"jwt_payload_query('$.aud') yields nothing for an array audience, so login tokens, "+
		"whose aud is an array, would never open a cluster", ErrTooOld, v.Text, MinMajor, MinMinor)
}
