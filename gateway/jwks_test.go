package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"provisioner"
	"provisioner/jwt"
	"provisioner/local/keyring"
	"provisioner/testkit"
)

// fakeIssuer publishes a keyring's keys as the provisioner does, and can be
// taken down or made to misbehave.
type fakeIssuer struct {
	*httptest.Server
	keys     *keyring.Keyring
	jwksHits atomic.Int64
	mu       sync.Mutex
	down     bool
	jwks     string // overrides the JWKS body when set
	issuer   string // overrides the discovery issuer when set
}

func newFakeIssuer(t *testing.T, tls bool) *fakeIssuer {
	k, err := keyring.Open(keyring.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeIssuer{keys: k}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		down, body, iss := f.down, f.jwks, f.issuer
		f.mu.Unlock()
		if down {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			if iss == "" {
				iss = f.URL
			}
			_ = json.NewEncoder(w).Encode(map[string]string{"issuer": iss, "jwks_uri": f.URL + "/.well-known/jwks.json"})
		case "/.well-known/jwks.json":
			f.jwksHits.Add(1)
			if body == "" {
				pks, _ := k.PublicKeys(r.Context())
				b, _ := jwt.MarshalJWKS(pks)
				body = string(b)
			}
			_, _ = w.Write([]byte(body))
		default:
			http.NotFound(w, r)
		}
	})
	if tls {
		f.Server = httptest.NewTLSServer(h)
	} else {
		f.Server = httptest.NewServer(h)
	}
	t.Cleanup(f.Close)
	return f
}

