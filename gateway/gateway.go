// Package gateway is an optional check in front of a SlideRule cluster's
// load balancer (the ILB). It accepts the tokens production's ILB accepts
// (apps/ilb/haproxy.cfg): a jwt_cluster for the cluster, or a login token
// (jwt_user) whose audience names the cluster or is "*"; but it matches the
// audience by element where the ILB matches by substring, and it adds
// per-user and per-network rate limits. It tells the cluster who the caller
// is as the ILB does, in x-sliderule-account (the token's sub) and
// x-sliderule-org-roles (its org_roles), after removing client copies.
//
// It forwards only what the ILB serves its users: /source/*, /openapi/*,
// /discovery/status and /discovery/whoami, and /grafana/* for tokens with the
// "monitor" audience. The node-facing discovery paths (register, lock,
// unlock, …) are never reachable through it, and connection upgrades
// (websockets, h2c) only on /grafana/*, where Grafana needs them.
//
// A private cluster forwards nothing without a valid token. A public
// cluster forwards anonymous requests too, but a token that does not verify
// is refused, never downgraded to anonymous. A request naming a service in
// x-sliderule-service (a user's own node group) must carry a valid token
// whose subject is that service, as the ILB requires.
//
// The gateway answers three paths itself and never forwards them:
//
//	/healthz               the gateway's own health (no token needed)
//	/healthz?upstream=1    also checks the upstream's health path (UpstreamHealth)
//	/discovery/status      {"nodes":N}, only when Config.Nodes > 0 (a local cluster)
package gateway

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"

	"provisioner"
	"provisioner/jwt"
)

// Defaults of Config.
const (
	DefaultListen          = "127.0.0.1:9000"
	DefaultUpstreamTimeout = 60 * time.Second
	DefaultUpstreamHealth  = "/source/health"
	DefaultCacheSize       = 10000
	// DefaultCacheTTL bounds how long a verified token is trusted without a
	// new signature check, so a key withdrawn from the JWKS stops working
	// within minutes even for long-lived tokens.
	DefaultCacheTTL   = 5 * time.Minute
	DefaultMaxBuckets = 100000
)

// Headers the gateway sets upstream, as production's ILB does; copies sent
// by clients are removed.
const (
	HeaderAccount  = "X-Sliderule-Account"
	HeaderOrgRoles = "X-Sliderule-Org-Roles"
	// HeaderService routes a request to a user's own node group; it must
	// equal the token's subject.
	HeaderService = "X-Sliderule-Service"
)

// Config configures a Gateway. Cluster, Upstream and Issuer are required.
type Config struct {
	// Cluster is the one audience tokens must carry.
	Cluster string
	// Public clusters forward anonymous requests; private ones need a token.
	Public bool
	// Upstream is the cluster's load balancer (absolute http or https URL).
	Upstream *url.URL
	// UpstreamTimeout bounds connecting to the upstream and waiting for its
	// response headers (504 after it); streamed bodies may take longer.
	// Zero means DefaultUpstreamTimeout.
	UpstreamTimeout time.Duration
	// UpstreamHealth is the upstream path /healthz?upstream=1 checks; empty
	// means DefaultUpstreamHealth.
	UpstreamHealth string
	// Transport carries forwarded requests; nil means a transport built
	// from UpstreamTimeout. Benchmarks swap it.
	Transport http.RoundTripper

	// Issuer is the provisioner's base URL: the tokens' "iss" and where the
	// JWKS is discovered.
	Issuer string
	// Keys overrides the JWKS client built from Issuer (tests, a fixed key
	// file).
	Keys provisioner.KeySet
	// JWKSMinRefresh and JWKSInterval configure the JWKS client built when
	// Keys is nil; see JWKSConfig.
	JWKSMinRefresh time.Duration
	JWKSInterval   time.Duration

	// TrustedProxies is how many proxies in front of the gateway append to
	// X-Forwarded-For; 0 means the peer address is the client.
	TrustedProxies int
	// Limits are the token buckets per level; zero fields take defaults.
	Limits Limits
	// MaxBuckets bounds the rate-limit buckets kept; 0 means DefaultMaxBuckets.
	MaxBuckets int
	// CacheSize bounds the verified-token cache: 0 means DefaultCacheSize,
	// negative disables the cache.
	CacheSize int
	// CacheTTL bounds how long one verification is reused (never past the
	// token's exp); 0 means DefaultCacheTTL.
	CacheTTL time.Duration

	// RevocationPoll is how often the provisioner's revocation feed is
	// read (Run does it): 0 means DefaultRevocationPoll, negative never.
	RevocationPoll time.Duration

	// Nodes, when positive, makes the gateway answer /discovery/status with
	// this node count itself, as a local cluster has no orchestrator.
	Nodes int

	// Logger receives refusals (debug), upstream and JWKS failures (warn).
	Logger *slog.Logger
	// Now is the clock of token checks, the cache and the rate limits; nil
	// means time.Now.
	Now func() time.Time
}

// Gateway is an http.Handler; it is safe for concurrent use.
type Gateway struct {
	cfg     Config
	keys    provisioner.KeySet
	jwks    *JWKS // nil when Config.Keys overrides it
	tokens  *jwt.Tokens
	cache   *tokenCache
	limits  *limiter
	proxy   *httputil.ReverseProxy
	health  *http.Client
	metrics *metrics
	// revocations: what the provisioner's revocation feed said.
	revocations *revocations
	log         *slog.Logger
	now         func() time.Time
}

