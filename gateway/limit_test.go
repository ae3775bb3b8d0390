package gateway

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"provisioner"
)

func TestRateLimitPerNetwork(t *testing.T) {
	s, up, clk := newSigner(t), newUpstream(t), newClock()
	g := newGateway(t, Config{Public: true, Now: clk.Now, Limits: Limits{Anonymous: Limit{Rate: 1, Burst: 2}}}, up.URL, s.keys)

	// Two addresses of one /24 share a bucket; spoofed X-Forwarded-For is
	// ignored without trusted proxies.
	for i, remote := range []string{"203.0.113.5:1000", "203.0.113.200:2000"} {
		if a := call(g, "GET", "/source/version", remote, "X-Forwarded-For", fmt.Sprintf("10.9.%d.1", i)); a.status != 200 {
			t.Fatalf("request %d: %d %s", i, a.status, a.raw)
		}
	}
	a := call(g, "GET", "/source/version", "203.0.113.9:3000", "X-Forwarded-For", "192.0.2.1")
	wantRefusal(t, a, 429, provisioner.ERATELIMITED)
	if a.header.Get("Retry-After") != "1" {
		t.Errorf("Retry-After %q", a.header.Get("Retry-After"))
	}
	// Another network has its own bucket; so do IPv6 /48s.
	if a := call(g, "GET", "/source/version", "203.0.114.5:1000"); a.status != 200 {
		t.Fatalf("other network: %d", a.status)
	}
	for _, remote := range []string{"[2001:db8:1::1]:1", "[2001:db8:1:ffff::2]:1"} {
		if a := call(g, "GET", "/source/version", remote); a.status != 200 {
			t.Fatalf("%s: %d", remote, a.status)
		}
	}
	wantRefusal(t, call(g, "GET", "/source/version", "[2001:db8:1:8000::9]:1"), 429, provisioner.ERATELIMITED)
	if a := call(g, "GET", "/source/version", "[2001:db8:2::1]:1"); a.status != 200 {
		t.Fatalf("other /48: %d", a.status)
	}
	// The window passes: one token back per second.
	clk.Add(time.Second)
	if a := call(g, "GET", "/source/version", "203.0.113.77:1"); a.status != 200 {
		t.Fatalf("after the window: %d %s", a.status, a.raw)
	}
	wantRefusal(t, call(g, "GET", "/source/version", "203.0.113.77:1"), 429, provisioner.ERATELIMITED)
}

func TestRateLimitTrustedProxy(t *testing.T) {
	s, up, clk := newSigner(t), newUpstream(t), newClock()
	g := newGateway(t, Config{Public: true, Now: clk.Now, TrustedProxies: 1,
		Limits: Limits{Anonymous: Limit{Rate: 1, Burst: 1}}}, up.URL, s.keys)
	const proxy = "10.0.0.2:5555"
	// Behind one proxy the client is the rightmost entry; whatever the
	// client wrote to its left does not buy a new bucket.
	if a := call(g, "GET", "/source/version", proxy, "X-Forwarded-For", "1.1.1.1, 192.0.2.10"); a.status != 200 {
		t.Fatal(a.raw)
	}
	if _, h := up.seen(); h.Get("X-Forwarded-For") != "192.0.2.10" {
		t.Errorf("upstream X-Forwarded-For %q", h.Get("X-Forwarded-For"))
	}
	wantRefusal(t, call(g, "GET", "/source/version", proxy, "X-Forwarded-For", "8.8.8.8, 192.0.2.11"), 429, provisioner.ERATELIMITED)
	wantRefusal(t, call(g, "GET", "/source/version", proxy, "X-Forwarded-For", "9.9.9.9", "X-Forwarded-For", "192.0.2.12"), 429, provisioner.ERATELIMITED)
	if a := call(g, "GET", "/source/version", proxy, "X-Forwarded-For", "192.0.3.10"); a.status != 200 {
		t.Fatalf("another client behind the proxy: %d", a.status)
	}
}

