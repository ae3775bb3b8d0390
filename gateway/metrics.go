package gateway

import (
	"context"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"provisioner"
)

// metrics live in a registry per Gateway, served on a separate listener by
// MetricsHandler, so the public port never exposes them.
type metrics struct {
	reg                 *prometheus.Registry
	requests            *prometheus.CounterVec // level, result
	rateLimited         *prometheus.CounterVec // level
	verify              prometheus.Histogram
	cacheHit, cacheMiss prometheus.Counter
	jwks                *prometheus.CounterVec // result
}

func newMetrics() *metrics {
	const ns = "sliderule_gateway"
	cache := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "token_cache_total",
		Help: "Token lookups in the verified-token cache, by result (hit, miss)."}, []string{"result"})
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "requests_total",
			Help: "Requests by caller level (none when refused before it was known) and result: forwarded, local, unauthorized, forbidden, rate_limited, unavailable, upstream_down, upstream_timeout, canceled."},
			[]string{"level", "result"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "rate_limited_total",
			Help: "Requests refused with 429, by level."}, []string{"level"}),
		verify: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "verify_seconds",
			Help:    "Time to verify a token's signature and claims (cache misses only).",
			Buckets: prometheus.ExponentialBuckets(25e-6, 2, 14)}),
		cacheHit:  cache.WithLabelValues("hit"),
		cacheMiss: cache.WithLabelValues("miss"),
		jwks: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "jwks_refresh_total",
			Help: "Fetches of the issuer's JWKS, by result (success, failure)."}, []string{"result"}),
	}
	m.reg.MustRegister(m.requests, m.rateLimited, m.verify, cache, m.jwks,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// watch adds gauges read at scrape time.
func (m *metrics) watch(l *limiter, c *tokenCache) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "sliderule_gateway", Name: "rate_limit_buckets",
		Help: "Token buckets held (bounded; idle ones are evicted)."}, func() float64 { return float64(l.buckets.Len()) }))
	if c != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "sliderule_gateway", Name: "token_cache_entries",
			Help: "Verified tokens cached."}, func() float64 { return float64(c.len()) }))
	}
}

func (m *metrics) request(level, result string) { m.requests.WithLabelValues(level, result).Inc() }

func (m *metrics) limited(l provisioner.Level) { m.rateLimited.WithLabelValues(l.String()).Inc() }

func (m *metrics) jwksRefresh(err error) {
	if err != nil {
		m.jwks.WithLabelValues("failure").Inc()
	} else {
		m.jwks.WithLabelValues("success").Inc()
	}
}

// MetricsHandler serves the gateway's Prometheus metrics.
func (g *Gateway) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(g.metrics.reg, promhttp.HandlerOpts{})
}

// Run keeps the JWKS fresh in the background until ctx ends (a no-op wait
// when Config.Keys overrides the JWKS client).
// It also polls the provisioner's revocation feed every RevocationPoll.
func (g *Gateway) Run(ctx context.Context) {
	if g.cfg.RevocationPoll > 0 {
		go g.runRevocations(ctx)
	}
	if g.jwks == nil {
		<-ctx.Done()
		return
	}
	g.jwks.Run(ctx)
}
