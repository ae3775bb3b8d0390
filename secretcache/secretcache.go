// Package secretcache remembers answers about credentials (a token that
// verified, a PAT that logged in) by the SHA-256 of the credential, never
// the credential itself, each until a time of its own. It holds at most a
// fixed number of entries: a full cache starts over, so memory stays
// bounded whatever callers send.
package secretcache

import (
	"crypto/sha256"
	"sync"
	"time"
)

// Cache maps credentials to values of type V.
type Cache[V any] struct {
	max int

	mu sync.Mutex
	m  map[[32]byte]entry[V]
}

type entry[V any] struct {
	v     V
	until time.Time
}

// New returns a cache of at most max entries.
func New[V any](max int) *Cache[V] { return &Cache[V]{max: max} }

// Key is the cache key of secret: its SHA-256.
func Key(secret string) [32]byte { return sha256.Sum256([]byte(secret)) }

// Get returns the value kept for key if now is before its time.
func (c *Cache[V]) Get(key [32]byte, now time.Time) (V, bool) {
	c.mu.Lock()
	e, ok := c.m[key]
	c.mu.Unlock()
	if !ok || !now.Before(e.until) {
		var zero V
		return zero, false
	}
	return e.v, true
}

// Put keeps v for key until until.
func (c *Cache[V]) Put(key [32]byte, v V, until time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= c.max {
		c.m = make(map[[32]byte]entry[V])
	}
	c.m[key] = entry[V]{v: v, until: until}
}
