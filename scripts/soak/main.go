// Command soak runs `provisioner serve` on a fresh data directory for a
// while under mixed traffic (logins, bad logins, ACCESS, STATUS, reports,
// DEPLOY and DESTROY of local clusters, long polls) and samples the
// server's resident memory and open file descriptors, to show they stay
// bounded. `make soak` runs it; the test command does not.
//
//	go run ./scripts/soak -bin bin/provisioner -d 10m
//
// It sends traffic to 127.0.0.1 only, at a bounded rate, and stops by
// itself. It exits 1 when the last third of the samples grows past the
// first third by more than the allowed slack.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	bin := flag.String("bin", "bin/provisioner", "the provisioner binary")
	dur := flag.Duration("d", 10*time.Minute, "how long to run")
	every := flag.Duration("sample", 10*time.Second, "sampling interval")
	rate := flag.Int("rate", 200, "requests per second, all kinds together")
	identity := flag.String("identity", "examples/identity.json", "static identity file")
	flag.Parse()
	if err := run(*bin, *identity, *dur, *every, *rate); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

type sample struct {
	at       time.Duration
	rssKiB   int
	fds      int
	requests int64
}

func run(bin, identity string, dur, every time.Duration, rate int) error {
	data, err := os.MkdirTemp("", "soak-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(data)
	self, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:"+strconv.Itoa(port), "--data", data,
		"--identity", "static:"+identity, "--cluster-command", "exec "+self+" node",
		"--login-rate-source", "unlimited", "--login-rate-identity", "unlimited", "--login-rate-failure", "unlimited",
		"--log-level", "warn")
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	c := &http.Client{Timeout: 30 * time.Second}
	if err := waitUp(c, base); err != nil {
		return err
	}
	admin, err := login(c, base, "dev-admin-token")
	if err != nil {
		return err
	}
	member, err := login(c, base, "dev-member-token")
	if err != nil {
		return err
	}

	var requests, failures atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	call := func(method, path, token string, body any) (int, map[string]any) {
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, base+path, rd)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		req.Header.Set("Content-Type", "application/json")
		requests.Add(1)
		res, err := c.Do(req)
		if err != nil {
			failures.Add(1)
			return 0, nil
		}
		defer res.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&out)
		if res.StatusCode >= 500 {
			failures.Add(1)
		}
		return res.StatusCode, out
	}
	// Steady traffic: logins good and bad, ACCESS, STATUS, report, info.
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			switch i % 8 {
			case 0:
				call("POST", "/auth/github/pat", "", map[string]string{"pat": "dev-member-token"})
			case 1:
				call("POST", "/auth/github/pat", "", map[string]string{"pat": fmt.Sprintf("wrong-%d", i)})
			case 2, 3:
				call("POST", "/access", member, map[string]string{"cluster": "soak-a"})
			case 4:
				call("POST", "/status", member, map[string]string{"cluster": "soak-a"})
			case 5:
				call("POST", "/report/clusters", member, nil)
			case 6:
				call("POST", "/info", member, nil)
			case 7:
				call("GET", "/clusters", admin, nil)
			}
		}
	}()
	// Cluster churn: one cluster kept, another deployed and destroyed in a loop.
	wg.Add(1)
	go func() {
		defer wg.Done()
		call("POST", "/deploy", member, map[string]any{"cluster": "soak-a", "node_capacity": 1, "ttl": 600, "version": "latest"})
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			_, dep := call("POST", "/deploy", member, map[string]any{"cluster": "soak-b", "node_capacity": 1, "ttl": 60, "version": "latest"})
			if op, _ := dep["operation"].(string); op != "" {
				call("GET", "/operations/"+op+"?wait=25s", member, nil)
			}
			call("POST", "/events", member, map[string]string{"cluster": "soak-b"})
			_, des := call("POST", "/destroy", member, map[string]string{"cluster": "soak-b"})
			if op, _ := des["operation"].(string); op != "" {
				call("GET", "/operations/"+op+"?wait=25s", member, nil)
			}
		}
	}()

	var samples []sample
	start := time.Now()
	for {
		s, err := measure(cmd.Process.Pid)
		if err != nil {
			close(stop)
			wg.Wait()
			return err
		}
		s.at, s.requests = time.Since(start).Round(time.Second), requests.Load()
		samples = append(samples, s)
		fmt.Printf("%8s  rss %7d KiB  fds %4d  requests %8d\n", s.at, s.rssKiB, s.fds, s.requests)
		if time.Since(start) >= dur {
			break
		}
		time.Sleep(every)
	}
	close(stop)
	wg.Wait()
	call("POST", "/destroy", admin, map[string]string{"cluster": "soak-a"})
	call("POST", "/destroy", admin, map[string]string{"cluster": "soak-b"})
	return verdict(samples, requests.Load(), failures.Load(), time.Since(start))
}

// verdict compares the largest figures of the first and last thirds.
func verdict(s []sample, requests, failures int64, took time.Duration) error {
	if len(s) < 6 {
		return fmt.Errorf("only %d samples: run longer", len(s))
	}
	third := len(s) / 3
	maxOf := func(xs []sample, f func(sample) int) int {
		m := 0
		for _, x := range xs {
			m = max(m, f(x))
		}
		return m
	}
	rss := func(x sample) int { return x.rssKiB }
	fds := func(x sample) int { return x.fds }
	r0, r1 := maxOf(s[:third], rss), maxOf(s[len(s)-third:], rss)
	f0, f1 := maxOf(s[:third], fds), maxOf(s[len(s)-third:], fds)
	fmt.Printf("\n%d requests in %s (%.0f/s), %d failed (5xx or transport)\n", requests, took.Round(time.Second), float64(requests)/took.Seconds(), failures)
	fmt.Printf("RSS: max %d KiB in the first third, %d KiB in the last; fds: %d, %d\n", r0, r1, f0, f1)
	// Bounded: the last third may not exceed the first by more than 25%
	// plus 16 MiB (GC and allocator noise), nor hold 20 more descriptors.
	if r1 > r0*5/4+16<<10 || f1 > f0+20 {
		return fmt.Errorf("growth: RSS %d -> %d KiB, fds %d -> %d", r0, r1, f0, f1)
	}
	fmt.Println("bounded")
	return nil
}

func measure(pid int) (sample, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return sample{}, fmt.Errorf("serve is gone: %w", err)
	}
	var s sample
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			s.rssKiB, _ = strconv.Atoi(f[1])
		}
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return sample{}, err
	}
	s.fds = len(fds)
	return s, nil
}

func login(c *http.Client, base, pat string) (string, error) {
	res, err := c.Post(base+"/auth/github/pat", "application/json", strings.NewReader(`{"pat":"`+pat+`"}`))
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var out struct{ Token string }
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || out.Token == "" {
		return "", fmt.Errorf("login %s: %s %v", pat, res.Status, err)
	}
	return out.Token, nil
}

func waitUp(c *http.Client, base string) error {
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if res, err := c.Get(base + "/healthz"); err == nil {
			res.Body.Close()
			return nil
		}
	}
	return fmt.Errorf("serve did not come up at %s", base)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
