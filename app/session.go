package app

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"provisioner"
)

// Defaults of the session settings in Config.
const (
	// DefaultSessionCacheTTL is how long a process trusts what it read of
	// a session: the bound on how late another process (another Lambda
	// instance) sees a revocation. A revocation in this process is seen at
	// once.
	DefaultSessionCacheTTL = 5 * time.Second
	// DefaultMembershipRecheck is how often a session's organization
	// membership is looked up again, when a MembershipChecker is set.
	DefaultMembershipRecheck = 10 * time.Minute
	// recheckRetry is how long a failed re-check waits before the next.
	recheckRetry = time.Minute
	// maxCachedSessions bounds the session cache.
	maxCachedSessions = 10000
	// maxRevocations bounds one answer of the revocation feed.
	maxRevocations = 1000
)

// sessionCache keeps recently read sessions by login and ID.
type sessionCache struct {
	mu sync.Mutex
	m  map[string]cachedSession
}

type cachedSession struct {
	s         provisioner.Session
	until     time.Time // trust s until then
	nextCheck time.Time // no membership re-check before then
}

func sessionKey(login, id string) string { return login + "\x00" + id }

func (c *sessionCache) get(login, id string, now time.Time) (cachedSession, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[sessionKey(login, id)]
	if !ok || !now.Before(e.until) {
		return cachedSession{}, false
	}
	return e, true
}

func (c *sessionCache) put(e cachedSession) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxCachedSessions {
		c.m = make(map[string]cachedSession)
	}
	k := sessionKey(e.s.Login, e.s.ID)
	if old, ok := c.m[k]; ok && old.nextCheck.After(e.nextCheck) {
		e.nextCheck = old.nextCheck
	}
	c.m[k] = e
}

// claimCheck reports whether this caller should re-check the session now,
// and keeps others from doing so for recheckRetry.
func (c *sessionCache) claimCheck(login, id string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := sessionKey(login, id)
	e, ok := c.m[k]
	if ok && now.Before(e.nextCheck) {
		return false
	}
	if ok {
		e.nextCheck = now.Add(recheckRetry)
		c.m[k] = e
	}
	return true
}

// forget drops the login's sessions, so a revocation here is seen at once.
func (c *sessionCache) forget(login string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	prefix := login + "\x00"
	for k := range c.m {
		if strings.HasPrefix(k, prefix) {
			delete(c.m, k)
		}
	}
}

// startSession records the session of a jwt_user just issued.
func (a *App) startSession(ctx context.Context, u provisioner.User, claims provisioner.Claims) error {
	now := a.now().UTC()
	s := provisioner.Session{
		ID: claims.ID, Login: u.Login, UID: u.ID, Level: u.Level, Via: u.Via,
		Created: claims.IssuedAt, Expires: claims.ExpiresAt, CheckedAt: now,
	}
	if err := a.store.CreateSession(ctx, s); err != nil {
		return err
	}
	a.sessions.put(cachedSession{s: s, until: now.Add(a.sessionTTL)})
	return nil
}

// checkSession refuses a jwt_user whose session is revoked or unknown (a
// token issued before sessions existed, or by another provisioner sharing
// the key), and re-checks the user's membership when it is due.
func (a *App) checkSession(ctx context.Context, claims provisioner.Claims) error {
	if claims.ID == "" {
		return provisioner.Errorf(provisioner.EUNAUTHORIZED, "the token has no session; log in again")
	}
	now := a.now().UTC()
	e, ok := a.sessions.get(claims.Subject, claims.ID, now)
	if !ok {
		s, err := a.store.GetSession(ctx, claims.Subject, claims.ID)
		if provisioner.ErrorCode(err) == provisioner.ENOTFOUND {
			return provisioner.Errorf(provisioner.EUNAUTHORIZED, "the token's session is unknown; log in again")
		}
		if err != nil {
			return err
		}
		e = cachedSession{s: s, until: now.Add(a.sessionTTL)}
		a.sessions.put(e)
	}
	if !e.s.RevokedAt.IsZero() {
		return provisioner.Errorf(provisioner.EUNAUTHORIZED, "the session was revoked (%s); log in again", e.s.Reason)
	}
	if !now.Before(e.s.Expires) {
		return provisioner.Errorf(provisioner.EUNAUTHORIZED, "the session has expired; log in again")
	}
	return a.recheck(ctx, e.s, now)
}

// recheck looks up the membership of a person's session that was last
// checked at least membershipEvery ago, and revokes the session when the
// user's level fell below the token's. A failed lookup keeps the session
// (a GitHub outage must not log everybody out) and is retried a minute
// later; workflows (GitHub Actions) and static identities get their level
// from configuration, not membership, and are not re-checked.
func (a *App) recheck(ctx context.Context, s provisioner.Session, now time.Time) error {
	if a.membership == nil || a.membershipEvery <= 0 || (s.Via != "pat" && s.Via != "device" && s.Via != "oauth") {
		return nil
	}
	if now.Sub(s.CheckedAt) < a.membershipEvery || !a.sessions.claimCheck(s.Login, s.ID, now) {
		return nil
	}
	cur, err := a.membership.CheckMembership(ctx, provisioner.User{Login: s.Login, ID: s.UID, Level: s.Level, Via: s.Via})
	if err != nil {
		a.log.Warn("membership re-check failed; the session stays", "login", s.Login, "err", err)
		return nil
	}
	if cur.Level >= s.Level {
		if err := a.store.CheckSession(ctx, s.Login, s.ID, now); err != nil {
			a.log.Warn("cannot record a membership re-check", "login", s.Login, "err", err)
			return nil
		}
		s.CheckedAt = now
		a.sessions.put(cachedSession{s: s, until: now.Add(a.sessionTTL), nextCheck: now})
		return nil
	}
	reason := "membership: level " + cur.Level.String()
	_, err = a.revoke(ctx, s.Login, s.ID, reason)
	a.audit(ctx, Caller{User: provisioner.User{Login: s.Login, ID: s.UID, Level: s.Level}}, "session.recheck", s.Login, err, reason)
	if err != nil {
		return err
	}
	return provisioner.Errorf(provisioner.EUNAUTHORIZED, "the session was revoked (%s); log in again", reason)
}

