package provisioner

import (
	"context"
	"time"
)

// Session is one LOGIN: the jwt_user it issued (its "jti" is the ID) and
// what became of it. A session is live until it expires or is revoked;
// the provisioner refuses a token whose session is not live, and
// `GET /auth/revocations` tells gateways which sessions were revoked.
type Session struct {
	ID      string    `json:"id"` // the jwt_user's "jti"
	Login   string    `json:"login"`
	UID     int64     `json:"uid"`
	Level   Level     `json:"level"`
	Via     string    `json:"via,omitempty"` // "pat", "device", "actions", "static"
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"` // the token's "exp"
	// RevokedAt is when the session was revoked; zero while it is not.
	RevokedAt time.Time `json:"revoked_at,omitzero"`
	// Reason says why: "logout", "revoked by LOGIN", "membership".
	Reason string `json:"reason,omitempty"`
	// CheckedAt is the last time the user's organization membership was
	// found unchanged (at first the login itself).
	CheckedAt time.Time `json:"checked_at,omitzero"`
}

// Live tells whether the session may still be used at now.
func (s Session) Live(now time.Time) bool {
	return s.RevokedAt.IsZero() && now.Before(s.Expires)
}

// SessionStore keeps the sessions. Sessions are keyed by login and ID, so
// a user's sessions are read together; stores may delete a session once it
// has expired.
type SessionStore interface {
	// CreateSession records a new session; Login, ID, Created and Expires
	// are required (EINVALID); an ID the login already has is ECONFLICT.
	CreateSession(ctx context.Context, s Session) error
	// GetSession returns the login's session id, or ENOTFOUND.
	GetSession(ctx context.Context, login, id string) (Session, error)
	// ListSessions returns the login's sessions, newest first.
	ListSessions(ctx context.Context, login string) ([]Session, error)
	// RevokeSessions revokes, at at and for reason, the login's session id,
	// or every session of the login when id is "", and returns the sessions
	// it revoked. Sessions already revoked or expired are left as they are
	// and not returned; an id the login does not have is ENOTFOUND.
	RevokeSessions(ctx context.Context, login, id string, at time.Time, reason string) ([]Session, error)
	// CheckSession records that the login's session id passed a
	// membership check at at; a revoked session is left as it is.
	CheckSession(ctx context.Context, login, id string, at time.Time) error
	// ListRevoked returns the sessions revoked at or after since that
	// expire after now, oldest revocation first, at most limit (0: 1000).
	ListRevoked(ctx context.Context, since, now time.Time, limit int) ([]Session, error)
}