var _ http.Handler = (*Gateway)(nil)

// New checks cfg, fills in defaults and returns the Gateway.
func New(cfg Config) (*Gateway, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	cfg.defaults()
	limits, err := cfg.Limits.withDefaults()
	if err != nil {
		return nil, err
	}
	g := &Gateway{cfg: cfg, log: cfg.Logger, now: cfg.Now, metrics: newMetrics()}
	g.keys = cfg.Keys
	if g.keys == nil {
		g.jwks, err = NewJWKS(JWKSConfig{Issuer: cfg.Issuer, MinRefresh: cfg.JWKSMinRefresh,
			Interval: cfg.JWKSInterval, Logger: cfg.Logger, Now: cfg.Now, OnRefresh: g.metrics.jwksRefresh})
		if err != nil {
			return nil, err
		}
		g.keys = g.jwks
	}
	g.revocations = &revocations{sessions: map[string]time.Time{}, withdrawn: map[string]bool{},
		client: &http.Client{Timeout: DefaultJWKSTimeout}}
	g.tokens = jwt.New(jwt.Config{Issuer: cfg.Issuer, Keys: liveKeys{g.keys, g.revocations}, Now: cfg.Now})
	if cfg.CacheSize > 0 {
		g.cache = newTokenCache(cfg.CacheSize, cfg.CacheTTL)
	}
	g.limits = newLimiter(limits, cfg.MaxBuckets)
	g.metrics.watch(g.limits, g.cache)
	g.proxy = g.newProxy()
	g.health = &http.Client{Transport: g.proxy.Transport, Timeout: cfg.UpstreamTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return g, nil
}

// check refuses a configuration the gateway cannot run safely with.
func (c *Config) check() error {
	if err := provisioner.ValidateClusterName(c.Cluster); err != nil {
		return err
	}
	if c.Upstream == nil {
		return provisioner.Errorf(provisioner.EINVALID, "upstream URL is required")
	}
	if err := CheckURL("upstream", c.Upstream.String()); err != nil {
		return err
	}
	if err := CheckURL("issuer", c.Issuer); err != nil {
		return err
	}
	switch {
	case c.TrustedProxies < 0 || c.TrustedProxies > 10:
		return provisioner.Errorf(provisioner.EINVALID, "trusted proxies must be between 0 and 10")
	case c.Nodes < 0:
		return provisioner.Errorf(provisioner.EINVALID, "nodes must not be negative")
	case c.UpstreamTimeout < 0 || c.JWKSMinRefresh < 0 || c.JWKSInterval < 0 || c.CacheTTL < 0:
		return provisioner.Errorf(provisioner.EINVALID, "durations must not be negative")
	case c.MaxBuckets < 0:
		return provisioner.Errorf(provisioner.EINVALID, "max buckets must not be negative")
	case c.UpstreamHealth != "" && (c.UpstreamHealth[0] != '/' || len(c.UpstreamHealth) > 1 && c.UpstreamHealth[1] == '/'):
		return provisioner.Errorf(provisioner.EINVALID, "upstream health path must start with a single /")
	}
	return nil
}

func (c *Config) defaults() {
	if c.UpstreamTimeout == 0 {
		c.UpstreamTimeout = DefaultUpstreamTimeout
	}
	if c.UpstreamHealth == "" {
		c.UpstreamHealth = DefaultUpstreamHealth
	}
	if c.CacheSize == 0 {
		c.CacheSize = DefaultCacheSize
	}
	if c.CacheTTL == 0 {
		c.CacheTTL = DefaultCacheTTL
	}
	if c.MaxBuckets == 0 {
		c.MaxBuckets = DefaultMaxBuckets
	}
	if c.RevocationPoll == 0 {
		c.RevocationPoll = DefaultRevocationPoll
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// CheckURL accepts absolute http and https URLs with a host and no
// credentials, query or fragment: what an upstream or issuer can be.
func CheckURL(what, s string) error {
	u, err := url.Parse(s)
	switch {
	case s == "":
		return provisioner.Errorf(provisioner.EINVALID, "%s URL is required", what)
	case err != nil:
		return provisioner.Errorf(provisioner.EINVALID, "invalid %s URL %q", what, s)
	case u.Scheme != "http" && u.Scheme != "https":
		return provisioner.Errorf(provisioner.EINVALID, "%s URL %q must be absolute http:// or https://", what, s)
	case u.Host == "" || u.Hostname() == "":
		return provisioner.Errorf(provisioner.EINVALID, "%s URL %q has no host", what, s)
	case u.User != nil:
		return provisioner.Errorf(provisioner.EINVALID, "%s URL must not carry credentials", what)
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return provisioner.Errorf(provisioner.EINVALID, "%s URL %q must not have a query or fragment", what, s)
	}
	return nil
}

// Keys returns the key set tokens are verified with (the JWKS client unless
// overridden).
func (g *Gateway) Keys() provisioner.KeySet { return g.keys }

// String describes the gateway for logs.
func (g *Gateway) String() string {
	return fmt.Sprintf("gateway(%s %s -> %s)", g.cfg.Cluster, visibility(g.cfg.Public), g.cfg.Upstream.Redacted())
}

func visibility(public bool) string {
	if public {
		return "public"
	}
	return "private"
}
