package http

import (
	"net/http/httptest"
	"strings"
	"testing"

	"provisioner"
	"provisioner/api"
)

// FuzzDecode: any body and content type gives either a decoded request or a
// client error (400, 413, 415), never a panic or an internal error.
func FuzzDecode(f *testing.F) {
	for _, seed := range []struct{ ct, body string }{
		{"application/json", `{"cluster":"c1"}`},
		{"", `{"cluster":"c1"}`},
		{"application/json; charset=utf-8", `{"cluster":"c1","x":1}`},
		{"text/plain", `{}`},
		{"application/json", `{"cluster":`},
		{"application/json", `[1,2]`},
		{"application/json", `{"cluster":"a"} {}`},
		{"application/merge-patch+json", `{"cluster":null}`},
		{"multipart/form-data; boundary=", ``},
	} {
		f.Add(seed.ct, seed.body)
	}
	s := NewServer(Config{MaxBody: 1 << 10})
	f.Fuzz(func(t *testing.T, ct, body string) {
		r := httptest.NewRequest("POST", "/access", strings.NewReader(body))
		if ct != "" {
			r.Header.Set("Content-Type", ct)
		}
		var req api.ClusterRequest
		err := s.decode(httptest.NewRecorder(), r, &req, false)
		switch provisioner.ErrorCode(err) {
		case "", provisioner.EINVALID, provisioner.ETOOLARGE, provisioner.EUNSUPPORTED:
		default:
			t.Fatalf("ct %q body %q: %v", ct, body, err)
		}
		if err != nil && api.StatusFor(provisioner.ErrorCode(err)) >= 500 {
			t.Fatalf("server error for client input: %v", err)
		}
	})
}
