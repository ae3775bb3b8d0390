// Package githubtest is a fake GitHub for tests: one httptest server that
// speaks the parts of the REST API the provisioner calls (also under the
// /api/v3 prefix of GitHub Enterprise Server), the OAuth device flow, and a
// GitHub Actions OIDC issuer, the OAuth web application flow (web.go), with knobs to script users, device flows and
// failures, and request counters to assert what was (not) called.
//
// All methods are safe for concurrent use.
package githubtest

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// enterprisePrefix is where GitHub Enterprise Server serves its REST API.
const enterprisePrefix = "/api/v3"

// Server is a fake GitHub. Create it with New.
type Server struct {
	srv *httptest.Server

	mu          sync.Mutex
	tokens      map[string]string // token -> lower-case login
	users       map[string]fakeUser
	orgs        map[string]map[string]membership // org -> login -> membership (lower case)
	teams       map[string]map[string]string     // "org/team" -> login -> state (lower case)
	devices     map[string]*device
	deviceQueue []string
	expiresIn   int                   // device flows' lifetime in seconds; 0 means 900
	counts      map[string]int        // by raw path
	forms       map[string]url.Values // last form posted, by path
	sshKeys     map[string][]string   // lower-case login -> public keys

	delay      time.Duration
	failStatus int
	failPaths  map[string]int // by path without /api/v3
	rateReset  time.Time
	secondary  time.Duration
	issuerFail int
	web        webApp
}

type fakeUser struct {
	login string
	id    int64
}

type membership struct {
	state, role string
}

// New starts a fake GitHub that is closed when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	s := &Server{
		tokens:  make(map[string]string),
		users:   make(map[string]fakeUser),
		orgs:    make(map[string]map[string]membership),
		teams:   make(map[string]map[string]string),
		devices: make(map[string]*device),
		counts:  make(map[string]int),
		forms:   make(map[string]url.Values),

		failPaths: make(map[string]int),
	}
	s.srv = httptest.NewServer(s)
	t.Cleanup(s.srv.Close)
	return s
}

// URL is the server's root.
func (s *Server) URL() string { return s.srv.URL }

// APIURL is the REST API root, like https://api.github.com.
func (s *Server) APIURL() string { return s.srv.URL }

// EnterpriseAPIURL is the REST API root as GitHub Enterprise Server has it,
// like https://ghe.example/api/v3.
func (s *Server) EnterpriseAPIURL() string { return s.srv.URL + enterprisePrefix }

// WebURL is the web root, where the device flow lives, like https://github.com.
func (s *Server) WebURL() string { return s.srv.URL }

// Client returns an HTTP client for the server.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// Close shuts the server down, so every URL becomes unreachable.
func (s *Server) Close() { s.srv.Close() }

// Requests counts the requests made for path, with or without the /api/v3
// prefix, e.g. Requests("/user").
func (s *Server) Requests(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.counts[path]
	if !strings.HasPrefix(path, enterprisePrefix+"/") {
		n += s.counts[enterprisePrefix+path]
	}
	return n
}

// RawRequests counts the requests made for exactly path.
func (s *Server) RawRequests(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[path]
}

// TotalRequests counts every request the server has received.
func (s *Server) TotalRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.counts {
		n += c
	}
	return n
}

// ResetCounts zeroes the request counters.
func (s *Server) ResetCounts() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.counts)
}

// LastForm returns the last form posted to path (e.g. "/login/device/code").
func (s *Server) LastForm(path string) url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.forms[path]
}

// SetDelay delays every answer by d (0 restores), to test timeouts. A
// delayed handler gives up as soon as the client does.
func (s *Server) SetDelay(d time.Duration) { set(s, &s.delay, d) }

// Fail makes every API and device flow request answer status (e.g. 500);
// 0 restores normal answers. The OIDC issuer is not affected (FailIssuer).
func (s *Server) Fail(status int) { set(s, &s.failStatus, status) }

// FailPath makes requests for path (with or without /api/v3, e.g.
// "/user/memberships/orgs/acme", or the issuer's JWKS path) answer status;
// 0 restores it. It lets a login fail half-way.
func (s *Server) FailPath(path string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if status == 0 {
		delete(s.failPaths, path)
	} else {
		s.failPaths[path] = status
	}
}

// RateLimit makes API requests answer GitHub's primary rate limit (403,
// X-RateLimit-Remaining: 0, X-RateLimit-Reset: reset) until cleared with a
// zero time.
func (s *Server) RateLimit(reset time.Time) { set(s, &s.rateReset, reset) }

// SecondaryRateLimit makes API and device flow requests answer GitHub's
// secondary rate limit (429 with Retry-After) until cleared with 0.
func (s *Server) SecondaryRateLimit(retryAfter time.Duration) { set(s, &s.secondary, retryAfter) }

// FailIssuer makes the OIDC discovery document and JWKS answer status;
// 0 restores them.
func (s *Server) FailIssuer(status int) { set(s, &s.issuerFail, status) }

// set stores v in the server's field under its lock.
func set[T any](s *Server, field *T, v T) {
	s.mu.Lock()
	defer s.mu.Unlock()
	*field = v
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.counts[r.URL.Path]++
	delay, fail, reset, secondary, issuerFail := s.delay, s.failStatus, s.rateReset, s.secondary, s.issuerFail
	if f := s.failPaths[strings.TrimPrefix(r.URL.Path, enterprisePrefix)]; f != 0 {
		fail, issuerFail = f, f
	}
	s.mu.Unlock()

	if delay > 0 {
		// Read the body first: until it is read, net/http does not notice a
		// client that hung up, and the delay would outlast the test.
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		r.Body = io.NopCloser(bytes.NewReader(body))
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		}
	}

	path := r.URL.Path
	if strings.HasPrefix(path, issuerPath+"/") {
		if issuerFail != 0 {
			writeJSON(w, issuerFail, map[string]any{"message": http.StatusText(issuerFail)})
			return
		}
		s.serveIssuer(w, r, strings.TrimPrefix(path, issuerPath))
		return
	}
	web := path == "/login/device/code" || path == "/login/oauth/access_token"
	switch {
	case fail != 0:
		writeJSON(w, fail, map[string]any{"message": http.StatusText(fail)})
	case secondary > 0:
		w.Header().Set("Retry-After", itoa(int64(secondary.Round(time.Second)/time.Second)))
		writeJSON(w, http.StatusTooManyRequests, map[string]any{
			"message":           "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
			"documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
		})
	case path == "/login/oauth/authorize":
		s.serveAuthorize(w, r)
	case web:
		s.serveDevice(w, r)
	case !reset.IsZero():
		h := w.Header()
		h.Set("X-RateLimit-Limit", "5000")
		h.Set("X-RateLimit-Remaining", "0")
		h.Set("X-RateLimit-Used", "5000")
		h.Set("X-RateLimit-Reset", itoa(reset.Unix()))
		h.Set("X-RateLimit-Resource", "core")
		writeJSON(w, http.StatusForbidden, map[string]any{
			"message":           "API rate limit exceeded.",
			"documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-primary-rate-limits",
		})
	default:
		s.serveAPI(w, r, strings.TrimPrefix(path, enterprisePrefix))
	}
}
