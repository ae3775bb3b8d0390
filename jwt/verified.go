package jwt

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"time"

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
	mu sync.Mutex
	m  map[[32]byte]verifiedEntry
}

type verifiedEntry struct {
	claims provisioner.Claims
	kid    string
	until  time.Time // the earlier of expiry and verification + verifiedTTL
}

func (v *verifiedCache) get(ctx context.Context, t *Tokens, sum [32]byte) (provisioner.Claims, bool) {
	v.mu.Lock()
	e, ok := v.m[sum]
	v.mu.Unlock()
	if !ok || !t.cfg.Now().Before(e.until) {
		return provisioner.Claims{}, false
	}
	if _, err := t.cfg.Keys.PublicKey(ctx, e.kid); err != nil {
		return provisioner.Claims{}, false
	}
	return cloneClaims(e.claims), true
}

func (v *verifiedCache) put(t *Tokens, token string, sum [32]byte, c provisioner.Claims) {
	kid := headerKID(token)
	now := t.cfg.Now()
	if kid == "" || now.Before(c.NotBefore) {
		return
	}
	until := now.Add(verifiedTTL)
	if c.ExpiresAt.Before(until) {
		until = c.ExpiresAt
	}
	e := verifiedEntry{claims: cloneClaims(c), kid: kid, until: until}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.m == nil || len(v.m) >= verifiedSize {
		v.m = make(map[[32]byte]verifiedEntry)
	}
	v.m[sum] = e
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
