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
