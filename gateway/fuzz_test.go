package gateway

import (
	"net/http"
	"strings"
	"testing"

	"provisioner"
)

func FuzzBearer(f *testing.F) {
	for _, s := range []string{
		"", "Bearer", "Bearer ", "Bearer a.b.c", "bearer  a.b.c", "Basic dXNlcjpwYXNz", "Bearer a.b",
		"Bearer a.b.c.d", "Bearer ..", "Bearer a.b.", "Bearer eyJhbGciOiJub25lIn0.e30.",
		"Bearer eyJhbGciOiJFUzI1NiIsInR5cCI6ImNsdXN0ZXIrand0In0.eyJhdWQiOiJkZW1vIn0.c2ln",
		"Bearer a.b.c\x00", "Bearer \xff.\xfe.\xfd", "Bearer " + strings.Repeat("A", MaxAuthorization),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		tok, err := bearer(http.Header{"Authorization": {h}})
		if err != nil {
			if tok != "" || provisioner.ErrorCode(err) != provisioner.EUNAUTHORIZED || provisioner.ErrorMessage(err) == "" {
				t.Fatalf("%q: %q, %v", h, tok, err)
			}
			return
		}
		// Accepted: a Bearer header carrying three base64url segments,
		// within the size cap, and nothing else.
		if len(h) > MaxAuthorization || !strings.EqualFold(h[:7], "bearer ") || !strings.HasSuffix(h, tok) ||
			strings.Count(tok, ".") != 2 || strings.Trim(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") != "" {
			t.Fatalf("accepted %q as %q", h, tok)
		}
		for _, seg := range strings.Split(tok, ".") {
			if seg == "" {
				t.Fatalf("accepted an empty segment in %q", tok)
			}
		}
	})
}
