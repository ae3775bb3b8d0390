package gateway

import (
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync"
	"time"
)

// newProxy returns the reverse proxy to the upstream. The Authorization
// header is forwarded as is: worker nodes may read the token.
func (g *Gateway) newProxy() *httputil.ReverseProxy {
	tr := g.cfg.Transport
	if tr == nil {
		tr = &http.Transport{
			// Never through an environment proxy: the upstream is the
			// cluster's own load balancer.
			DialContext:           (&net.Dialer{Timeout: g.cfg.UpstreamTimeout, KeepAlive: 30 * time.Second}).DialContext,
			ResponseHeaderTimeout: g.cfg.UpstreamTimeout,
			TLSHandshakeTimeout:   min(g.cfg.UpstreamTimeout, 10*time.Second),
			MaxIdleConns:          512,
			MaxIdleConnsPerHost:   512,
			IdleConnTimeout:       90 * time.Second,
		}
	}
	return &httputil.ReverseProxy{
		Rewrite:      g.rewrite,
		Transport:    tr,
		ErrorHandler: g.proxyError,
		ErrorLog:     slog.NewLogLogger(g.log.Handler(), slog.LevelWarn),
		BufferPool:   &buffers{},
	}
}

// buffers reuses the proxy's body copy buffers, which it would otherwise
// allocate (32 KiB) for every request.
type buffers struct{ p sync.Pool }

func (b *buffers) Get() []byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		return *v
	}
	return make([]byte, 32<<10)
}

func (b *buffers) Put(buf []byte) { b.p.Put(&buf) }

// rewrite addresses the upstream and states who the caller is. Client
// copies of the identity headers go first, whatever their spelling, and so
// do headers that would let a client speak for the gateway (X-Real-IP).
// ReverseProxy itself drops hop-by-hop headers, and keeps Upgrade only for
// the requests ServeHTTP let through with one.
func (g *Gateway) rewrite(pr *httputil.ProxyRequest) {
	pr.SetURL(g.cfg.Upstream)
	stripIdentity(pr.Out.Header)
	id, _ := pr.In.Context().Value(ctxKey{}).(identity)
	if id.user != "" {
		pr.Out.Header.Set(HeaderAccount, id.user)
		pr.Out.Header.Set(HeaderOrgRoles, id.roles)
	}
	// The client as the gateway determined it, not what it claimed.
	if id.client.IsValid() {
		pr.Out.Header.Set("X-Forwarded-For", id.client.String())
	}
	pr.Out.Header.Set("X-Forwarded-Host", pr.In.Host)
	proto := "http"
	if pr.In.TLS != nil {
		proto = "https"
	}
	pr.Out.Header.Set("X-Forwarded-Proto", proto)
}

// strippedHeaders are removed from every forwarded request: the identity
// the gateway asserts (and the names earlier versions used), and client
// addresses only the gateway may state.
var strippedHeaders = []string{HeaderAccount, HeaderOrgRoles, "X-Sliderule-User", "X-Sliderule-Level",
	"X-Real-IP", "Forwarded", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-For"}

// stripIdentity removes every header that an upstream could read as one of
// those: also non-canonical spellings such as x_sliderule_account, which
// some servers (CGI, nginx, Lua) fold into the same name.
func stripIdentity(h http.Header) {
	for k := range h {
		n := strings.ReplaceAll(k, "_", "-")
		for _, s := range strippedHeaders {
			if strings.EqualFold(n, s) {
				delete(h, k)
				break
			}
		}
	}
}

func (g *Gateway) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	rec, ok := w.(*recorder)
	if !ok {
		rec = &recorder{ResponseWriter: w}
	}
	g.upstreamError(rec, r, err)
}
