package github_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"provisioner"
	"provisioner/github"
	"provisioner/github/githubtest"
)

// startDevice scripts a device flow, starts it and returns the provider.
func startDevice(t *testing.T, srv *githubtest.Server) *github.Provider {
	t.Helper()
	srv.AddUser("tok-alice", "alice", 42)
	srv.SetOrgMembership("alice", org, "active", "admin")
	srv.AddDevice("dev-1", "ABCD-1234")
	p := newProvider(t, srv, nil)
	dc, err := p.StartDevice(t.Context())
	if err != nil {
		t.Fatalf("StartDevice: %v", err)
	}
	want := provisioner.DeviceCode{
		DeviceCode:      "dev-1",
		UserCode:        "ABCD-1234",
		VerificationURI: srv.WebURL() + "/login/device",
		ExpiresIn:       900,
		Interval:        5,
	}
	if dc != want {
		t.Fatalf("StartDevice = %+v, want %+v", dc, want)
	}
	f := srv.LastForm("/login/device/code")
	if f.Get("client_id") != clientID || f.Get("scope") != "read:org" {
		t.Fatalf("device code form = %v", f)
	}
	return p
}

func TestDeviceFlowSuccess(t *testing.T) {
	srv := githubtest.New(t)
	p := startDevice(t, srv)

	_, err := p.PollDevice(t.Context(), "dev-1")
	if e := wantCode(t, err, provisioner.EPENDING); e.RetryAfter != 5*time.Second {
		t.Errorf("pending RetryAfter = %v, want 5s", e.RetryAfter)
	}
	f := srv.LastForm("/login/oauth/access_token")
	if f.Get("client_id") != clientID || f.Get("device_code") != "dev-1" || f.Get("grant_type") != "urn:ietf:params:oauth:grant-type:device_code" {
		t.Errorf("token form = %v", f)
	}

	srv.ApproveDevice("dev-1", "tok-alice")
	u, err := p.PollDevice(t.Context(), "dev-1")
	if err != nil {
		t.Fatalf("PollDevice: %v", err)
	}
	if u.Login != "alice" || u.ID != 42 || u.Level != provisioner.LevelAdmin || u.Org != org || u.Via != "device" {
		t.Errorf("user = %+v", u)
	}
	// A device code works once.
	_, err = p.PollDevice(t.Context(), "dev-1")
	wantCode(t, err, provisioner.EINVALID)
}

func TestDeviceFlowSlowDown(t *testing.T) {
	srv := githubtest.New(t)
	p := startDevice(t, srv)

	srv.SlowDownDevice("dev-1")
	_, err := p.PollDevice(t.Context(), "dev-1")
	if e := wantCode(t, err, provisioner.ESLOWDOWN); e.RetryAfter != 10*time.Second {
		t.Errorf("slow_down RetryAfter = %v, want 10s", e.RetryAfter)
	}
	// GitHub states the new interval only once; later pending answers keep it.
	_, err = p.PollDevice(t.Context(), "dev-1")
	if e := wantCode(t, err, provisioner.EPENDING); e.RetryAfter != 10*time.Second {
		t.Errorf("pending RetryAfter after slow_down = %v, want 10s", e.RetryAfter)
	}
	srv.SlowDownDevice("dev-1")
	_, err = p.PollDevice(t.Context(), "dev-1")
	if e := wantCode(t, err, provisioner.ESLOWDOWN); e.RetryAfter != 15*time.Second {
		t.Errorf("second slow_down RetryAfter = %v, want 15s", e.RetryAfter)
	}
	srv.ApproveDevice("dev-1", "tok-alice")
	if _, err := p.PollDevice(t.Context(), "dev-1"); err != nil {
		t.Errorf("PollDevice after slow_down: %v", err)
	}
}

func TestDeviceFlowEnds(t *testing.T) {
	for _, tt := range []struct {
		name string
		end  func(s *githubtest.Server)
		code string
	}{
		{"expired", func(s *githubtest.Server) { s.ExpireDevice("dev-1") }, provisioner.EEXPIRED},
		{"denied", func(s *githubtest.Server) { s.DenyDevice("dev-1") }, provisioner.EDENIED},
		{"revoked token", func(s *githubtest.Server) {
			s.ApproveDevice("dev-1", "tok-alice")
			s.RevokeToken("tok-alice")
		}, provisioner.EUNAUTHORIZED},
		{"GitHub down", func(s *githubtest.Server) { s.Fail(http.StatusServiceUnavailable) }, provisioner.EUNAVAILABLE},
		{"rate limited", func(s *githubtest.Server) { s.SecondaryRateLimit(time.Minute) }, provisioner.ERATELIMITED},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := githubtest.New(t)
			p := startDevice(t, srv)
			tt.end(srv)
			_, err := p.PollDevice(t.Context(), "dev-1")
			wantCode(t, err, tt.code)
		})
	}
}

