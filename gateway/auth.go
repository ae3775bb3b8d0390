package gateway

import (
	"context"
	"crypto/sha256"
	"net/http"
	"strings"
	"time"

	"provisioner"
	"provisioner/jwt"
)

// MaxAuthorization caps the Authorization header the gateway reads: a
// "Bearer " prefix and the largest token the verifier would look at.
const MaxAuthorization = len("Bearer ") + jwt.MaxTokenSize

// bearer returns the token of the Authorization header, "" when there is
// none. Anything present but not a single "Bearer <JWS>" is an error, so a
// garbled header is refused rather than treated as anonymous.
func bearer(h http.Header) (string, error) {
	vals := h["Authorization"]
	switch {
	case len(vals) == 0:
		return "", nil
	case len(vals) > 1:
		return "", unauthorized("send one Authorization header, not several")
	case len(vals[0]) > MaxAuthorization:
		return "", unauthorized("Authorization header is too long")
	}
	scheme, tok, ok := strings.Cut(vals[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", unauthorized(`Authorization header must be "Bearer <token>"`)
	}
	tok = strings.TrimLeft(tok, " ")
	if !compactJWS(tok) {
		return "", unauthorized("malformed token")
	}
	return tok, nil
}

// compactJWS reports whether s has the shape of a signed JWT: three
// non-empty base64url segments. It keeps garbage (and "alg: none" tokens,
// whose signature is empty) away from the verifier.
func compactJWS(s string) bool {
	dots, seg := 0, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '.':
			if seg == 0 {
				return false
			}
			dots, seg = dots+1, 0
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
			seg++
		default:
			return false
		}
	}
	return dots == 2 && seg > 0
}

func unauthorized(msg string) error {
	return &provisioner.Error{Code: provisioner.EUNAUTHORIZED, Message: msg}
}

// verify checks a jwt_cluster for this cluster, through the cache: a hit
// costs a hash and a map lookup instead of a signature check.
func (g *Gateway) verify(ctx context.Context, tok string) (provisioner.Claims, error) {
	var key [sha256.Size]byte
	now := g.now()
	if g.cache != nil {
		key = sha256.Sum256([]byte(tok))
		if c, ok := g.cache.get(key, now); ok {
			g.metrics.cacheHit.Inc()
			if g.revocations.revoked(c) {
				return provisioner.Claims{}, unauthorized("the token's session was revoked")
			}
			return c, nil
		}
		g.metrics.cacheMiss.Inc()
	}
	start := time.Now()
	c, err := g.tokens.VerifyCluster(ctx, tok, g.cfg.Cluster)
	g.metrics.verify.Observe(time.Since(start).Seconds())
	if err == nil && g.revocations.revoked(c) {
		return provisioner.Claims{}, unauthorized("the token's session was revoked")
	}
	if err == nil && g.cache != nil {
		g.cache.put(key, c, now)
	}
	return c, err
}
