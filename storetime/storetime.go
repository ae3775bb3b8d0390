// Package storetime is the text form in which both stores (SQLite and
// DynamoDB) keep times: fixed-width UTC with nanoseconds, so that string
// order is time order (RFC3339Nano trims zeros and would not sort), and a
// record reads the same in either.
package storetime

import (
	"time"

	"provisioner"
)

// Layout is the stored form of a time.
const Layout = "2006-01-02T15:04:05.000000000Z07:00"

// Format returns t as stored; years outside 0-9999 would break the fixed
// width, and no provisioner time is ever there.
func Format(t time.Time) (string, error) {
	t = t.UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		return "", provisioner.Errorf(provisioner.EINVALID, "time %v is out of range", t)
	}
	return t.Format(Layout), nil
}

// Parse reads a stored time back, in UTC.
func Parse(s string) (time.Time, error) {
	t, err := time.Parse(Layout, s)
	if err != nil {
		return time.Time{}, provisioner.Wrap(provisioner.EINTERNAL, err, "stored time is malformed")
	}
	return t.UTC(), nil
}
