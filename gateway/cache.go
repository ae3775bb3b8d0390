package gateway

import (
	"crypto/sha256"
	"sync"
	"time"

	"provisioner"
)

// tokenCache remembers verified tokens by the SHA-256 of the token, so the
// cache never holds a usable token. An entry lives until the token's exp or
// the cache TTL, whichever comes first; the size is bounded.
type tokenCache struct {
	mu  sync.RWMutex
	m   map[[sha256.Size]byte]cached
	max int
	ttl time.Duration
}

type cached struct {
	claims provisioner.Claims
	until  time.Time
}

func newTokenCache(max int, ttl time.Duration) *tokenCache {
	return &tokenCache{m: make(map[[sha256.Size]byte]cached), max: max, ttl: ttl}
}

func (c *tokenCache) get(key [sha256.Size]byte, now time.Time) (provisioner.Claims, bool) {
	c.mu.RLock()
	e, ok := c.m[key]
	c.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		return provisioner.Claims{}, false
	}
	return e.claims, true
}

// put stores claims verified at now. The verifier allows some clock skew
// past exp; the cache does not, so it never extends a token's life.
func (c *tokenCache) put(key [sha256.Size]byte, claims provisioner.Claims, now time.Time) {
	until := now.Add(c.ttl)
	if claims.ExpiresAt.Before(until) {
		until = claims.ExpiresAt
	}
	if !now.Before(until) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		c.evict(now)
	}
	c.m[key] = cached{claims: claims, until: until}
}

// evict drops expired entries and, if that is not enough, random ones (map
// order is random) down to 7/8 of the bound, so eviction is amortized.
func (c *tokenCache) evict(now time.Time) {
	for k, e := range c.m {
		if !now.Before(e.until) {
			delete(c.m, k)
		}
	}
	for k := range c.m {
		if len(c.m) < c.max-c.max/8 {
			break
		}
		delete(c.m, k)
	}
}

// dropIf removes the entries whose claims match.
func (c *tokenCache) dropIf(match func(provisioner.Claims) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.m {
		if match(e.claims) {
			delete(c.m, k)
		}
	}
}

func (c *tokenCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
