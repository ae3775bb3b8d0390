package local

import (
	"log/slog"
	"time"
)

// Defaults of the options.
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

// Option configures OpenKeyring and Rotate.
type Option func(*options)

type options struct {
	now      func() time.Time
	maxAge   time.Duration
	interval time.Duration
	log      *slog.Logger
}

func newOptions(opts []Option) options {
	o := options{
		now:      time.Now,
		maxAge:   DefaultMaxTokenLifetime,
		interval: DefaultCheckInterval,
		log:      slog.New(slog.DiscardHandler),
	}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// WithNow sets the clock used for key timestamps and pruning, so tests can
// move time instead of sleeping.
func WithNow(now func() time.Time) Option {
	return func(o *options) {
		if now != nil {
			o.now = now
		}
	}
}

// WithMaxTokenLifetime sets how long a retired key keeps verifying: it must
// be at least the longest lifetime of any token the keys sign.
func WithMaxTokenLifetime(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.maxAge = d
		}
	}
}

// WithCheckInterval sets how often Sign, Current and PublicKey may stat the
// manifest to notice a rotation by another process; 0 checks on every call.
func WithCheckInterval(d time.Duration) Option {
	return func(o *options) {
		if d >= 0 {
			o.interval = d
		}
	}
}

// WithLogger reports reloads and reload failures, which otherwise go unseen
// because a running Keyring keeps signing with the keys it already has.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.log = l
		}
	}
}
