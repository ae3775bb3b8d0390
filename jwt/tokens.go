// Package jwt issues and verifies the provisioner's tokens, jwt_user and
// jwt_cluster (docs/architecture.md), on top of any provisioner.Signer and
// provisioner.KeySet: the local keyring now, a KMS signer or a gateway's
// remote JWKS later. Verification is strict and fails closed.
package jwt

import (
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/sync/singleflight"

	"provisioner"
)

// Defaults of Config.
const (
	// DefaultUserTTL is production's login lifetime: the released client
	// never refreshes, and its sessions last a working day.
	DefaultUserTTL    = 24 * time.Hour
	DefaultClusterTTL = time.Hour
	DefaultLeeway     = 30 * time.Second
	// MaxTokenSize caps what is parsed at all: our tokens are well under
	// 1 KiB, and anything larger is garbage or an attack.
	MaxTokenSize = 8 << 10
)

// AlgRS256 is the one algorithm issued and accepted, as production's load
// balancer checks it: never none or HS*, whose "keys" an attacker could
// know, and no second algorithm whose keys a cluster could not check.
const AlgRS256 = "RS256"

// Config configures Tokens.
type Config struct {
	// Issuer is the provisioner's base URL, the "iss" of every token.
	Issuer string
	// Signer signs issued tokens; nil for a verifier only (a gateway).
	Signer provisioner.Signer
	// Keys verifies tokens; nil means Signer.
	Keys provisioner.KeySet
	// UserTTL and ClusterTTL are the token lifetimes; zero means default.
	UserTTL    time.Duration
	ClusterTTL time.Duration
	// Leeway is the clock skew allowed on exp, nbf and iat; zero means
	// DefaultLeeway, negative none.
	Leeway time.Duration
	// Now is the clock; nil means provisioner.Now.
	Now func() time.Time
}

// Tokens implements provisioner.Tokens. It is safe for concurrent use.
type Tokens struct {
	cfg      Config
	parser   *jwt.Parser
	reuse    *reuseCache
	signing  singleflight.Group // one signature per reuse key at a time
	verified verifiedCache
}

var _ provisioner.Tokens = (*Tokens)(nil)

// New returns Tokens for cfg, filling in defaults. A missing Issuer or key
// set is reported by every call rather than here, so that wiring stays a
// one-liner and nothing ever verifies against an empty issuer.
func New(cfg Config) *Tokens {
	if cfg.Keys == nil && cfg.Signer != nil {
		cfg.Keys = cfg.Signer
	}
	if cfg.UserTTL <= 0 {
		cfg.UserTTL = DefaultUserTTL
	}
	if cfg.ClusterTTL <= 0 {
		cfg.ClusterTTL = DefaultClusterTTL
	}
	switch {
	case cfg.Leeway == 0:
		cfg.Leeway = DefaultLeeway
	case cfg.Leeway < 0:
		cfg.Leeway = 0
	}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return provisioner.Now() }
	}
	return &Tokens{
		cfg:      cfg,
		reuse:    newReuseCache(reuseCacheSize),
		verified: newVerifiedCache(),
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{AlgRS256}),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(cfg.Leeway),
			jwt.WithIssuer(cfg.Issuer),
			jwt.WithTimeFunc(cfg.Now),
			jwt.WithStrictDecoding(),
		),
	}
}
