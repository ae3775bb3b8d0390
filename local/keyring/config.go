package keyring

import (
	"log/slog"
	"time"
)

// Defaults of Config.
const (
	// DefaultMaxTokenLifetime is the user token lifetime: the longest a
	// retired key may still be needed to verify a token it signed.
	DefaultMaxTokenLifetime = 24 * time.Hour
	// DefaultCheckInterval bounds how often a Keyring stats its manifest.
	DefaultCheckInterval = time.Second
	// pruneGrace keeps retired keys a little past the token lifetime, so
	// verifiers that allow some clock skew still find them.
	pruneGrace = time.Minute
)

// Config configures Open, Rotate and Revoke.
type Config struct {
	// Dir is the key directory, created 0700 if missing.
	Dir string
	// MaxTokenLifetime is how long a retired key keeps verifying: at least
	// the longest lifetime of any token the keys sign. Zero means
	// DefaultMaxTokenLifetime.
	MaxTokenLifetime time.Duration
	// CheckInterval is how often Sign, Current and PublicKey may stat the
	// manifest to notice a rotation by another process. Zero means
	// DefaultCheckInterval; a negative value checks on every call.
	CheckInterval time.Duration
	// Now is the clock of key timestamps and pruning, so tests can move
	// time instead of sleeping; nil means time.Now.
	Now func() time.Time
	// Logger reports key generation, reloads and reload failures, which
	// otherwise go unseen because a running Keyring keeps signing with the
	// keys it already has; nil discards.
	Logger *slog.Logger
}

// withDefaults fills in the defaults of the zero fields.
func (c Config) withDefaults() Config {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.MaxTokenLifetime <= 0 {
		c.MaxTokenLifetime = DefaultMaxTokenLifetime
	}
	switch {
	case c.CheckInterval == 0:
		c.CheckInterval = DefaultCheckInterval
	case c.CheckInterval < 0:
		c.CheckInterval = 0
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}
