package ilb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Node is the stand-in SlideRule node: it answers /source/health and
// /source/version, echoes the identity the load balancer sent
// (x-sliderule-account, x-sliderule-org-roles, as production's ILB and our
// gateway set them) and, given an orchestrator, starts
// and registers as a node's server.lua does: "http://IPV4:PORT" with
// service $CLUSTER, first with reset, then again before each registration
// ends.
type Node struct {
	Service      string        // $CLUSTER: the cluster's name
	Version      string        // answered by /source/version
	Orchestrator string        // $ORCHESTRATOR, e.g. http://127.0.0.1:8050; empty: no registration
	IPv4         string        // $IPV4, the address registered; loopback only, default 127.0.0.1
	Lifetime     time.Duration // of a registration; zero means NodeLifetime
	Logger       *slog.Logger  // nil discards
}

// NodeFromEnv reads a node's settings as production passes them: CLUSTER,
// VERSION, ORCHESTRATOR, IPV4, and NODE_LIFETIME (seconds). PORT is the
// port to listen on.
func NodeFromEnv(getenv func(string) string) (*Node, int, error) {
	port, err := strconv.Atoi(getenv("PORT"))
	if err != nil || port <= 0 || port > 65535 {
		return nil, 0, fmt.Errorf("PORT %q is not a port", getenv("PORT"))
	}
	n := &Node{Service: getenv("CLUSTER"), Version: getenv("VERSION"), Orchestrator: getenv("ORCHESTRATOR"), IPv4: getenv("IPV4")}
	if s := getenv("NODE_LIFETIME"); s != "" {
		secs, err := strconv.Atoi(s)
		if err != nil || secs < 2 {
			return nil, 0, fmt.Errorf("NODE_LIFETIME %q: want seconds >= 2", s)
		}
		n.Lifetime = time.Duration(secs) * time.Second
	}
	return n, port, nil
}

func (n *Node) check() error {
	if n.IPv4 == "" {
		n.IPv4 = "127.0.0.1"
	}
	if a, err := netip.ParseAddr(n.IPv4); err != nil || !a.Is4() || !a.IsLoopback() {
		return fmt.Errorf("IPV4 %q: a stand-in node registers loopback addresses only", n.IPv4)
	}
	if n.Orchestrator != "" && n.Service == "" {
		return errors.New("CLUSTER (the service to register with) is empty")
	}
	if n.Lifetime <= 0 {
		n.Lifetime = NodeLifetime
	}
	if n.Logger == nil {
		n.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Run listens on IPv4:port and serves until ctx ends.
func (n *Node) Run(ctx context.Context, port int) error {
	if err := n.check(); err != nil {
		return err
	}
	l, err := net.Listen("tcp", net.JoinHostPort(n.IPv4, strconv.Itoa(port)))
	if err != nil {
		return err
	}
	return n.Serve(ctx, l)
}

// Serve serves on l (a loopback listener) and registers it until ctx ends.
func (n *Node) Serve(ctx context.Context, l net.Listener) error {
	if err := n.check(); err != nil {
		l.Close()
		return err
	}
	srv := &http.Server{Handler: n, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	if n.Orchestrator != "" {
		port := l.Addr().(*net.TCPAddr).Port
		go n.register(ctx, "http://"+n.IPv4+":"+strconv.Itoa(port))
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		return nil
	}
}

// register keeps the node registered: at once (reset: a fresh start),
// again at half the lifetime, retrying every second while it fails.
func (n *Node) register(ctx context.Context, address string) {
	reset := true
	for {
		err := Register(ctx, n.Orchestrator, Registration{Service: n.Service,
			Lifetime: int(n.Lifetime / time.Second), Address: address, Reset: reset})
		wait := n.Lifetime / 2
		if err != nil {
			n.Logger.Warn("registration failed", "orchestrator", n.Orchestrator, "err", err)
			wait = time.Second
		} else {
			if reset {
				n.Logger.Info("registered", "address", address, "service", n.Service, "orchestrator", n.Orchestrator)
			}
			reset = false
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// ServeHTTP answers as a node would on the paths a client touches first,
// and echoes the caller's identity as the load balancer sent it.
func (n *Node) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body := map[string]any{
		"cluster":   n.Service,
		"path":      r.URL.Path,
		"account":   strings.Join(r.Header.Values("X-Sliderule-Account"), ", "),
		"org_roles": strings.Join(r.Header.Values("X-Sliderule-Org-Roles"), ", "),
	}
	switch {
	case r.URL.Path == "/source/health":
		body = map[string]any{"healthy": true}
	case r.URL.Path == "/source/version":
		v := n.Version
		if v == "" {
			v = "latest"
		}
		body["server"] = map[string]any{"version": v}
	}
	b, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.Write(append(b, '\n'))
}
