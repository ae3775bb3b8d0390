package gateway

import (
	"net/http"
	"testing"
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
		if got := network(clientAddr(c.remote, h, c.trusted)); got != c.want {
			t.Errorf("%q %q trusted %d: %s, want %s", c.remote, c.xff, c.trusted, got, c.want)
		}
	}
}

func TestBearer(t *testing.T) {
	for h, want := range map[string]string{
		"Bearer a.b.c":      "a.b.c",
		"bearer a.b.c":      "a.b.c",
		"BEARER   a-_.b.c9": "a-_.b.c9",
	} {
		got, err := bearer(http.Header{"Authorization": {h}})
		if err != nil || got != want {
			t.Errorf("%q: %q %v", h, got, err)
		}
	}
	if tok, err := bearer(http.Header{}); tok != "" || err != nil {
		t.Errorf("no header: %q %v", tok, err)
	}
	for _, h := range []string{"", "Bearer", "Bearer ", "Bearer a.b", "Bearer a.b.c.d", "Bearer a..c", "Bearer .b.c",
		"Bearer a.b.", "Bearer a.b.c ", "Bearer a.b.c\t", "Bearer a+b.c.d", "Bearer a.b=.c", "Token a.b.c", "Bearera.b.c"} {
		if tok, err := bearer(http.Header{"Authorization": {h}}); err == nil {
			t.Errorf("%q accepted as %q", h, tok)
		}
	}
}
