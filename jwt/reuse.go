package jwt

import (
	"strconv"
	"strings"
	"sync"
	"time"

	"provisioner"
)

// reuseCacheSize bounds the jwt_cluster reuse cache: at most this many
// (user, cluster, key) tokens are kept; a full cache drops expired entries,
// then everything, so memory stays bounded whatever callers do.
const reuseCacheSize = 10000

// reuseCache keeps recently issued jwt_cluster tokens by everything that
// goes into them but the times and the id.
type reuseCache struct {
	mu  sync.Mutex
	max int
	m   map[string]reused
}

type reused struct {
	token  string
	claims provisioner.Claims
}

func newReuseCache(max int) *reuseCache {
	return &reuseCache{max: max, m: make(map[string]reused)}
}

// reuseKey names a token by its subject's identity (every claim taken from
// the user), its cluster and the signing key.
func reuseKey(u provisioner.User, cluster, kid string) string {
	var b strings.Builder
	// The org roles are part of the key: an affiliation granted or taken
	// away changes the token's org_roles, which the gateway checks.
	roles := strings.Join(provisioner.OrgRoles(u), ",")
	for _, s := range []string{u.Login, strconv.FormatInt(u.ID, 10), u.Level.String(), u.Org, roles, cluster, kid, u.Session} {
		b.WriteString(strconv.Quote(s))
	}
	return b.String()
}

// get returns a token that has at least fresh left before it expires.
func (c *reuseCache) get(key string, now time.Time, fresh time.Duration) (string, provisioner.Claims, bool) {
	c.mu.Lock()
	r, ok := c.m[key]
	c.mu.Unlock()
	if !ok || r.claims.ExpiresAt.Sub(now) < fresh || now.Before(r.claims.IssuedAt) {
		return "", provisioner.Claims{}, false
	}
	return r.token, cloneClaims(r.claims), true
}

func (c *reuseCache) put(key, token string, claims provisioner.Claims, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		for k, r := range c.m {
			if !r.claims.ExpiresAt.After(now) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= c.max {
			clear(c.m)
		}
	}
	// The caller keeps the claims it was handed: keep copies of their lists.
	c.m[key] = reused{token: token, claims: cloneClaims(claims)}
}

// Forget drops every reused token of the user login, so that a change to
// the user (a revoked session, a new level) is never answered with a token
// issued before it.
func (t *Tokens) Forget(login string) {
	prefix := strconv.Quote(login)
	t.reuse.mu.Lock()
	defer t.reuse.mu.Unlock()
	for k := range t.reuse.m {
		if strings.HasPrefix(k, prefix) {
			delete(t.reuse.m, k)
		}
	}
}
