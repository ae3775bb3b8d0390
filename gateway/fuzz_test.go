package gateway

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"provisioner"
)

func FuzzBearer(f *testing.F) {
	for _, s := range []string{
		"", "Bearer", "Bearer ", "Bearer a.b.c", "bearer  a.b.c", "Basic dXNlcjpwYXNz", "Bearer a.b",
		"Bearer a.b.c.d", "Bearer ..", "Bearer a.b.", "Bearer eyJhbGciOiJub25lIn0.e30.",
		"Bearer eyJhbGciOiJFUzI1NiIsInR5cCI6ImNsdXN0ZXIrand0In0.eyJhdWQiOiJkZW1vIn0.c2ln",
		"Bearer a.b.c\x00", "Bearer \xff.\xfe.\xfd", "Bearer " + strings.Repeat("A", MaxAuthorization),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		tok, err := bearer(http.Header{"Authorization": {h}})
		if err != nil {
			if tok != "" || provisioner.ErrorCode(err) != provisioner.EUNAUTHORIZED || provisioner.ErrorMessage(err) == "" {
				t.Fatalf("%q: %q, %v", h, tok, err)
			}
			return
		}
		// Accepted: a Bearer header carrying three base64url segments,
		// within the size cap, and nothing else.
		if len(h) > MaxAuthorization || !strings.EqualFold(h[:7], "bearer ") || !strings.HasSuffix(h, tok) ||
			strings.Count(tok, ".") != 2 || strings.Trim(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") != "" {
			t.Fatalf("accepted %q as %q", h, tok)
		}
		for _, seg := range strings.Split(tok, ".") {
			if seg == "" {
				t.Fatalf("accepted an empty segment in %q", tok)
			}
		}
	})
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
		a := clientAddr(remote, h, trusted)
		key := network(a)
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
		if trusted <= 0 && a != clientAddr(remote, nil, 0) {
			t.Fatalf("X-Forwarded-For %q changed the source without trusted proxies", xff)
		}
		// The source is the peer or the one entry the trusted hops name.
		if a != parseAddr(remote) && a != parseAddr(fromRight([]string{xff}, trusted)) {
			t.Fatalf("%v is neither the peer %q nor entry %d of %q", a, remote, trusted, xff)
		}
	})
}
