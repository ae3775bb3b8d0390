package sqlite

import (
	"database/sql"
	"time"

	"provisioner/storetime"
)

// formatOptionalTime stores a time that may be unset: a zero time is NULL.
func formatOptionalTime(t time.Time) (any, error) {
	if t.IsZero() {
		return nil, nil
	}
	return storetime.Format(t)
}

// parseOptionalTime reads what formatOptionalTime stored: NULL is the zero time.
func parseOptionalTime(s sql.NullString) (time.Time, error) {
	if !s.Valid {
		return time.Time{}, nil
	}
	return storetime.Parse(s.String)
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
	if lt.created, err = storetime.Format(created); err != nil {
		return lt, err
	}
	if lt.updated, err = storetime.Format(updated); err != nil {
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
	if c, err = storetime.Parse(created); err != nil {
		return
	}
	if u, err = storetime.Parse(updated); err != nil {
		return
	}
	if e, err = parseOptionalTime(expires); err != nil {
		return
	}
	d, err = parseOptionalTime(destroy)
	return
}