func TestDeviceFlowBadInput(t *testing.T) {
	srv := githubtest.New(t)
	p := newProvider(t, srv, nil)
	for _, code := range []string{"", "a b", "dev\n1", strings.Repeat("x", 257)} {
		_, err := p.PollDevice(t.Context(), code)
		wantCode(t, err, provisioner.EINVALID)
	}
	if n := srv.TotalRequests(); n != 0 {
		t.Errorf("bad device codes reached GitHub: %d requests", n)
	}
	_, err := p.PollDevice(t.Context(), "never-issued")
	wantCode(t, err, provisioner.EINVALID)
}

func TestDeviceFlowNotConfigured(t *testing.T) {
	srv := githubtest.New(t)
	p := newProvider(t, srv, func(c *github.Config) { c.ClientID = "" })
	_, err := p.StartDevice(t.Context())
	if e := wantCode(t, err, provisioner.EINVALID); !strings.Contains(e.Message, "--github-client-id") {
		t.Errorf("message = %q", e.Message)
	}
	_, err = p.PollDevice(t.Context(), "dev-1")
	wantCode(t, err, provisioner.EINVALID)
	if n := srv.TotalRequests(); n != 0 {
		t.Errorf("requests = %d, want none", n)
	}
}

func TestDeviceFlowStartFailures(t *testing.T) {
	srv := githubtest.New(t)
	p := newProvider(t, srv, func(c *github.Config) { c.Timeout = 200 * time.Millisecond })

	srv.Fail(http.StatusInternalServerError)
	_, err := p.StartDevice(t.Context())
	wantCode(t, err, provisioner.EUNAVAILABLE)

	srv.Fail(0)
	srv.SetDelay(5 * time.Second)
	start := time.Now()
	_, err = p.StartDevice(t.Context())
	wantCode(t, err, provisioner.EUNAVAILABLE)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("StartDevice took %v with a 200ms timeout", d)
	}

	srv.SetDelay(0)
	srv.SecondaryRateLimit(20 * time.Second)
	_, err = p.StartDevice(t.Context())
	if e := wantCode(t, err, provisioner.ERATELIMITED); e.RetryAfter != 20*time.Second {
		t.Errorf("RetryAfter = %v, want 20s", e.RetryAfter)
	}

	// Without a scripted device the fake makes up codes.
	srv.SecondaryRateLimit(0)
	dc, err := p.StartDevice(t.Context())
	if err != nil || dc.DeviceCode == "" || dc.UserCode == "" {
		t.Errorf("StartDevice = %+v, %v", dc, err)
	}
}

// A poll may reach another instance than the one that started the flow (a
// Lambda, a restart): it knows no interval but GitHub's.
func TestDeviceFlowPolledElsewhere(t *testing.T) {
	srv := githubtest.New(t)
	startDevice(t, srv)
	other := newProvider(t, srv, nil)
	_, err := other.PollDevice(t.Context(), "dev-1")
	if e := wantCode(t, err, provisioner.EPENDING); e.RetryAfter != 5*time.Second {
		t.Errorf("pending RetryAfter = %v, want 5s", e.RetryAfter)
	}
	srv.SlowDownDevice("dev-1")
	_, err = other.PollDevice(t.Context(), "dev-1")
	if e := wantCode(t, err, provisioner.ESLOWDOWN); e.RetryAfter != 10*time.Second {
		t.Errorf("slow_down RetryAfter = %v, want GitHub's 10s", e.RetryAfter)
	}
}

// GitHub takes a device code once: if the user lookup fails right after the
// exchange, the next poll retries the lookup rather than the exchange.
func TestDeviceFlowLookupRetried(t *testing.T) {
	srv := githubtest.New(t)
	p := startDevice(t, srv)
	srv.ApproveDevice("dev-1", "tok-alice")
	srv.FailPath("/user", http.StatusServiceUnavailable)
	_, err := p.PollDevice(t.Context(), "dev-1")
	wantCode(t, err, provisioner.EUNAVAILABLE)

	srv.FailPath("/user", 0)
	u, err := p.PollDevice(t.Context(), "dev-1")
	if err != nil || u.Login != "alice" || u.Via != "device" {
		t.Fatalf("PollDevice after GitHub came back = %+v, %v", u, err)
	}
	if n := srv.Requests("/login/oauth/access_token"); n != 1 {
		t.Errorf("token exchanges = %d, want 1", n)
	}
	// Done: the code is forgotten, and GitHub no longer knows it.
	_, err = p.PollDevice(t.Context(), "dev-1")
	wantCode(t, err, provisioner.EINVALID)
}
