package sqlite

import (
	"database/sql"
	"time"

	"provisioner"
)

// timeLayout stores times as fixed-width UTC text with nanoseconds, so that
// string order is time order (RFC3339Nano trims zeros and would not sort).
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// formatTime returns t as stored; years outside 0-9999 would break the
// fixed width, and no provisioner time is ever there.
func formatTime(t time.Time) (string, error) {
	t = t.UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		return "", provisioner.Errorf(provisioner.EINVALID, "time %v is out of range", t)
	}
	return t.Format(timeLayout), nil
}

// parseTime reads a stored time back, in UTC.
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		return time.Time{}, provisioner.Wrap(provisioner.EINTERNAL, err, "stored time is malformed")
	}
	return t.UTC(), nil
}

// formatOptionalTime stores a time that may be unset: a zero time is NULL.
func formatOptionalTime(t time.Time) (any, error) {
	if t.IsZero() {
		return nil, nil
	}
	return formatTime(t)
}

// parseOptionalTime reads what formatOptionalTime stored: NULL is the zero time.
func parseOptionalTime(s sql.NullString) (time.Time, error) {
	if !s.Valid {
		return time.Time{}, nil
	}
	return parseTime(s.String)
}

// lifeTimes are the four times of a cluster's or node group's record, as
// stored: created and updated always, expires and destroy when set.
type lifeTimes struct {
	created, updated string
	expires, destroy any
}

func formatLifeTimes(created, updated, expires, destroy time.Time) (lifeTimes, error) {
	var lt lifeTimes
	var err error
	if lt.created, err = formatTime(created); err != nil {
		return lt, err
	}
	if lt.updated, err = formatTime(updated); err != nil {
		return lt, err
	}
	if lt.expires, err = formatOptionalTime(expires); err != nil {
		return lt, err
	}
	lt.destroy, err = formatOptionalTime(destroy)
	return lt, err
}

// parseLifeTimes reads back what formatLifeTimes stored.
func parseLifeTimes(created, updated string, expires, destroy sql.NullString) (c, u, e, d time.Time, err error) {
	if c, err = parseTime(created); err != nil {
		return
	}
	if u, err = parseTime(updated); err != nil {
		return
	}
	if e, err = parseOptionalTime(expires); err != nil {
		return
	}
	d, err = parseOptionalTime(destroy)
	return
}
