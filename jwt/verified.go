package jwt

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"

	"provisioner/secretcache"

	"provisioner"
)

const (
	// verifiedTTL bounds how long a verification is remembered.
	verifiedTTL = 10 * time.Second
	// verifiedSize bounds the entries; past it the cache starts over.
	verifiedSize = 8192
)

// verifiedCache remembers jwt_users that verified, by the SHA-256 of the
// token, so that a client calling again and again (ACCESS in a loop) costs
// an RSA verification once in verifiedTTL instead of on every request. A
// hit still checks the expiry, and that the signing key is still
// published: a revoked key ends its tokens' entries at once.
type verifiedCache struct {
	c *secretcache.Cache[verifiedEntry]
}

func newVerifiedCache() verifiedCache {
	return verifiedCache{secretcache.New[verifiedEntry](verifiedSize)}
}

type verifiedEntry struct {
	claims provisioner.Claims
	kid    string
}

func (v verifiedCache) get(ctx context.Context, t *Tokens, key [32]byte) (provisioner.Claims, bool) {
	e, ok := v.c.Get(key, t.cfg.Now())
	if !ok {
		return provisioner.Claims{}, false
	}
	if _, err := t.cfg.Keys.PublicKey(ctx, e.kid); err != nil {
		return provisioner.Claims{}, false
	}
	return cloneClaims(e.claims), true
}

// put remembers c until the earlier of its expiry and verifiedTTL from now.
func (v verifiedCache) put(t *Tokens, token string, key [32]byte, c provisioner.Claims) {
	kid := headerKID(token)
	now := t.cfg.Now()
	if kid == "" || now.Before(c.NotBefore) {
		return
	}
	until := now.Add(verifiedTTL)
	if c.ExpiresAt.Before(until) {
		until = c.ExpiresAt
	}
	v.c.Put(key, verifiedEntry{claims: cloneClaims(c), kid: kid}, until)
}

// headerKID reads the kid of a token that has just verified.
func headerKID(token string) string {
	head, _, _ := strings.Cut(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return ""
	}
	var h struct {
		KID string `json:"kid"`
	}
	if json.Unmarshal(raw, &h) != nil {
		return ""
	}
	return h.KID
}
