package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"provisioner"
	"provisioner/jwt"
)

// Defaults of JWKSConfig.
const (
	DefaultJWKSMinRefresh = 5 * time.Second
	DefaultJWKSInterval   = 5 * time.Minute
	DefaultJWKSTimeout    = 5 * time.Second
	// maxDiscoverySize caps the discovery document; ours is under 1 KiB.
	maxDiscoverySize = 64 << 10
)

// JWKSConfig configures a JWKS client.
type JWKSConfig struct {
	// Issuer is the provisioner's base URL; its discovery document
	// (/.well-known/openid-configuration) names the JWKS.
	Issuer string
	// Client fetches both documents; nil means a client with
	// DefaultJWKSTimeout and no redirects.
	Client *http.Client
	// MinRefresh is the least time between fetches: a flood of unknown kids
	// costs the issuer one request per MinRefresh. 0 means the default.
	MinRefresh time.Duration
	// Interval is the period of Run's background refresh, which also drops
	// keys the issuer has withdrawn. 0 means the default.
	Interval time.Duration
	Logger   *slog.Logger
	Now      func() time.Time
	// OnRefresh, if set, is told the outcome of every fetch (metrics).
	OnRefresh func(err error)
}

// JWKS is a provisioner.KeySet fed by the issuer's published keys. It keeps
// the last good set while the issuer is unreachable, and refetches when a
// token names an unknown kid, so a key rotation needs no restart.
type JWKS struct {
	cfg       JWKSConfig
	discovery string
	keys      atomic.Pointer[jwt.StaticKeySet]

	mu      sync.Mutex // one fetch at a time; guards the fields below
	jwksURI string     // from discovery; cleared when a fetch fails
	lastTry time.Time
	lastErr error
}

var _ provisioner.KeySet = (*JWKS)(nil)

// NewJWKS returns a client; it fetches nothing until asked.
func NewJWKS(cfg JWKSConfig) (*JWKS, error) {
	if err := CheckURL("issuer", cfg.Issuer); err != nil {
		return nil, err
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: DefaultJWKSTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if cfg.MinRefresh <= 0 {
		cfg.MinRefresh = DefaultJWKSMinRefresh
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultJWKSInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &JWKS{cfg: cfg, discovery: strings.TrimRight(cfg.Issuer, "/") + "/.well-known/openid-configuration"}, nil
}

// PublicKey returns the key with id kid. An unknown kid triggers a refetch
// (at most once per MinRefresh); it is ENOTFOUND if the issuer, answering,
// does not know it either, and EUNAVAILABLE if the issuer cannot be asked.
func (j *JWKS) PublicKey(ctx context.Context, kid string) (provisioner.PublicKey, error) {
	if set := j.keys.Load(); set != nil {
		if pk, err := set.PublicKey(ctx, kid); err == nil {
			return pk, nil
		}
	}
	err := j.refresh(ctx, false)
	if set := j.keys.Load(); set != nil {
		if pk, kerr := set.PublicKey(ctx, kid); kerr == nil {
			return pk, nil
		}
	}
	if err != nil {
		return provisioner.PublicKey{}, err
	}
	return provisioner.PublicKey{}, provisioner.Errorf(provisioner.ENOTFOUND, "unknown signing key")
}

// PublicKeys returns the last good set, fetching it first if there is none.
func (j *JWKS) PublicKeys(ctx context.Context) ([]provisioner.PublicKey, error) {
	if set := j.keys.Load(); set != nil {
		return set.PublicKeys(ctx)
	}
	if err := j.refresh(ctx, false); err != nil {
		return nil, err
	}
	return j.keys.Load().PublicKeys(ctx)
}

// Len is the number of keys held.
func (j *JWKS) Len() int {
	if set := j.keys.Load(); set != nil {
		return len(*set)
	}
	return 0
}

// Refresh fetches the keys now, unless another fetch ran within MinRefresh.
func (j *JWKS) Refresh(ctx context.Context) error { return j.refresh(ctx, false) }

// Run refreshes every Interval until ctx ends (sooner, every MinRefresh,
// while fetches fail), so withdrawn keys go and new ones come without
// waiting for a token to name them.
func (j *JWKS) Run(ctx context.Context) {
	for {
		wait := j.cfg.Interval
		if err := j.refresh(ctx, true); err != nil {
			wait = min(wait, max(j.cfg.MinRefresh, time.Second))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// refresh fetches the keys unless a fetch ran within MinRefresh (then it
// returns that fetch's error). Callers queue on mu, so a burst of unknown
// kids makes one request. The fetch outlives the caller's cancellation, so
// one impatient client cannot record a failure for everyone.
func (j *JWKS) refresh(ctx context.Context, force bool) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	now := j.cfg.Now()
	if !force && !j.lastTry.IsZero() && now.Sub(j.lastTry) < j.cfg.MinRefresh && now.Sub(j.lastTry) >= 0 {
		return j.lastErr
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DefaultJWKSTimeout)
	defer cancel()
	err := j.fetch(fctx)
	j.lastTry, j.lastErr = j.cfg.Now(), err
	if j.cfg.OnRefresh != nil {
		j.cfg.OnRefresh(err)
	}
	if err != nil {
		j.cfg.Logger.Warn("cannot refresh signing keys; keeping the last good ones", "issuer", j.cfg.Issuer, "keys", j.Len(), "err", err)
	}
	return err
}

func (j *JWKS) fetch(ctx context.Context) error {
	if j.jwksURI == "" {
		uri, err := j.discover(ctx)
		if err != nil {
			return err
		}
		j.jwksURI = uri
	}
	b, err := get(ctx, j.cfg.Client, j.jwksURI, jwt.MaxJWKSSize)
	if err != nil {
		j.jwksURI = "" // the issuer may have moved its keys; ask again
		return unavailable(err)
	}
	keys, err := jwt.ParseJWKS(b)
	if err == nil && len(keys) == 0 {
		err = errors.New("the JWKS holds no usable keys")
	}
	if err != nil {
		return unavailable(err)
	}
	set := jwt.StaticKeySet(keys)
	if old := j.Len(); old == 0 || !sameKids(*j.keys.Load(), set) {
		j.cfg.Logger.Info("signing keys loaded", "issuer", j.cfg.Issuer, "keys", kids(set))
	}
	j.keys.Store(&set)
	return nil
}

func unavailable(err error) error {
	return provisioner.Wrap(provisioner.EUNAVAILABLE, err, "the provisioner's signing keys are unavailable; retry shortly")
}

func kids(keys jwt.StaticKeySet) string {
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.ID
	}
	return strings.Join(ids, ",")
}

func sameKids(a, b jwt.StaticKeySet) bool { return kids(a) == kids(b) }
