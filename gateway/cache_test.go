package gateway

import (
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"provisioner"
)

func TestCacheSkipsVerification(t *testing.T) {
	s, up, clk := newSigner(t), newUpstream(t), newClock()
	keys := &countingKeys{KeySet: s.keys}
	g := newGateway(t, Config{Now: clk.Now, CacheTTL: 10 * time.Minute}, up.URL, keys)
	tok := s.cluster(t, otto, "demo") // valid for an hour
	for i := 0; i < 5; i++ {
		if a := call(g, "GET", "/source/version", peer, bearerOf(tok)...); a.status != 200 {
			t.Fatalf("request %d: %d %s", i, a.status, a.raw)
		}
	}
	if n := keys.n.Load(); n != 1 {
		t.Fatalf("%d verifications for one hot token, want 1", n)
	}
	// Past the cache TTL the token is checked again.
	clk.Add(11 * time.Minute)
	call(g, "GET", "/source/version", peer, bearerOf(tok)...)
	if n := keys.n.Load(); n != 2 {
		t.Fatalf("%d verifications after the TTL, want 2", n)
	}
	// Never past exp: an hour later the cached token is refused.
	clk.Add(time.Hour)
	a := call(g, "GET", "/source/version", peer, bearerOf(tok)...)
	wantRefusal(t, a, 401, provisioner.EUNAUTHORIZED)
	if a.str("error_description") != "token expired" {
		t.Errorf("expired token: %s", a.raw)
	}
	// Refused tokens are not cached.
	other := s.issuedAt(clk.Now()).cluster(t, otto, "other")
	for i := 0; i < 2; i++ {
		wantRefusal(t, call(g, "GET", "/source/version", peer, bearerOf(other)...), 403, provisioner.EFORBIDDEN)
	}
	if n := keys.n.Load(); n != 5 {
		t.Fatalf("%d verifications, want 5", n)
	}
}

func TestCacheDisabled(t *testing.T) {
	s, up := newSigner(t), newUpstream(t)
	keys := &countingKeys{KeySet: s.keys}
	g := newGateway(t, Config{CacheSize: -1}, up.URL, keys)
	tok := s.cluster(t, otto, "demo")
	for i := 0; i < 3; i++ {
		call(g, "GET", "/source/version", peer, bearerOf(tok)...)
	}
	if n := keys.n.Load(); n != 3 {
		t.Fatalf("%d verifications without a cache, want 3", n)
	}
}

func TestCacheBounded(t *testing.T) {
	now := time.Now()
	c := newTokenCache(100, time.Minute)
	claims := provisioner.Claims{Subject: "otto", ExpiresAt: now.Add(time.Hour)}
	for i := 0; i < 10000; i++ {
		c.put(sha256.Sum256(fmt.Appendf(nil, "tok-%d", i)), claims, now)
	}
	if n := c.len(); n > 100 {
		t.Fatalf("%d entries, bound 100", n)
	}
	// An entry already expired (within the verifier's leeway) is not stored.
	k := sha256.Sum256([]byte("late"))
	c.put(k, provisioner.Claims{ExpiresAt: now.Add(-time.Second)}, now)
	if _, ok := c.get(k, now); ok {
		t.Fatal("cached an expired token")
	}
}
