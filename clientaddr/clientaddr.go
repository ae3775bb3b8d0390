// Package clientaddr finds the address a request comes from, behind a
// known number of trusted reverse proxies: the one rule of the
// provisioner's API and of the cluster gateway.
package clientaddr

import (
	"net/http"
	"net/netip"
	"strings"
)

// From returns the client's address: the peer's, or with trusted proxies
// the address the outermost trusted proxy saw, which is that many entries
// from the right of X-Forwarded-For (each proxy appends its peer). Entries
// further left were written by the client and are never believed; if the
// chain is shorter than promised or the entry is not an address, the peer
// (a proxy) is used, which is stricter, never laxer. The zero Addr when
// the peer is no IP address either.
func From(remoteAddr string, h http.Header, trusted int) netip.Addr {
	peer := Parse(remoteAddr)
	if trusted <= 0 {
		return peer
	}
	if a := Parse(fromRight(h["X-Forwarded-For"], trusted)); a.IsValid() {
		return a
	}
	return peer
}

// fromRight returns the n-th comma-separated entry (1-based) counting from
// the right across all header lines, or "" if there are fewer.
func fromRight(lines []string, n int) string {
	for i := len(lines) - 1; i >= 0; i-- {
		v := lines[i]
		for {
			j := strings.LastIndexByte(v, ',')
			if e := strings.TrimSpace(v[j+1:]); e != "" {
				if n--; n == 0 {
					return e
				}
			}
			if j < 0 {
				break
			}
			v = v[:j]
		}
	}
	return ""
}

// Parse reads "ip", "ip:port" or "[ip]:port", without zone, with
// IPv4-mapped IPv6 addresses as IPv4; the zero Addr if it is none of these.
func Parse(s string) netip.Addr {
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return netip.Addr{}
		}
		a = ap.Addr()
	}
	return a.WithZone("").Unmap()
}
