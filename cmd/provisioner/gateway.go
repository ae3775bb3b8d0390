package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"provisioner"
	"provisioner/cmd/provisioner/internal/cmdutil"
	"provisioner/cmd/provisioner/internal/iostreams"
	"provisioner/gateway"
	phttp "provisioner/http"
)

type gatewayOptions struct {
	io              *iostreams.IOStreams
	Cluster         string
	Public, Private bool
	Upstream        string
	Issuer          string
	Listen          string
	MetricsAddr     string
	TLSCert         string
	TLSKey          string
	TrustProxy      int
	Rates           [4]string // per level, as ParseRate reads them
	Bursts          [4]int
	Nodes           int
	UpstreamTimeout time.Duration
	UpstreamHealth  string
	JWKSMinRefresh  time.Duration
	JWKSRefresh     time.Duration
	CacheSize       int
	LogFormat       string
	LogLevel        string
}

// levelFlags names the per-level flags: --rate-<name>, --burst-<name>.
var levelFlags = [4]string{"anonymous", "member", "org-member", "admin"}

// newCmdGateway is `provisioner gateway`; runF nil is the real run.
func newCmdGateway(factory *cmdutil.Factory, runF func(*gatewayOptions) error) *cobra.Command {
	o := &gatewayOptions{io: factory.IOStreams}
	cmd := &cobra.Command{
		Use:   "gateway --cluster NAME (--private | --public) --upstream URL --issuer URL",
		Short: "Check cluster tokens and rate limits in front of a cluster",
		Long: `Run the check in front of one cluster's load balancer: verify each request's
token against the provisioner's published keys (--issuer), rate-limit per
level, and forward what passes to --upstream with x-sliderule-account and
x-sliderule-org-roles set, as SlideRule's own load balancer (the ILB) does.

It accepts what the ILB accepts, but matches audiences exactly: a
jwt_cluster for this cluster (from 'provisioner access'), or a login token
whose audience names this cluster or is "*". Only the ILB's user paths pass
(/source/*, /openapi/*, /discovery/status, /discovery/whoami, /grafana/*).

A --private cluster forwards only requests with a valid token for this
cluster (401 without or with a bad one, 403 with one that does not reach it).
A --public cluster forwards anonymous requests too, but refuses bad tokens.

Anonymous callers are limited per source network (IPv4 /24, IPv6 /48), others
per user. Rates are N/s, N/m, N/h or "unlimited"; a burst of 0 is twice the
rate per second.

The gateway answers itself, never forwarding:
  /healthz              its own health
  /healthz?upstream=1   also GETs --upstream-health on the upstream
  /discovery/status     {"nodes":N}, only with --nodes N
Prometheus metrics are served on --metrics-addr (off by default) at /metrics.`,
		Example: `  provisioner gateway --cluster demo --private --upstream http://10.0.1.5:8050 --issuer https://provisioner.example.org
  provisioner gateway --cluster demo --public --listen :443 --trust-proxy 1 --rate-anonymous 600/m`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmdutil.Run(cmd.Context(), o, runF, gatewayRun)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Cluster, "cluster", "", "name of the cluster: the audience tokens must carry")
	f.BoolVar(&o.Private, "private", false, "forward only requests with a valid token for this cluster")
	f.BoolVar(&o.Public, "public", false, "forward anonymous requests too (rate-limited per network)")
	f.StringVar(&o.Upstream, "upstream", "", "URL of the cluster's load balancer to forward to")
	f.StringVar(&o.Issuer, "issuer", "", "the provisioner's base URL (tokens' iss; keys from its /.well-known/openid-configuration)")
	f.StringVar(&o.Listen, "listen", gateway.DefaultListen, "address to listen on")
	f.StringVar(&o.MetricsAddr, "metrics-addr", "", "address for Prometheus /metrics; empty disables")
	f.StringVar(&o.TLSCert, "tls-cert", "", "PEM certificate (chain) to serve HTTPS with; with --tls-key")
	f.StringVar(&o.TLSKey, "tls-key", "", "PEM private key of --tls-cert")
	f.IntVar(&o.TrustProxy, "trust-proxy", 0, "number of proxies in front that append X-Forwarded-For (0: use the peer address)")
	def := gateway.DefaultLimits()
	for i, l := range [4]gateway.Limit{def.Anonymous, def.Member, def.OrgMember, def.Admin} {
		lvl := provisioner.Level(i)
		f.StringVar(&o.Rates[i], "rate-"+levelFlags[i], gateway.FormatRate(l.Rate), "rate limit for "+lvl.String()+" callers")
		f.IntVar(&o.Bursts[i], "burst-"+levelFlags[i], l.Burst, "burst for "+lvl.String()+" callers")
	}
	f.IntVar(&o.Nodes, "nodes", 0, "answer /discovery/status with this node count (a local cluster); 0 forwards it")
	f.DurationVar(&o.UpstreamTimeout, "upstream-timeout", gateway.DefaultUpstreamTimeout, "time to connect and get response headers from the upstream (504 after)")
	f.StringVar(&o.UpstreamHealth, "upstream-health", gateway.DefaultUpstreamHealth, "upstream path /healthz?upstream=1 checks")
	f.DurationVar(&o.JWKSMinRefresh, "jwks-min-refresh", gateway.DefaultJWKSMinRefresh, "least time between key fetches caused by unknown key ids")
	f.DurationVar(&o.JWKSRefresh, "jwks-refresh", gateway.DefaultJWKSInterval, "period of the background key refresh")
	f.IntVar(&o.CacheSize, "cache-size", gateway.DefaultCacheSize, "verified tokens to remember; 0 disables the cache")
	f.StringVar(&o.LogFormat, "log-format", "text", "log format: text or json")
	f.StringVar(&o.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
	return cmd
}

// config checks every flag and returns the gateway's configuration.
func (o *gatewayOptions) config(log *slog.Logger) (gateway.Config, error) {
	if err := provisioner.ValidateClusterName(o.Cluster); err != nil {
		return gateway.Config{}, usageError{err}
	}
	if o.Public == o.Private {
		return gateway.Config{}, usagef("give exactly one of --public and --private")
	}
	for _, u := range []struct{ flag, v string }{{"upstream", o.Upstream}, {"issuer", o.Issuer}} {
		if err := gateway.CheckURL("--"+u.flag, u.v); err != nil {
			return gateway.Config{}, usageError{err}
		}
	}
	for _, a := range []struct{ flag, v string }{{"listen", o.Listen}, {"metrics-addr", o.MetricsAddr}} {
		if _, _, err := net.SplitHostPort(a.v); err != nil && (a.v != "" || a.flag == "listen") {
			return gateway.Config{}, usagef("invalid --%s %q: want HOST:PORT", a.flag, a.v)
		}
	}
	switch {
	case o.TrustProxy < 0 || o.TrustProxy > 10:
		return gateway.Config{}, usagef("--trust-proxy must be between 0 and 10")
	case o.Nodes < 0 || o.Nodes > 10000:
		return gateway.Config{}, usagef("--nodes must be between 0 and 10000")
	case o.UpstreamTimeout < 100*time.Millisecond || o.UpstreamTimeout > time.Hour:
		return gateway.Config{}, usagef("--upstream-timeout must be between 100ms and 1h")
	case o.JWKSMinRefresh < 0 || o.JWKSMinRefresh > time.Hour:
		return gateway.Config{}, usagef("--jwks-min-refresh must be between 0 and 1h")
	case o.JWKSRefresh < time.Second || o.JWKSRefresh > 24*time.Hour:
		return gateway.Config{}, usagef("--jwks-refresh must be between 1s and 24h")
	case o.CacheSize < 0 || o.CacheSize > 1_000_000:
		return gateway.Config{}, usagef("--cache-size must be between 0 and 1000000")
	case o.MetricsAddr != "" && o.MetricsAddr == o.Listen && !strings.HasSuffix(o.Listen, ":0"):
		return gateway.Config{}, usagef("--metrics-addr must differ from --listen: metrics stay off the public port")
	}
	var lims [4]gateway.Limit
	for i := range lims {
		r, err := gateway.ParseRate(o.Rates[i])
		if err != nil {
			return gateway.Config{}, usagef("--rate-%s: %v", levelFlags[i], provisioner.ErrorMessage(err))
		}
		if o.Bursts[i] < 0 || o.Bursts[i] > 1_000_000 {
			return gateway.Config{}, usagef("--burst-%s must be between 0 and 1000000", levelFlags[i])
		}
		lims[i] = gateway.Limit{Rate: r, Burst: o.Bursts[i]}
	}
	up, _ := url.Parse(o.Upstream)
	cache := o.CacheSize
	if cache == 0 {
		cache = -1
	}
	return gateway.Config{Cluster: o.Cluster, Public: o.Public, Upstream: up, Issuer: o.Issuer,
		UpstreamTimeout: o.UpstreamTimeout, UpstreamHealth: o.UpstreamHealth,
		JWKSMinRefresh: max(o.JWKSMinRefresh, time.Nanosecond), JWKSInterval: o.JWKSRefresh,
		TrustedProxies: o.TrustProxy, CacheSize: cache, Nodes: o.Nodes, Logger: log,
		Limits: gateway.Limits{Anonymous: lims[0], Member: lims[1], OrgMember: lims[2], Admin: lims[3]}}, nil
}

func gatewayRun(ctx context.Context, o *gatewayOptions) error {
	log, err := (&serveOptions{io: o.io, LogFormat: o.LogFormat, LogLevel: o.LogLevel}).logger()
	if err != nil {
		return err
	}
	cfg, err := o.config(log)
	if err != nil {
		return err
	}
	g, err := gateway.New(cfg)
	if err != nil {
		return usageError{err}
	}
	var tlsCfg *tls.Config
	if o.TLSCert != "" || o.TLSKey != "" {
		if o.TLSCert == "" || o.TLSKey == "" {
			return usagef("give both --tls-cert and --tls-key")
		}
		cert, err := tls.LoadX509KeyPair(o.TLSCert, o.TLSKey)
		if err != nil {
			return usagef("--tls-cert/--tls-key: %v", err)
		}
		tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	l, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.Listen, err)
	}
	if tlsCfg != nil {
		// The gateway terminates TLS itself: nothing else need sit on the public port.
		l = tls.NewListener(l, tlsCfg)
	}
	var ml net.Listener
	if o.MetricsAddr != "" {
		if ml, err = net.Listen("tcp", o.MetricsAddr); err != nil {
			l.Close()
			return fmt.Errorf("listen on %s: %w", o.MetricsAddr, err)
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go g.Run(ctx) // keeps the issuer's keys fresh
	errc := make(chan error, 2)
	if ml != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", g.MetricsHandler())
		log.Info("gateway metrics listening", "addr", ml.Addr().String())
		go func() { errc <- phttp.Serve(ctx, ml, mux, 5*time.Second) }()
	}
	log.Info("gateway listening", "addr", l.Addr().String(), "tls", tlsCfg != nil, "cluster", o.Cluster,
		"visibility", map[bool]string{true: "public", false: "private"}[o.Public],
		"upstream", cfg.Upstream.Redacted(), "issuer", o.Issuer)
	err = phttp.Serve(ctx, l, g, 15*time.Second)
	cancel() // stop the metrics listener with the gateway
	if ml != nil {
		err = errors.Join(err, <-errc)
	}
	log.Info("gateway stopped")
	return err
}