func TestRateLimitPerUser(t *testing.T) {
	s, up, clk := newSigner(t), newUpstream(t), newClock()
	g := newGateway(t, Config{Public: true, Now: clk.Now, Limits: Limits{
		Anonymous: Limit{Rate: 100, Burst: 100},
		Member:    Limit{Rate: 0.5, Burst: 2},
		OrgMember: Limit{Rate: 1, Burst: 3},
	}}, up.URL, s.keys)
	miaTok, ottoTok := s.cluster(t, mia, "demo"), s.cluster(t, otto, "demo")
	miaTok2 := s.issuedAt(time.Now().Add(-time.Minute)).cluster(t, mia, "demo")

	// One user is one bucket, whatever the address or the token.
	for i, c := range []struct{ remote, tok string }{{"203.0.113.1:1", miaTok}, {"192.0.2.1:1", miaTok2}} {
		if a := call(g, "GET", "/source/version", c.remote, bearerOf(c.tok)...); a.status != 200 {
			t.Fatalf("mia %d: %d", i, a.status)
		}
	}
	a := call(g, "GET", "/source/version", "198.18.0.1:1", bearerOf(miaTok)...)
	wantRefusal(t, a, 429, provisioner.ERATELIMITED)
	if a.header.Get("Retry-After") != "2" {
		t.Errorf("Retry-After %q at 0.5/s", a.header.Get("Retry-After"))
	}
	// Another user, and anonymous callers from the same network, are not
	// affected; org members have their own, larger bucket.
	for i := 0; i < 3; i++ {
		if a := call(g, "GET", "/source/version", "203.0.113.1:1", bearerOf(ottoTok)...); a.status != 200 {
			t.Fatalf("otto %d: %d", i, a.status)
		}
	}
	wantRefusal(t, call(g, "GET", "/source/version", "203.0.113.1:1", bearerOf(ottoTok)...), 429, provisioner.ERATELIMITED)
	if a := call(g, "GET", "/source/version", "203.0.113.1:1"); a.status != 200 {
		t.Fatalf("anonymous: %d", a.status)
	}
	// Released after the window.
	clk.Add(2 * time.Second)
	if a := call(g, "GET", "/source/version", "203.0.113.1:1", bearerOf(miaTok)...); a.status != 200 {
		t.Fatalf("mia after the window: %d %s", a.status, a.raw)
	}
	// Admins are unlimited by default.
	adaTok := s.cluster(t, ada, "demo")
	for i := 0; i < 500; i++ {
		if a := call(g, "GET", "/source/version", "203.0.113.1:1", bearerOf(adaTok)...); a.status != 200 {
			t.Fatalf("admin request %d: %d", i, a.status)
		}
	}
}

func TestLimiterMemoryBounded(t *testing.T) {
	limits, err := Limits{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	l := newLimiter(limits, 500)
	now := time.Now()
	for i := 0; i < 50000; i++ {
		a := netip.AddrFrom4([4]byte{byte(i >> 16), byte(i >> 8), byte(i), 1})
		_ = l.allow(provisioner.LevelAnonymous, network(a), now)
	}
	if n := l.buckets.Len(); n > 500 {
		t.Fatalf("%d buckets held, want at most 500", n)
	}
	// Refilled buckets are the first to go.
	later := now.Add(time.Minute)
	_ = l.allow(provisioner.LevelMember, "uid:1", later)
	l.buckets.Sweep(later)
	if n := l.buckets.Len(); n != 1 {
		t.Fatalf("%d buckets after everyone went idle, want 1", n)
	}
}

func TestLimitsConfig(t *testing.T) {
	got, err := Limits{Member: Limit{Rate: 2.2}, OrgMember: Unlimited}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	want := [4]Limit{DefaultLimits().Anonymous, {Rate: 2.2, Burst: 5}, Unlimited, Unlimited}
	if got != want {
		t.Fatalf("limits %v, want %v", got, want)
	}
	for s, want := range map[string]rate.Limit{"10/s": 10, "600/m": 10, "36/h": 0.01, "2.5": 2.5, "unlimited": rate.Inf} {
		if r, err := ParseRate(s); err != nil || r != want {
			t.Errorf("ParseRate(%q) = %v, %v", s, r, err)
		}
		if r, _ := ParseRate(FormatRate(want)); r != want {
			t.Errorf("FormatRate(%v) does not round-trip", want)
		}
	}
	for _, s := range []string{"", "0", "-1/s", "10/d", "x/s", "NaN", "+Inf/s", "1e400", "10/s/s"} {
		if _, err := ParseRate(s); err == nil {
			t.Errorf("ParseRate(%q) accepted", s)
		}
	}
}
