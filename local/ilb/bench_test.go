package ilb_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
	"time"

	"provisioner"
	"provisioner/gateway"
	"provisioner/jwt"
	"provisioner/local/ilb/ilbtest"
	"provisioner/local/keyring"
)

// BenchmarkILBPath measures what a request to a stand-in node pays on each
// path in front of it, one request at a time over keep-alive connections:
// straight to the node; through production's ILB (HAProxy + Lua, its
// haproxy.cfg checking the RS256 jwt_cluster with jwt_verify on every
// request), private with a token and public without one; and through our
// gateway (in this process, behind a loopback listener) with its verified-
// token cache, without it, and anonymous on a public cluster. The token is
// a real jwt_cluster of our issuer (local keyring, RSA-2048). Besides ns/op
// it reports the p50 and p99 of the requests' latencies.
//
// It needs HAProxy >= 3.0 and the SlideRule reference files, as
// ilbtest.Start does; without them it is skipped.
func BenchmarkILBPath(b *testing.B) {
	ctx := context.Background()
	keys, err := keyring.Open(keyring.Config{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	tokens := jwt.New(jwt.Config{Issuer: issuer, Signer: keys})
	user := provisioner.User{Login: "alice", ID: 7, Level: provisioner.LevelOrgMember, Org: "sliderule"}
	tok, _, err := tokens.IssueCluster(ctx, user, "demo")
	if err != nil {
		b.Fatal(err)
	}
	pubPEM := keyPEM(b, keys)

	private := ilbtest.Start(b, ilbtest.Options{Cluster: "demo", Issuer: issuer, PEM: pubPEM, Nodes: 1})
	public := ilbtest.Start(b, ilbtest.Options{Cluster: "pub", Public: true, Issuer: issuer, PEM: pubPEM, Nodes: 1})
	node := private.Nodes[0]

	unlimited := gateway.Limits{Anonymous: gateway.Unlimited, Member: gateway.Unlimited, OrgMember: gateway.Unlimited, Admin: gateway.Unlimited}
	gw := func(cfg gateway.Config) string {
		u, err := url.Parse(node)
		if err != nil {
			b.Fatal(err)
		}
		cfg.Upstream, cfg.Issuer, cfg.Keys, cfg.Limits = u, issuer, keys, unlimited
		g, err := gateway.New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		srv := httptest.NewServer(g)
		b.Cleanup(srv.Close)
		return srv.URL
	}
	gwCached := gw(gateway.Config{Cluster: "demo"})
	gwUncached := gw(gateway.Config{Cluster: "demo", CacheSize: -1})
	gwPublic := gw(gateway.Config{Cluster: "pub", Public: true})

	for _, c := range []struct {
		name, url, token string
	}{
		{"direct", node, ""},
		{"ilb-private-token", private.URL, tok},
		{"ilb-public-anonymous", public.URL, ""},
		{"gateway-private-token-cached", gwCached, tok},
		{"gateway-private-token-uncached", gwUncached, tok},
		{"gateway-public-anonymous", gwPublic, ""},
	} {
		b.Run(c.name, func(b *testing.B) {
			client := &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 1}}
			defer client.CloseIdleConnections()
			req, err := http.NewRequest(http.MethodGet, c.url+"/source/version", nil)
			if err != nil {
				b.Fatal(err)
			}
			if c.token != "" {
				req.Header.Set("Authorization", "Bearer "+c.token)
			}
			get := func() {
				res, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					b.Fatalf("status %d", res.StatusCode)
				}
			}
			get() // a connection, and the gateway's cache entry
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				t0 := time.Now()
				get()
				lat = append(lat, time.Since(t0))
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
			b.ReportMetric(float64(lat[(len(lat)-1)*99/100].Nanoseconds()), "p99-ns")
		})
	}
}

// keyPEM is the keyring's current public key as /auth/pem serves it.
func keyPEM(b *testing.B, keys *keyring.Keyring) []byte {
	b.Helper()
	ctx := context.Background()
	kid, _, err := keys.Current(ctx)
	if err != nil {
		b.Fatal(err)
	}
	pk, err := keys.PublicKey(ctx, kid)
	if err != nil {
		b.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(pk.Key)
	if err != nil {
		b.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}
