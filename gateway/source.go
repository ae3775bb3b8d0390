package gateway

import (
	"net/netip"

	"provisioner/ratelimit"
)

// network is the anonymous rate-limit key: the IPv4 /24 or IPv6 /48 of a.
func network(a netip.Addr) string { return ratelimit.Network(a) }
