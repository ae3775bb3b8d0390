package provisioner

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseRetention reads how long records are kept: whole days ("90d"), a Go
// duration of at least an hour ("36h"), or "forever" (or "0"), returned as 0.
func ParseRetention(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "forever" || s == "0" {
		return 0, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 1 || n > 100*365 {
			return 0, fmt.Errorf("invalid retention %q: want a number of days (90d), a duration (36h) or forever", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < time.Hour {
		return 0, fmt.Errorf("invalid retention %q: want a number of days (90d), a duration of at least 1h (36h) or forever", s)
	}
	return d, nil
}