// revoke revokes the login's session id (every session when id is ""),
// drops what this process remembers of them and the login's reused
// jwt_cluster tokens, and revokes the OAuth grants (refresh tokens) whose
// latest access token was one of them.
func (a *App) revoke(ctx context.Context, login, id, reason string) ([]provisioner.Session, error) {
	out, err := a.store.RevokeSessions(ctx, login, id, a.now().UTC(), reason)
	a.sessions.forget(login)
	if f, ok := a.tokens.(interface{ Forget(login string) }); ok {
		f.Forget(login)
	}
	if a.OAuthEnabled() {
		// The OAuth grants whose access token it was end with the session.
		err = errors.Join(err, a.revokeGrants(ctx, login, id, reason))
	}
	return out, err
}

// Logout revokes the caller's session: its login token stops working at
// the provisioner at once, and at gateways at their next poll of the
// revocation feed.
func (a *App) Logout(ctx context.Context, c Caller) error {
	var err error
	if c.User.Login == "" || c.User.Session == "" {
		err = provisioner.Errorf(provisioner.EUNAUTHORIZED, "logout requires a login")
	} else {
		_, err = a.revoke(ctx, c.User.Login, c.User.Session, "logout")
	}
	a.audit(ctx, c, "logout", "", err, "")
	return err
}

// RevokeUser is an admin's revocation of every session of login; it
// returns how many were live.
func (a *App) RevokeUser(ctx context.Context, c Caller, login string) (int, error) {
	n, err := a.revokeUser(ctx, c, login)
	a.audit(ctx, c, "session.revoke", login, err, "")
	return n, err
}

func (a *App) revokeUser(ctx context.Context, c Caller, login string) (int, error) {
	if err := requireLevel(c.User, provisioner.LevelAdmin, "revoking sessions"); err != nil {
		return 0, err
	}
	if err := validLogin(login); err != nil {
		return 0, err
	}
	out, err := a.revoke(ctx, login, "", "revoked by "+c.User.Login)
	return len(out), err
}

// Sessions lists login's sessions: the user's own, or anyone's for admins.
func (a *App) Sessions(ctx context.Context, c Caller, login string) ([]provisioner.Session, error) {
	if c.User.Login != login || login == "" {
		if err := requireLevel(c.User, provisioner.LevelAdmin, "listing another user's sessions"); err != nil {
			return nil, err
		}
	}
	if err := validLogin(login); err != nil {
		return nil, err
	}
	return a.store.ListSessions(ctx, login)
}

func validLogin(login string) error {
	if login == "" || len(login) > 100 {
		return provisioner.Errorf(provisioner.EINVALID, "invalid GitHub login %q", login)
	}
	for _, r := range login {
		if !(r == '-' || r == '_' || r == '.' || r == '[' || r == ']' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return provisioner.Errorf(provisioner.EINVALID, "invalid GitHub login %q", login)
		}
	}
	return nil
}

// Revocations is the public revocation feed gateways poll: the sessions
// revoked since a cursor and still unexpired (their IDs and expiry only),
// and the key IDs that may verify tokens now; a gateway drops what it
// cached of the sessions, and of tokens signed by any other key.
type Revocations struct {
	Sessions []RevokedSession `json:"sessions"`
	Keys     []string         `json:"keys"`
	// Cursor is the since of the next poll: the last revocation's time,
	// or the request's since when there was none.
	Cursor time.Time `json:"cursor"`
	// More says the answer was cut at its limit: poll again at once.
	More bool `json:"more,omitempty"`
}

// RevokedSession is one entry of the feed.
type RevokedSession struct {
	ID        string    `json:"jti"`
	ExpiresAt time.Time `json:"exp"`
	RevokedAt time.Time `json:"revoked_at"`
}

// KeyLister lists the keys that verify tokens (provisioner.KeySet does).
type KeyLister interface {
	PublicKeys(ctx context.Context) ([]provisioner.PublicKey, error)
}

// RevocationFeed answers GET /auth/revocations?since=.
func (a *App) RevocationFeed(ctx context.Context, since time.Time) (Revocations, error) {
	now := a.now().UTC()
	list, err := a.store.ListRevoked(ctx, since, now, maxRevocations)
	if err != nil {
		return Revocations{}, err
	}
	r := Revocations{Sessions: []RevokedSession{}, Keys: []string{}, Cursor: since.UTC(), More: len(list) == maxRevocations}
	for _, s := range list {
		r.Sessions = append(r.Sessions, RevokedSession{ID: s.ID, ExpiresAt: s.Expires, RevokedAt: s.RevokedAt})
		if s.RevokedAt.After(r.Cursor) {
			r.Cursor = s.RevokedAt
		}
	}
	if a.keys != nil {
		keys, err := a.keys.PublicKeys(ctx)
		if err != nil {
			return Revocations{}, err
		}
		for _, k := range keys {
			r.Keys = append(r.Keys, k.ID)
		}
	}
	return r, nil
}
