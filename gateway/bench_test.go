package gateway

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkVerify is the token check per request, with the cache (a hot
// token: hash and lookup) and without (an ECDSA verification each time).
func BenchmarkVerify(b *testing.B) {
	s := newSigner(b)
	tok := s.cluster(b, otto, "demo")
	for _, c := range []struct {
		name string
		size int
	}{{"cached", 0}, {"uncached", -1}} {
		b.Run(c.name, func(b *testing.B) {
			g := newGateway(b, Config{CacheSize: c.size}, "http://127.0.0.1:1", s.keys)
			ctx := context.Background()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := g.verify(ctx, tok); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// canned is an upstream that answers from memory, so BenchmarkHandler
// measures the gateway alone: routing, token, rate limit, proxying.
type canned struct{}

func (canned) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(`{"version":"v4.9.0"}`)), ContentLength: 20, Request: r}, nil
}

func BenchmarkHandler(b *testing.B) {
	s := newSigner(b)
	tok := s.cluster(b, otto, "demo")
	unlimited := Limits{Anonymous: Unlimited, OrgMember: Limit{Rate: 1e9, Burst: 1e9}}
	for _, c := range []struct {
		name   string
		cfg    Config
		header []string
	}{
		{"public-anonymous", Config{Public: true, Limits: unlimited}, nil},
		{"private-token-cached", Config{Limits: unlimited}, bearerOf(tok)},
		{"private-token-uncached", Config{Limits: unlimited, CacheSize: -1}, bearerOf(tok)},
		{"private-refused", Config{Limits: unlimited}, nil},
	} {
		b.Run(c.name, func(b *testing.B) {
			c.cfg.Transport = canned{}
			g := newGateway(b, c.cfg, "http://127.0.0.1:1", s.keys)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				r := httptest.NewRequest("GET", "/source/version", nil)
				r.RemoteAddr = peer
				for i := 0; i+1 < len(c.header); i += 2 {
					r.Header.Set(c.header[i], c.header[i+1])
				}
				for pb.Next() {
					w := httptest.NewRecorder()
					g.ServeHTTP(w, r)
					if w.Code != 200 && c.name != "private-refused" {
						b.Errorf("status %d", w.Code)
						return
					}
				}
			})
		})
	}
}
