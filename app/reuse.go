package app

import (
	"context"
	"slices"
	"time"

	"provisioner"
	"provisioner/secretcache"
)

// maxReusedLogins bounds the memory of recent PAT logins (Config.LoginReuse).
const maxReusedLogins = 4096

// loginReuse answers a PAT login repeated within a short window with the
// jwt_user the first one issued, so a script or workflow that logs in before
// every call does not cost a signature and a session each time. It keeps
// only tokens whose audience is every cluster ("*"): their claims do not
// depend on which clusters exist, so the answer is the one a new login would
// give, bar iat, exp and jti. A reused token's session is checked as any
// bearer's is (revoked or expired: a new login).
type loginReuse struct {
	window time.Duration // 0: never reused
	c      *secretcache.Cache[Login]
}

func newLoginReuse(window time.Duration) loginReuse {
	return loginReuse{window: window, c: secretcache.New[Login](maxReusedLogins)}
}

// reused returns the login issued lately for the credential id, if its
// session is still good.
func (a *App) reused(ctx context.Context, id string) (Login, bool) {
	if a.reuse.window <= 0 {
		return Login{}, false
	}
	l, ok := a.reuse.c.Get(secretcache.Key(id), a.now())
	if !ok || a.checkSession(ctx, l.Claims) != nil {
		return Login{}, false
	}
	// Its key may have been revoked since (a verification is remembered,
	// so this costs no signature check). A key merely rotated still
	// verifies: the token stays the answer until the window ends.
	if _, err := a.tokens.VerifyUser(ctx, l.Token); err != nil {
		return Login{}, false
	}
	return l, true
}

// keep remembers a login just issued for the credential id.
func (a *App) keep(id string, l Login) {
	if a.reuse.window <= 0 || !slices.Contains(l.Claims.Audience, provisioner.AudienceAll) {
		return
	}
	a.reuse.c.Put(secretcache.Key(id), l, a.now().Add(a.reuse.window))
}
