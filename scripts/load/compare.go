package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"sort"
	"time"
)

// compare drives the same load at the upstream directly and through the
// gateway, in one run, and prints both and the gateway's overhead. A short
// warm-up of each comes first so neither pays for cold connections.
func compare(direct, gateway, method, body, token string, n, c, rate int, d time.Duration) {
	warm := min(d/10, 2*time.Second)
	run(direct, method, body, token, n, c, rate, warm)
	run(gateway, method, body, token, n, c, rate, warm)
	rd := run(direct, method, body, token, n, c, rate, d)
	rg := run(gateway, method, body, token, n, c, rate, d)
	for _, r := range []*result{&rd, &rg} {
		sort.Slice(r.lat, func(i, j int) bool { return r.lat[i] < r.lat[j] })
	}
	fmt.Print("direct   ")
	rd.print(os.Stdout)
	fmt.Print("gateway  ")
	rg.print(os.Stdout)
	for _, p := range []struct {
		name string
		q    float64
	}{{"p50", 0.50}, {"p90", 0.90}, {"p99", 0.99}} {
		a, b := rd.pct(p.q), rg.pct(p.q)
		ratio := 0.0
		if a > 0 {
			ratio = float64(b) / float64(a)
		}
		fmt.Printf("overhead %s x%.2f (+%v)\n", p.name, ratio, (b - a).Round(time.Microsecond))
	}
	fmt.Printf("throughput ratio gateway/direct %.3f\n", (float64(len(rg.lat))/rg.elapsed.Seconds())/(float64(len(rd.lat))/rd.elapsed.Seconds()))
}

// serveStub is a stand-in cluster: any request gets a small JSON answer, as
// SlideRule's /source/version does. Loopback only, like the load.
func serveStub(addr string) {
	host, _, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err != nil || host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		fatal("refusing non-loopback -upstream %s", addr)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		fatal("%v", err)
	}
	fmt.Fprintf(os.Stderr, "stub upstream listening on %s\n", l.Addr())
	err = http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"server":{"version":"v4.9.0","packages":["core","icesat2"]}}` + "\n"))
	}))
	fatal("%v", err)
}
