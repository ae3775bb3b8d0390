package web

import (
	"net/http/httptest"
	"testing"
)

func TestRedirectURI(t *testing.T) {
	for host, want := range map[string]string{
		"127.0.0.1:8080":          "http://127.0.0.1:8080/ui/github/callback",
		"localhost:8080":          "http://localhost:8080/ui/github/callback",
		"[::1]:8080":              "http://[::1]:8080/ui/github/callback",
		"provisioner.example.org": "https://provisioner.example.org/ui/github/callback",
		"10.0.0.5:8080":           "https://10.0.0.5:8080/ui/github/callback", // only loopback may be plain http
	} {
		r := httptest.NewRequest("GET", "/ui/github/login", nil)
		r.Host = host
		if got := redirectURI(r); got != want {
			t.Errorf("%s: %s, want %s", host, got, want)
		}
	}
}

func TestSafeCode(t *testing.T) {
	for in, want := range map[string]string{
		"access_denied":             "access_denied",
		"<script>alert(1)</script>": "scriptalert1script",
		"":                          "sign_in_failed",
		"%%%":                       "sign_in_failed",
	} {
		if got := safeCode(in); got != want {
			t.Errorf("safeCode(%q) = %q, want %q", in, got, want)
		}
	}
	long := safeCode("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
	if len(long) != 64 {
		t.Errorf("a long code is kept at %d bytes", len(long))
	}
}
