package http_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"provisioner"
	"provisioner/app"
	"provisioner/github/githubtest"
	phttp "provisioner/http"
	"provisioner/testkit"
)

// clock is a settable time for the login limits.
func newClock() *testkit.Clock { return testkit.NewClock(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)) }

// behindProxy makes the server trust one proxy, so tests choose the
// client address with X-Forwarded-For.
func behindProxy(_ *app.Config, h *phttp.Config) { h.TrustedProxies = 1 }

func from(addr string) []string { return []string{"X-Forwarded-For", addr} }

// post sends a JSON body from addr, safe to call from any goroutine.
func post(e *env, path string, body any, addr string) (int, http.Header, map[string]any, error) {
	j, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", e.srv.URL+path, bytes.NewReader(j))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", addr)
	res, err := e.srv.Client().Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return res.StatusCode, res.Header, m, nil
}

// TestFault2000BadLogins: 2,000 wrong PATs from one network as fast as 8
// connections go. Failures are refused with 429 and Retry-After once the
// network's failure bucket is spent, so GitHub is asked a bounded number of
// times; the audit trail holds one aggregated entry per window with the
// count of the failures; a user elsewhere still logs in.
func TestFault2000BadLogins(t *testing.T) {
	e := newEnv(t, behindProxy)
	e.gh.ResetCounts()
	const total, workers = 2000, 8
	start := time.Now()
	var unauthorized, limited, other atomic.Int64
	var bad atomic.Value
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for range workers {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > total {
					return
				}
				addr := fmt.Sprintf("203.0.113.%d", i%250+1) // one /24
				status, h, body, err := post(e, "/auth/github/pat", map[string]string{"pat": fmt.Sprintf("ghp_wrong%06d", i)}, addr)
				switch {
				case err != nil:
					bad.Store(err.Error())
				case status == 401:
					unauthorized.Add(1)
				case status == 429:
					limited.Add(1)
					s, err := strconv.Atoi(h.Get("Retry-After"))
					if err != nil || s < 1 || body["status"] != "failure" || body["error"] != provisioner.ERATELIMITED || body["error_description"] == "" {
						bad.Store(fmt.Sprintf("429 with Retry-After %q and body %v", h.Get("Retry-After"), body))
					}
				default:
					other.Add(1)
					bad.Store(fmt.Sprintf("status %d: %v", status, body))
				}
			}
		})
	}
	wg.Wait()
	if b := bad.Load(); b != nil {
		t.Fatal(b)
	}
	def := app.DefaultLoginLimits()
	// The burst and what refilled while the test ran: an attempt holds a
	// failure token while in flight, so the workers in flight at once
	// cannot pass on one token.
	maxFailures := int64(def.Failures.Burst) + 1 + int64(time.Since(start).Seconds()*float64(def.Failures.Rate))
	t.Logf("401: %d, 429: %d, GitHub requests: %d", unauthorized.Load(), limited.Load(), e.gh.TotalRequests())
	if unauthorized.Load() > maxFailures || limited.Load() < total-maxFailures {
		t.Fatalf("%d refused by GitHub, %d throttled; want at most %d reaching GitHub", unauthorized.Load(), limited.Load(), maxFailures)
	}
	// A login asks who the token is and its membership at once: two
	// requests for each login that reaches GitHub.
	if n := e.gh.Requests("/user"); int64(n) > maxFailures {
		t.Fatalf("%d logins reached GitHub, want at most %d", n, maxFailures)
	}
	if n := e.gh.TotalRequests(); int64(n) > 2*maxFailures {
		t.Fatalf("GitHub received %d requests, want at most %d", n, 2*maxFailures)
	}

	entries, err := e.store.ListAudit(t.Context(), provisioner.AuditFilter{Action: "login.pat", Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	sum := 0
	for _, a := range entries {
		sum += a.Count
		if a.Source != "203.0.113.0/24" || a.Result != provisioner.EUNAUTHORIZED || a.Count < 1 {
			t.Errorf("audit entry %+v", a)
		}
	}
	if len(entries) > 2 || int64(sum) != unauthorized.Load() {
		t.Fatalf("%d audit entries counting %d failures, want at most 2 (one per window) counting %d", len(entries), sum, unauthorized.Load())
	}

	// The attacker's network stays refused; another network logs in.
	r := e.do("POST", "/auth/github/pat", "", map[string]string{"pat": "tok-member"}, from("203.0.113.200")...)
	wantError(t, r, 429, provisioner.ERATELIMITED)
	r = e.do("POST", "/auth/github/pat", "", map[string]string{"pat": "tok-member"}, from("198.51.100.7")...)
	if r.status != 200 || r.str("token") == "" {
		t.Fatalf("a user from another network: %d %s", r.status, r.raw)
	}
}

// TestFaultRepeatedBadPAT: the same wrong PAT is answered from memory (401)
// without asking GitHub again, and then limited per credential (429) even
// from many networks.
func TestFaultRepeatedBadPAT(t *testing.T) {
	e := newEnv(t, behindProxy)
	e.gh.ResetCounts()
	for i := range 5 {
		wantError(t, e.do("POST", "/auth/github/pat", "", map[string]string{"pat": "ghp_wrong"}, from(fmt.Sprintf("192.0.2.%d", i))...),
			401, provisioner.EUNAUTHORIZED)
	}
	if n := e.gh.Requests("/user"); n != 1 {
		t.Fatalf("GitHub asked %d times about one wrong PAT, want 1", n)
	}
	limited := false
	for i := range 30 {
		r := e.do("POST", "/auth/github/pat", "", map[string]string{"pat": "ghp_wrong"}, from(fmt.Sprintf("10.%d.0.1", i))...)
		if r.status == 429 {
			limited = true
			break
		}
	}
	if !limited {
		t.Fatal("one PAT tried from 30 networks was never limited")
	}
}

// TestFaultLoginPathsThrottled: every login path of one network is
// refused with 429 and Retry-After once its failures are spent, before
// GitHub is asked; the device poll alone answers "pending" with an
// interval instead (the released client hot-loops on "error").
func TestFaultLoginPathsThrottled(t *testing.T) {
	clk := newClock()
	e := newEnv(t, behindProxy, func(c *app.Config, _ *phttp.Config) { c.Now = clk.Now })
	const src = "203.0.113.9"
	for i := range app.DefaultLoginLimits().Failures.Burst {
		wantError(t, e.do("POST", "/auth/github/pat", "", map[string]string{"pat": fmt.Sprint("ghp_bad", i)}, from(src)...), 401, provisioner.EUNAUTHORIZED)
	}
	e.gh.ResetCounts()
	e.gh.AddDevice("dev-9", "ZZZZ-9999")
	for _, c := range []struct {
		path string
		body any
	}{
		{"/auth/github/pat", map[string]string{"pat": "tok-member"}},
		{"/auth/github/device", nil},
		{"/auth/github/actions", map[string]string{"token": e.gh.IssueActionsToken(githubtest.ActionsClaims(audience, "sliderule/sliderule", "refs/heads/main", nightly))}},
	} {
		r := e.do("POST", c.path, "", c.body, from(src)...)
		wantError(t, r, 429, provisioner.ERATELIMITED)
		if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 {
			t.Errorf("%s: Retry-After %q", c.path, r.header.Get("Retry-After"))
		}
	}
	r := e.do("POST", "/auth/github/device/poll", "", map[string]string{"device_code": "dev-9"}, from(src)...)
	if r.status != 202 || r.str("status") != "pending" || r.str("error") != provisioner.ESLOWDOWN || r.body["interval"].(float64) < 1 {
		t.Fatalf("throttled poll: %d %s", r.status, r.raw)
	}
	if n := e.gh.TotalRequests(); n != 0 {
		t.Fatalf("GitHub received %d requests from a throttled network", n)
	}
	// A failure token refills in 6 s (10/m): the network may try again.
	clk.Add(7 * time.Second)
	r = e.do("POST", "/auth/github/pat", "", map[string]string{"pat": "tok-member"}, from(src)...)
	if r.status != 200 {
		t.Fatalf("after the refill: %d %s", r.status, r.raw)
	}
}

// TestFaultDevicePollPacing: a poll sooner than the device code's interval
// is answered "pending" slow_down with a longer interval, without asking
// GitHub; a poll after that interval is forwarded.
func TestFaultDevicePollPacing(t *testing.T) {
	clk := newClock()
	e := newEnv(t, func(c *app.Config, _ *phttp.Config) { c.Now = clk.Now })
	e.gh.AddDevice("dev-p", "PACE-0001")
	if r := e.do("POST", "/auth/github/device", "", nil); r.status != 200 {
		t.Fatalf("start: %d %s", r.status, r.raw)
	}
	poll := func() resp {
		return e.do("POST", "/auth/github/device/poll", "", map[string]string{"device_code": "dev-p"})
	}
	if r := poll(); r.status != 202 || r.str("error") != provisioner.EPENDING {
		t.Fatalf("first poll: %d %s", r.status, r.raw)
	}
	e.gh.ResetCounts()
	interval := 5.0
	for i := range 20 { // a client that ignores the interval
		r := poll()
		if r.status != 202 || r.str("status") != "pending" || r.str("error") != provisioner.ESLOWDOWN {
			t.Fatalf("early poll %d: %d %s", i, r.status, r.raw)
		}
		if got := r.body["interval"].(float64); got < interval || got > 60 {
			t.Fatalf("early poll %d: interval %v, want at least %v", i, got, interval)
		} else {
			interval = got
		}
	}
	if n := e.gh.TotalRequests(); n != 0 {
		t.Fatalf("early polls reached GitHub %d times", n)
	}
	clk.Add(time.Duration(interval) * time.Second)
	e.gh.ApproveDevice("dev-p", "tok-member")
	if r := poll(); r.status != 200 || r.str("token") == "" {
		t.Fatalf("poll after the interval: %d %s", r.status, r.raw)
	}
}
