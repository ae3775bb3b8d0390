package github

import (
	"crypto/sha256"
	"sync"
	"time"

	"provisioner"
)

// maxCachedLogins bounds the login cache; past it the cache starts over.
const maxCachedLogins = 4096

// loginCache remembers PAT logins by the SHA-256 of the token (never the
// token itself) for Config.LoginCache.
type loginCache struct {
	mu sync.Mutex
	m  map[[32]byte]cachedLogin
}

type cachedLogin struct {
	user    provisioner.User
	expires time.Time
}

func (c *loginCache) get(token string, now time.Time) (provisioner.User, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[sha256.Sum256([]byte(token))]
	if !ok || !now.Before(e.expires) {
		return provisioner.User{}, false
	}
	u := e.user
	u.Teams = append([]string(nil), u.Teams...)
	return u, true
}

func (c *loginCache) put(token string, u provisioner.User, until time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxCachedLogins {
		c.m = make(map[[32]byte]cachedLogin)
	}
	u.Teams = append([]string(nil), u.Teams...)
	c.m[sha256.Sum256([]byte(token))] = cachedLogin{user: u, expires: until}
}
