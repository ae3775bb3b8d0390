package github_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"provisioner"
	"provisioner/github"
)

// TestEmail: an owner's public email from GET /users/{login}, asked with
// the operator's token when there is one; none published, an unknown
// login and GitHub failing are told apart.
func TestEmail(t *testing.T) {
	var mu sync.Mutex
	var auth []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth = append(auth, r.Header.Get("Authorization"))
		mu.Unlock()
		login := strings.TrimPrefix(r.URL.Path, "/users/")
		w.Header().Set("Content-Type", "application/json")
		switch login {
		case "ada":
			_ = json.NewEncoder(w).Encode(map[string]any{"login": "ada", "id": 1, "email": "ada@example.org"})
		case "bob":
			_ = json.NewEncoder(w).Encode(map[string]any{"login": "bob", "id": 2, "email": nil})
		case "down":
			w.WriteHeader(http.StatusBadGateway)
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"message":"Not Found"}`))
		}
	}))
	defer srv.Close()
	for _, token := range []string{"", "operator-token"} {
		p, err := github.New(github.Config{APIURL: srv.URL, MemberToken: token, Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := p.Email(t.Context(), "ada"); err != nil || got != "ada@example.org" {
			t.Errorf("ada: %q %v", got, err)
		}
		for login, code := range map[string]string{"bob": provisioner.ENOTFOUND, "nobody": provisioner.ENOTFOUND,
			"down": provisioner.EUNAVAILABLE, "../orgs/x": provisioner.EINVALID} {
			if got, err := p.Email(t.Context(), login); provisioner.ErrorCode(err) != code {
				t.Errorf("%s: %q %v, want %s", login, got, err, code)
			}
		}
		mu.Lock()
		last := auth[len(auth)-1]
		mu.Unlock()
		if token == "" && last != "" || token != "" && !strings.Contains(last, token) {
			t.Errorf("token %q: Authorization %q", token, last)
		}
	}
}
