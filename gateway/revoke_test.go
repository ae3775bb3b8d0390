package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"provisioner"
	"provisioner/jwt"
	"provisioner/local/keyring"
)

// feedServer is the provisioner's GET /auth/revocations.
type feedServer struct {
	*httptest.Server
	mu     sync.Mutex
	answer map[string]any
	since  []string
}

func newFeedServer(t *testing.T) *feedServer {
	f := &feedServer{answer: map[string]any{"status": "success", "sessions": []any{}}}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/auth/revocations" {
			http.NotFound(w, r)
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		f.since = append(f.since, r.URL.Query().Get("since"))
		_ = json.NewEncoder(w).Encode(f.answer)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *feedServer) set(a map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answer = a
}

// Security: the gateway drops cached verifications of sessions the feed
// revokes, and refuses their login tokens (by jti) and their jwt_cluster
// tokens (by sid) from then on; a key the feed no longer publishes
// verifies nothing, even from a fixed key set.
func TestRevocationFeed(t *testing.T) {
	ctx := context.Background()
	feed := newFeedServer(t)
	k, err := keyring.Open(keyring.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	kid, _, _ := k.Current(ctx)
	tk := jwt.New(jwt.Config{Issuer: feed.URL, Signer: k})
	up := newUpstream(t)
	g := newGateway(t, Config{Issuer: feed.URL}, up.URL, k)

	u := provisioner.User{Login: "otto", ID: 2, Level: provisioner.LevelOrgMember, Org: "sliderule"}
	login, lc, err := tk.IssueUser(ctx, u, []string{"*"})
	if err != nil {
		t.Fatal(err)
	}
	u.Session = lc.ID
	cl, _, err := tk.IssueCluster(ctx, u, "demo")
	if err != nil {
		t.Fatal(err)
	}
	other := u
	other.Session = "other-session"
	cl2, _, err := tk.IssueCluster(ctx, other, "demo")
	if err != nil {
		t.Fatal(err)
	}
	pass := func(tok string) {
		t.Helper()
		if a := call(g, "GET", "/source/version", peer, bearerOf(tok)...); a.status != 200 {
			t.Fatalf("want 200, got %d %s", a.status, a.raw)
		}
	}
	refused := func(tok string) {
		t.Helper()
		wantRefusal(t, call(g, "GET", "/source/version", peer, bearerOf(tok)...), 401, provisioner.EUNAUTHORIZED)
	}
	for _, tok := range []string{login, cl, cl2} {
		pass(tok) // now cached
	}

	cursor := time.Now().UTC()
	feed.set(map[string]any{"status": "success", "cursor": cursor,
		"sessions": []any{map[string]any{"jti": lc.ID, "exp": lc.ExpiresAt, "revoked_at": cursor}}, "keys": []string{kid}})
	if err := g.PollRevocations(ctx); err != nil {
		t.Fatal(err)
	}
	refused(login)
	refused(cl)
	pass(cl2)
	if g.cache.len() != 1 {
		t.Fatalf("cache holds %d verifications, want only the live session's", g.cache.len())
	}

	// The next poll reads from the cursor (less an overlap for clock skew).
	if err := g.PollRevocations(ctx); err != nil {
		t.Fatal(err)
	}
	if s := feed.since[len(feed.since)-1]; s != cursor.Add(-revocationOverlap).Format(time.RFC3339Nano) {
		t.Fatalf("second poll since=%q", s)
	}
	refused(cl) // a poll without it does not forget a revocation

	// The key is withdrawn: nothing it signed passes, cached or not.
	feed.set(map[string]any{"status": "success", "cursor": cursor, "sessions": []any{}, "keys": []string{"another"}})
	if err := g.PollRevocations(ctx); err != nil {
		t.Fatal(err)
	}
	refused(cl2)

	// A feed that cannot be read keeps what is known.
	feed.Close()
	if err := g.PollRevocations(ctx); err == nil {
		t.Fatal("a dead feed answered")
	}
	refused(cl)
}
