package clientaddr

import (
	"net/http"
	"net/netip"
	"testing"

	"provisioner/ratelimit"
)

func TestSourceNetwork(t *testing.T) {
	for _, c := range []struct {
		remote  string
		xff     []string
		trusted int
		want    string
	}{
		{"192.0.2.77:1234", nil, 0, "192.0.2.0/24"},
		{"192.0.2.77", nil, 0, "192.0.2.0/24"},
		{"[2001:db8:aa:bb::1]:443", nil, 0, "2001:db8:aa::/48"},
		{"[fe80::1%eth0]:443", nil, 0, "fe80::/48"},
		{"[::ffff:192.0.2.9]:80", nil, 0, "192.0.2.0/24"},
		{"@", nil, 0, "unknown"},
		{"", nil, 0, "unknown"},
		// Without trusted proxies X-Forwarded-For is the client's word: ignored.
		{"192.0.2.77:1", []string{"203.0.113.1"}, 0, "192.0.2.0/24"},
		// One trusted proxy: the rightmost entry, across header lines too.
		{"10.0.0.1:1", []string{"203.0.113.1, 198.51.100.2"}, 1, "198.51.100.0/24"},
		{"10.0.0.1:1", []string{"203.0.113.1", "198.51.100.2"}, 1, "198.51.100.0/24"},
		{"10.0.0.1:1", []string{"203.0.113.1,198.51.100.2 , "}, 1, "198.51.100.0/24"},
		{"10.0.0.1:1", []string{"[2001:db8::5]:8443"}, 1, "2001:db8::/48"},
		{"10.0.0.1:1", []string{"198.51.100.2:4711"}, 1, "198.51.100.0/24"},
		// Two proxies: the second entry from the right.
		{"10.0.0.1:1", []string{"6.6.6.6, 203.0.113.1, 10.0.0.9"}, 2, "203.0.113.0/24"},
		// A chain shorter than promised, or garbage, falls back to the peer.
		{"10.0.0.1:1", []string{"203.0.113.1"}, 2, "10.0.0.0/24"},
		{"10.0.0.1:1", nil, 1, "10.0.0.0/24"},
		{"10.0.0.1:1", []string{"unknown"}, 1, "10.0.0.0/24"},
		{"10.0.0.1:1", []string{"203.0.113.1, not-an-ip"}, 1, "10.0.0.0/24"},
	} {
		h := http.Header{}
		for _, v := range c.xff {
			h.Add("X-Forwarded-For", v)
		}
		if got := ratelimit.Network(From(c.remote, h, c.trusted)); got != c.want {
			t.Errorf("%q %q trusted %d: %s, want %s", c.remote, c.xff, c.trusted, got, c.want)
		}
	}
}

func FuzzSourceNetwork(f *testing.F) {
	for _, c := range []struct {
		remote, xff string
		trusted     int
	}{
		{"192.0.2.1:80", "", 0}, {"[2001:db8::1]:443", "203.0.113.9", 1}, {"10.0.0.1:1", "a, b, 198.51.100.2", 1},
		{"10.0.0.1:1", "1.1.1.1,2.2.2.2,3.3.3.3", 2}, {"@", ",,,", 3}, {"[::ffff:1.2.3.4]:1", "[fe80::1%eth0]:9", 1},
		{"", "999.1.1.1, 1.2.3.4:99999", 1}, {"1.2.3.4", "\x00,\xff", 5},
	} {
		f.Add(c.remote, c.xff, c.trusted)
	}
	f.Fuzz(func(t *testing.T, remote, xff string, trusted int) {
		h := http.Header{}
		if xff != "" {
			h.Set("X-Forwarded-For", xff)
		}
		trusted %= 11
		a := From(remote, h, trusted)
		key := ratelimit.Network(a)
		if !a.IsValid() {
			if key != "unknown" {
				t.Fatalf("invalid address keyed %q", key)
			}
			return
		}
		p, err := netip.ParsePrefix(key)
		if err != nil || a.Zone() != "" || a.Is4In6() || !p.Contains(a) || p.Masked() != p {
			t.Fatalf("%v keyed %q (%v)", a, key, err)
		}
		if want := map[bool]int{true: 24, false: 48}[a.Is4()]; p.Bits() != want {
			t.Fatalf("%v: /%d, want /%d", a, p.Bits(), want)
		}
		// Without trusted proxies, the header never matters.
		if trusted <= 0 && a != From(remote, nil, 0) {
			t.Fatalf("X-Forwarded-For %q changed the source without trusted proxies", xff)
		}
		// The source is the peer or the one entry the trusted hops name.
		if a != Parse(remote) && a != Parse(fromRight([]string{xff}, trusted)) {
			t.Fatalf("%v is neither the peer %q nor entry %d of %q", a, remote, trusted, xff)
		}
	})
}
