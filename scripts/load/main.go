// Command load drives a bounded load at a provisioner or gateway on this
// machine and reports throughput and latency percentiles.
//
//	go run ./scripts/load -url http://127.0.0.1:8080/access -token $T -body '{"cluster":"demo"}' -n 20000 -c 16
//	go run ./scripts/load -url http://127.0.0.1:9000/source/version -rate 2000 -d 10s
//
// With -tokens and -bodies (files, one token or body a line) request k,
// counting from 0, sends token k mod T and body (k div T) mod B: the first
// T×B requests are each (token, body) pair once, later ones repeat them.
//
//	go run ./scripts/load -url http://127.0.0.1:8080/access -tokens users.txt -bodies clusters.txt -n 10000 -c 16
//
// With -direct it drives the same load straight at a second URL (a cluster
// behind a gateway) and reports the gateway's overhead; -upstream runs a stub
// cluster to put behind one:
//
//	go run ./scripts/load -upstream 127.0.0.1:9100
//	go run ./scripts/load -method GET -url http://127.0.0.1:9000/source/version \
//	    -direct http://127.0.0.1:9100/source/version -rate 2000 -d 10s -c 8
//
// It refuses targets off loopback: load is only ever sent to this machine.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	target := flag.String("url", "", "target URL (loopback only)")
	method := flag.String("method", "POST", "HTTP method")
	body := flag.String("body", "", "request body (JSON)")
	token := flag.String("token", "", "bearer token")
	tokensFile := flag.String("tokens", "", "file of bearer tokens, one a line, taken in turn (instead of -token)")
	bodiesFile := flag.String("bodies", "", "file of request bodies, one a line, each sent with every token in turn (instead of -body)")
	n := flag.Int("n", 10000, "at most this many requests")
	c := flag.Int("c", 8, "concurrent workers (closed loop) ")
	rate := flag.Int("rate", 0, "requests per second (open loop); 0 = as fast as the workers go")
	d := flag.Duration("d", 30*time.Second, "at most this long")
	direct := flag.String("direct", "", "also load this URL (the upstream behind -url) the same way, and compare")
	upstream := flag.String("upstream", "", "run a stub cluster on this loopback address instead of sending load")
	flag.Parse()
	if *upstream != "" {
		serveStub(*upstream)
		return
	}
	checkLoopback(*target)
	if *direct != "" {
		checkLoopback(*direct)
	}
	if *tokensFile != "" || *bodiesFile != "" {
		if *direct != "" {
			fatal("-tokens and -bodies do not go with -direct")
		}
		tokens, bodies := []string{*token}, []string{*body}
		if *tokensFile != "" {
			tokens = lines(*tokensFile)
		}
		if *bodiesFile != "" {
			bodies = lines(*bodiesFile)
		}
		r := runPairs(*target, *method, tokens, bodies, *n, *c, *rate, *d)
		r.print(os.Stdout)
		fmt.Printf("pairs %d (%d tokens x %d bodies)\n", len(tokens)*len(bodies), len(tokens), len(bodies))
		return
	}
	if *direct == "" {
		r := run(*target, *method, *body, *token, *n, *c, *rate, *d)
		r.print(os.Stdout)
		return
	}
	compare(*direct, *target, *method, *body, *token, *n, *c, *rate, *d)
}

func checkLoopback(target string) {
	u, err := url.Parse(target)
	if err != nil || u.Host == "" {
		fatal("need -url")
	}
	if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		fatal("refusing non-loopback target %s", u.Hostname())
	}
}

// result holds what a run measured.
type result struct {
	lat      []time.Duration
	errors   int64
	statuses map[int]int
	elapsed  time.Duration
}

// lines returns the non-empty lines of a file.
func lines(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		fatal("%v", err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		fatal("%s is empty", path)
	}
	return out
}

func run(target, method, body, token string, n, c, rate int, d time.Duration) result {
	return runPairs(target, method, []string{token}, []string{body}, n, c, rate, d)
}

// runPairs is run with request k (from 0) carrying tokens[k mod T] and
// bodies[(k div T) mod B].
func runPairs(target, method string, tokens, bodies []string, n, c, rate int, d time.Duration) result {
	tr := &http.Transport{MaxIdleConnsPerHost: c * 2, MaxConnsPerHost: c * 2}
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var next atomic.Int64
	var mu sync.Mutex
	res := result{statuses: map[int]int{}}
	var errs atomic.Int64
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, n/c+1)
			st := map[int]int{}
			for {
				k := next.Add(1)
				if k > int64(n) || !time.Now().Before(deadline) {
					break
				}
				// Open loop: request k is due at start + k/rate, whatever
				// the others do (a ticker drops ticks at high rates).
				if rate > 0 {
					due := start.Add(time.Duration(k-1) * time.Second / time.Duration(rate))
					if due.After(deadline) {
						break
					}
					time.Sleep(time.Until(due))
				}
				i := int(k-1) % (len(tokens) * len(bodies))
				token, body := tokens[i%len(tokens)], bodies[i/len(tokens)]
				req, _ := http.NewRequest(method, target, bytes.NewReader([]byte(body)))
				if body != "" {
					req.Header.Set("Content-Type", "application/json")
				}
				if token != "" {
					req.Header.Set("Authorization", "Bearer "+token)
				}
				t0 := time.Now()
				resp, err := hc.Do(req)
				if err != nil {
					errs.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				lat = append(lat, time.Since(t0))
				st[resp.StatusCode]++
			}
			mu.Lock()
			res.lat = append(res.lat, lat...)
			for k, v := range st {
				res.statuses[k] += v
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.errors = errs.Load()
	return res
}

// pct returns the p-th latency percentile; r.lat must be sorted.
func (r result) pct(p float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	return r.lat[int(p*float64(len(r.lat)-1))]
}

func (r result) print(w io.Writer) {
	sort.Slice(r.lat, func(i, j int) bool { return r.lat[i] < r.lat[j] })
	pct := r.pct
	fmt.Fprintf(w, "requests %d in %v: %.0f req/s, errors %d, statuses %v\n",
		len(r.lat), r.elapsed.Round(time.Millisecond), float64(len(r.lat))/r.elapsed.Seconds(), r.errors, r.statuses)
	fmt.Fprintf(w, "latency p50 %v p90 %v p99 %v max %v\n", pct(0.50), pct(0.90), pct(0.99), pct(1))
}

func fatal(f string, a ...any) {
	fmt.Fprintf(os.Stderr, "load: "+f+"\n", a...)
	os.Exit(2)
}
