package github

import (
	"time"

	"provisioner"
	"provisioner/secretcache"
)

// maxCachedLogins bounds the login cache (Config.LoginCache).
const maxCachedLogins = 4096

// loginCache remembers PAT logins by the SHA-256 of the token, never the
// token itself.
type loginCache struct {
	c *secretcache.Cache[provisioner.User]
}

func (l loginCache) get(token string, now time.Time) (provisioner.User, bool) {
	u, ok := l.c.Get(secretcache.Key(token), now)
	u.Teams = append([]string(nil), u.Teams...)
	return u, ok
}

func (l loginCache) put(token string, u provisioner.User, until time.Time) {
	u.Teams = append([]string(nil), u.Teams...)
	l.c.Put(secretcache.Key(token), u, until)
}
