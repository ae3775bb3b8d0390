// Package ilb runs production SlideRule's Intelligent Load Balancer (ILB)
// on this machine: its haproxy.cfg, orchestrator.lua and analyzer.lua under
// HAProxy >= 3.0, with stand-in nodes that register with it as a SlideRule
// node's server.lua does.
//
// The configuration is production's, byte for byte, except for mechanical
// edits made by Prepare (see there): file paths point into the cluster's own
// directory, listeners move to loopback ports, the TLS listener and the
// user/group switch are dropped, the monitor backend points at loopback,
// and, under HAProxy 3.0, the 3.1+ keyword tune.lua.bool-sample-conversion is
// dropped (3.0 already behaves as it asks). So the token checks a cluster
// makes here are production's own.
//
// HAProxy 2.6 is refused (CheckHAProxy): its jwt_payload_query yields
// nothing for an array "aud", so login tokens (whose aud is an array) would
// never open a cluster.
//
// The package is the runtime the local cluster driver uses; ilbtest starts
// an ILB for a test.
package ilb
