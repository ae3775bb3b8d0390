package githubtest_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"provisioner/github/githubtest"
)

func get(t *testing.T, s *githubtest.Server, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "token "+token)
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAPIPathsAndCounts(t *testing.T) {
	s := githubtest.New(t)
	s.AddUser("tok", "Alice", 1)
	s.SetOrgMembership("alice", "Org", "active", "member")

	if code, body := get(t, s, s.APIURL()+"/user", "tok"); code != 200 || !strings.Contains(body, `"login":"Alice"`) {
		t.Errorf("GET /user = %d %s", code, body)
	}
	if code, _ := get(t, s, s.EnterpriseAPIURL()+"/user/memberships/orgs/org", "tok"); code != 200 {
		t.Errorf("membership via /api/v3 = %d", code)
	}
	if code, _ := get(t, s, s.APIURL()+"/orgs/org/teams/x/memberships/alice", "tok"); code != 404 {
		t.Errorf("team non-member = %d, want 404", code)
	}
	if code, _ := get(t, s, s.APIURL()+"/user", ""); code != 401 {
		t.Errorf("no token = %d, want 401", code)
	}
	if code, _ := get(t, s, s.APIURL()+"/repos/x/y", "tok"); code != 404 {
		t.Errorf("unknown path = %d, want 404", code)
	}
	if n := s.Requests("/user"); n != 2 {
		t.Errorf("Requests(/user) = %d, want 2", n)
	}
	if n := s.Requests("/user/memberships/orgs/org"); n != 1 {
		t.Errorf("Requests of /api/v3 path without prefix = %d, want 1", n)
	}
	if n := s.RawRequests("/api/v3/user/memberships/orgs/org"); n != 1 {
		t.Errorf("RawRequests = %d, want 1", n)
	}
	s.ResetCounts()
	if n := s.TotalRequests(); n != 0 {
		t.Errorf("after ResetCounts: %d", n)
	}
}

func TestDeviceFormEncoding(t *testing.T) {
	s := githubtest.New(t)
	s.AddDevice("dc", "UC-1")
	// Without Accept: application/json GitHub answers form-encoded.
	resp, err := s.Client().PostForm(s.WebURL()+"/login/device/code", url.Values{"client_id": {"x"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	v, err := url.ParseQuery(string(b))
	if err != nil || v.Get("device_code") != "dc" || v.Get("user_code") != "UC-1" {
		t.Errorf("form answer %q", b)
	}
}
