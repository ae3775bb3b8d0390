package main

import (
	"strconv"
	"strings"
	"time"
)

// Retention defaults: audit entries are kept for 90 days (a quarter, for
// reviews), cluster events for 30 (a cluster's story outlives the cluster
// by weeks, not months).
const (
	defaultAuditRetention = 90 * 24 * time.Hour
	defaultEventRetention = 30 * 24 * time.Hour
)

// retention is a flag value: a Go duration, or whole days ("90d"); "0" or
// "forever" keeps records forever.
type retention time.Duration

func (r *retention) String() string {
	d := time.Duration(*r)
	switch {
	case d <= 0:
		return "forever"
	case d%(24*time.Hour) == 0:
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	return d.String()
}

func (r *retention) Set(s string) error {
	d, err := parseRetention(s)
	if err != nil {
		return err
	}
	*r = retention(d)
	return nil
}

func (r *retention) Type() string { return "duration" }

func parseRetention(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "forever" || s == "0" {
		return 0, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 1 || n > 100*365 {
			return 0, usagef("invalid retention %q: want a number of days (90d), a duration (36h) or forever", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < time.Hour {
		return 0, usagef("invalid retention %q: want a number of days (90d), a duration of at least 1h (36h) or forever", s)
	}
	return d, nil
}
