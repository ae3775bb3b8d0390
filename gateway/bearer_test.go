package gateway

import (
	"net/http"
	"testing"
)

func TestBearer(t *testing.T) {
	for h, want := range map[string]string{
		"Bearer a.b.c":      "a.b.c",
		"bearer a.b.c":      "a.b.c",
		"BEARER   a-_.b.c9": "a-_.b.c9",
	} {
		got, err := bearer(http.Header{"Authorization": {h}})
		if err != nil || got != want {
			t.Errorf("%q: %q %v", h, got, err)
		}
	}
	if tok, err := bearer(http.Header{}); tok != "" || err != nil {
		t.Errorf("no header: %q %v", tok, err)
	}
	for _, h := range []string{"", "Bearer", "Bearer ", "Bearer a.b", "Bearer a.b.c.d", "Bearer a..c", "Bearer .b.c",
		"Bearer a.b.", "Bearer a.b.c ", "Bearer a.b.c\t", "Bearer a+b.c.d", "Bearer a.b=.c", "Token a.b.c", "Bearera.b.c"} {
		if tok, err := bearer(http.Header{"Authorization": {h}}); err == nil {
			t.Errorf("%q accepted as %q", h, tok)
		}
	}
}
