package main

import (
	"strconv"
	"time"

	"provisioner"
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

// parseRetention is provisioner.ParseRetention, its errors usage errors.
func parseRetention(s string) (time.Duration, error) {
	d, err := provisioner.ParseRetention(s)
	if err != nil {
		return 0, usageError{err}
	}
	return d, nil
}
