package local

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"log/slog"
	"net/url"
	"path/filepath"
	"time"

	"provisioner/local/cluster"
	"provisioner/local/ilb"
	"provisioner/local/keyring"
)

// Defaults of Config.
const (
	// DefaultKeyRefresh is how often the local ILBs get the issuer's
	// current key (ILBKeyRefresh).
	DefaultKeyRefresh = 5 * time.Minute
	// DefaultUpstreamHealth is the health path of a ClusterCommand
	// (UpstreamHealth): SlideRule's own.
	DefaultUpstreamHealth = cluster.DefaultUpstreamHealth
)

// clusters returns the local cluster driver, or nil when no upstream is
// set (then DEPLOY answers that deployment is not enabled). Start adopts
// the clusters still alive from a previous run, in the background.
func (c Config) clusters(ctx context.Context, issuer string, keys *keyring.Keyring, log *slog.Logger) (*cluster.Driver, error) {
	if c.ClusterUpstream == "" && c.ClusterCommand == "" {
		log.Warn("no --cluster-upstream or --cluster-command: DEPLOY is disabled")
		return nil, nil
	}
	if c.ClusterUpstream != "" {
		if u, err := url.Parse(c.ClusterUpstream); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, configErrorf("--cluster-upstream must be an http(s) URL")
		}
	}
	ilbCfg, err := c.ilb(ctx, keys, log)
	if err != nil {
		return nil, err
	}
	return cluster.New(cluster.Config{Dir: filepath.Join(c.Data, clustersDir), Issuer: issuer,
		Upstream: c.ClusterUpstream, Command: c.ClusterCommand, UpstreamHealth: c.UpstreamHealth, Logger: log,
		ILB: ilbCfg})
}

// enableILB says how to run local clusters on production's ILB.
const enableILB = "give --ilb-dir (a SlideRule checkout's apps/ilb) and HAProxy >= 3.0 " +
	"(scripts/haproxy.sh builds 3.0 into .cache/haproxy; pass it with --haproxy or put it on PATH); make run does so when both are at hand"

// ilb decides how local clusters run: on production's ILB when ILBDir is
// given and a usable HAProxy is found, else (nil) behind our gateway, the
// fallback. It logs which, and why.
func (c Config) ilb(ctx context.Context, keys *keyring.Keyring, log *slog.Logger) (*cluster.ILBConfig, error) {
	if c.ILBDir == "" {
		log.Info("local clusters: our gateway in front of each cluster (fallback); to run production's ILB, " + enableILB)
		return nil, nil
	}
	if err := ilb.CheckSrc(c.ILBDir); err != nil {
		return nil, configErrorf("--ilb-dir: %v", err)
	}
	fallback := func(why error) (*cluster.ILBConfig, error) {
		log.Warn("local clusters: NOT on production's ILB, our gateway instead (fallback)", "reason", why.Error(), "enable", enableILB)
		return nil, nil
	}
	if c.ClusterCommand == "" {
		return fallback(errors.New("the ILB's nodes are started by --cluster-command, and there is none"))
	}
	bin, err := ilb.FindHAProxy(c.HAProxy)
	if err != nil {
		return fallback(err)
	}
	v, err := ilb.CheckHAProxy(ctx, bin)
	if err != nil {
		return fallback(err)
	}
	refresh := c.ILBKeyRefresh
	if refresh <= 0 {
		refresh = DefaultKeyRefresh
	}
	log.Info("local clusters: production's ILB", "ilb_dir", c.ILBDir, "haproxy", bin, "version", v.String(),
		"key_refresh", refresh)
	return &cluster.ILBConfig{HAProxy: bin, Dir: c.ILBDir, Domain: c.ClusterDomain,
		Key: func(ctx context.Context) ([]byte, error) { return currentKeyPEM(ctx, keys) }}, nil
}

// currentKeyPEM is the signing key's public half as GET /auth/pem serves
// it: a PKIX "PUBLIC KEY" PEM.
func currentKeyPEM(ctx context.Context, keys *keyring.Keyring) ([]byte, error) {
	kid, _, err := keys.Current(ctx)
	if err != nil {
		return nil, err
	}
	pk, err := keys.PublicKey(ctx, kid)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(pk.Key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// keyWatch is how often refreshILBKeys looks whether the current key
// changed (a cheap look at the keyring).
const keyWatch = 5 * time.Second

// refreshILBKeys gives the local ILBs the current signing key every
// interval, and at once when the current key changes (a rotation by this
// service or by `provisioner keys rotate`).
func refreshILBKeys(ctx context.Context, d *cluster.Driver, keys *keyring.Keyring, interval time.Duration, log *slog.Logger) {
	if d == nil {
		return
	}
	last, _, _ := keys.Current(ctx)
	next := time.Now().Add(interval)
	t := time.NewTicker(min(keyWatch, interval))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		kid, _, err := keys.Current(ctx)
		if err == nil && kid == last && time.Now().Before(next) {
			continue
		}
		if err := d.RefreshKeys(ctx); err != nil {
			log.Warn("refreshing the local ILBs' key", "err", err)
			continue // again at the next tick
		}
		last, next = kid, time.Now().Add(interval)
	}
}