func (f *fakeIssuer) set(fn func(f *fakeIssuer)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeIssuer) currentKid(t *testing.T) string {
	kid, _, err := f.keys.Current(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return kid
}

func newTestJWKS(t *testing.T, f *fakeIssuer, clk *testkit.Clock) *JWKS {
	j, err := NewJWKS(JWKSConfig{Issuer: f.URL, Client: f.Client(), MinRefresh: 5 * time.Second, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func TestJWKSUnknownKidRefreshIsThrottled(t *testing.T) {
	f, clk := newFakeIssuer(t, false), newClock()
	j := newTestJWKS(t, f, clk)
	ctx := context.Background()
	kid := f.currentKid(t)
	if _, err := j.PublicKey(ctx, kid); err != nil {
		t.Fatal(err)
	}
	// A flood of bogus kids, concurrently: at most one more fetch.
	var wg sync.WaitGroup
	for i := 0; i < 200; i++ {
		wg.Go(func() {
			if _, err := j.PublicKey(ctx, "bogus-"+strings.Repeat("x", i%7)); provisioner.ErrorCode(err) != provisioner.ENOTFOUND {
				t.Errorf("bogus kid: %v", err)
			}
		})
	}
	wg.Wait()
	if n := f.jwksHits.Load(); n > 2 {
		t.Fatalf("%d JWKS fetches for a flood of bogus kids, want at most 2", n)
	}
	// A rotation shows up at the next allowed refresh, without restart.
	newKid, err := f.keys.Rotate()
	if err != nil {
		t.Fatal(err)
	}
	clk.Add(5 * time.Second)
	if _, err := j.PublicKey(ctx, newKid); err != nil {
		t.Fatalf("rotated key: %v", err)
	}
	if _, err := j.PublicKey(ctx, kid); err != nil {
		t.Fatalf("the retired key still verifies live tokens: %v", err)
	}
}

func TestJWKSKeepsKeysWhileIssuerDown(t *testing.T) {
	f, clk := newFakeIssuer(t, false), newClock()
	j := newTestJWKS(t, f, clk)
	ctx := context.Background()
	kid := f.currentKid(t)

	// Down from the start: nothing to verify with, which is not the
	// caller's fault (EUNAVAILABLE, not ENOTFOUND).
	f.set(func(f *fakeIssuer) { f.down = true })
	if _, err := j.PublicKey(ctx, kid); provisioner.ErrorCode(err) != provisioner.EUNAVAILABLE {
		t.Fatalf("issuer down, no keys: %v", err)
	}
	f.set(func(f *fakeIssuer) { f.down = false })
	clk.Add(5 * time.Second)
	if _, err := j.PublicKey(ctx, kid); err != nil {
		t.Fatal(err)
	}

	for name, broken := range map[string]func(f *fakeIssuer){
		"down":       func(f *fakeIssuer) { f.down = true },
		"not json":   func(f *fakeIssuer) { f.jwks = "<html>maintenance</html>" },
		"empty set":  func(f *fakeIssuer) { f.jwks = `{"keys":[]}` },
		"oversized":  func(f *fakeIssuer) { f.jwks = `{"keys":[],"x":"` + strings.Repeat("a", jwt.MaxJWKSSize) + `"}` },
		"only junk":  func(f *fakeIssuer) { f.jwks = `{"keys":[{"kty":"oct","kid":"k","k":"c2VjcmV0"}]}` },
		"wrong iss":  func(f *fakeIssuer) { f.issuer = "https://evil.example"; f.jwks = "<html>" },
		"recovering": func(f *fakeIssuer) {},
	} {
		f.set(broken)
		clk.Add(5 * time.Second)
		err := j.Refresh(ctx)
		if (err == nil) != (name == "recovering") {
			t.Errorf("%s: refresh error %v", name, err)
		}
		if _, err := j.PublicKey(ctx, kid); err != nil {
			t.Errorf("%s: lost the last good key: %v", name, err)
		}
		// An unknown kid while the issuer cannot answer is not a verdict.
		if _, err := j.PublicKey(ctx, "new-kid"); name != "recovering" && provisioner.ErrorCode(err) != provisioner.EUNAVAILABLE {
			t.Errorf("%s: unknown kid: %v", name, err)
		}
		f.set(func(f *fakeIssuer) { f.down, f.jwks, f.issuer = false, "", "" })
	}
}

func TestJWKSDiscoveryChecks(t *testing.T) {
	f := newFakeIssuer(t, true)
	clk := newClock()
	ctx := context.Background()
	j := newTestJWKS(t, f, clk)
	if err := j.Refresh(ctx); err != nil {
		t.Fatalf("https issuer: %v", err)
	}
	// A document naming another issuer is not believed.
	f2 := newFakeIssuer(t, false)
	f2.set(func(f *fakeIssuer) { f.issuer = "https://evil.example" })
	if err := newTestJWKS(t, f2, clk).Refresh(ctx); err == nil || !strings.Contains(err.Error(), "names issuer") {
		t.Fatalf("wrong issuer: %v", err)
	}
	if _, err := NewJWKS(JWKSConfig{Issuer: "ftp://x"}); err == nil {
		t.Fatal("ftp issuer accepted")
	}
}

func TestJWKSRunRefreshesInBackground(t *testing.T) {
	f := newFakeIssuer(t, false)
	j, err := NewJWKS(JWKSConfig{Issuer: f.URL, Interval: 20 * time.Millisecond, MinRefresh: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { j.Run(ctx); close(done) }()
	newKid, err := f.keys.Rotate()
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for j.Len() != 2 {
		if time.Now().After(deadline) {
			t.Fatal("Run did not pick up the rotation")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Found without a fetch, despite MinRefresh of an hour.
	if _, err := j.PublicKey(ctx, newKid); err != nil {
		t.Fatal(err)
	}
	cancel()
	<-done
}

// TestGatewayIssuerDown: without keys a token cannot be judged (503, never
// forwarded), while anonymous traffic to a public cluster still flows.
func TestGatewayIssuerDown(t *testing.T) {
	f, up := newFakeIssuer(t, false), newUpstream(t)
	f.set(func(f *fakeIssuer) { f.down = true })
	tok, _, err := jwt.New(jwt.Config{Issuer: f.URL, Signer: f.keys}).IssueCluster(context.Background(), otto, "demo")
	if err != nil {
		t.Fatal(err)
	}
	for _, public := range []bool{false, true} {
		g := newGateway(t, Config{Public: public, Issuer: f.URL}, up.URL, nil)
		a := call(g, "GET", "/source/version", peer, bearerOf(tok)...)
		wantRefusal(t, a, 503, provisioner.EUNAVAILABLE)
		if public {
			if a := call(g, "GET", "/source/version", peer); a.status != 200 {
				t.Fatalf("anonymous with the issuer down: %d", a.status)
			}
		}
	}
	if n, _ := up.seen(); n != 1 {
		t.Fatalf("%d requests forwarded, want the anonymous one", n)
	}
}
