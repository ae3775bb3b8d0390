package signature

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"provisioner"
)

// sign is what the released client's __signrequest does.
func sign(priv ed25519.PrivateKey, hostPath string, ts int64, body string) (string, string) {
	t := strconv.FormatInt(ts, 10)
	msg := base64.URLEncoding.EncodeToString([]byte(hostPath)) + ":" + t + ":" + base64.URLEncoding.EncodeToString([]byte(body))
	return t, base64.StdEncoding.EncodeToString(ed25519.Sign(priv, []byte(msg)))
}

func newKey(t *testing.T) (ed25519.PrivateKey, string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return priv, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pk))) + " ada@laptop"
}

type staticKeys map[string][]ssh.PublicKey

func (s staticKeys) SigningKeys(_ context.Context, login string) ([]ssh.PublicKey, error) {
	return s[login], nil
}

func TestVerify(t *testing.T) {
	ctx := context.Background()
	priv, line := newKey(t)
	other, _ := newKey(t)
	keys, err := ParseKeys([]byte("# operators\nAda " + line + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	v := &Verifier{Policy: provisioner.SignaturesEveryone, Keys: staticKeys(keys), Now: func() time.Time { return now }}
	body := `{"cluster": "demo", "ttl": 30}`
	req := func(p ed25519.PrivateKey, ts int64, signedBody, sentBody string) Request {
		tsS, sig := sign(p, "provisioner.example.org/deploy", ts, signedBody)
		return Request{Login: "ada", Host: "provisioner.example.org", Path: "/deploy", Timestamp: tsS, Signature: sig, Body: []byte(sentBody)}
	}
	good := req(priv, now.Unix()-5, body, body)
	if err := v.Verify(ctx, good); err != nil {
		t.Fatalf("good signature: %v", err)
	}
	for _, tc := range []struct {
		name string
		r    Request
		code string
	}{
		{"replay", good, provisioner.EBADSIGNATURE},
		{"wrong key", req(other, now.Unix(), body, body), provisioner.EBADSIGNATURE},
		{"old timestamp", req(priv, now.Unix()-61, body, body), provisioner.EBADSIGNATURE},
		{"future timestamp", req(priv, now.Unix()+61, body, body), provisioner.EBADSIGNATURE},
		{"body changed", req(priv, now.Unix(), body, strings.Replace(body, "30", "3000", 1)), provisioner.EBADSIGNATURE},
		{"other host", func() Request { r := req(priv, now.Unix()+1, body, body); r.Host = "evil.example.org"; return r }(), provisioner.EBADSIGNATURE},
		{"other path", func() Request { r := req(priv, now.Unix()+2, body, body); r.Path = "/destroy"; return r }(), provisioner.EBADSIGNATURE},
		{"no key for login", func() Request { r := req(priv, now.Unix()+3, body, body); r.Login = "otto"; return r }(), provisioner.EBADSIGNATURE},
		{"missing", Request{Login: "ada", Host: "h", Path: "/deploy"}, provisioner.ESIGREQUIRED},
		{"timestamp only", Request{Login: "ada", Host: "h", Path: "/deploy", Timestamp: "1"}, provisioner.EBADSIGNATURE},
		{"bad timestamp", func() Request { r := req(priv, now.Unix(), body, body); r.Timestamp = "soon"; return r }(), provisioner.EINVALID},
		{"bad base64", func() Request { r := req(priv, now.Unix(), body, body); r.Signature = "!!"; return r }(), provisioner.EBADSIGNATURE},
	} {
		if err := v.Verify(ctx, tc.r); provisioner.ErrorCode(err) != tc.code {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
		}
	}
	// A replay is accepted again only once its timestamp left the window,
	// where the clock check refuses it anyway.
	now = now.Add(2 * Window)
	if err := v.Verify(ctx, good); provisioner.ErrorCode(err) != provisioner.EBADSIGNATURE {
		t.Errorf("replay after the window: %v", err)
	}
}

func TestParseKeys(t *testing.T) {
	_, line := newKey(t)
	if k, err := ParseKeys([]byte(`{"Ada": "` + line + `"}`)); err != nil || len(k["ada"]) != 1 {
		t.Errorf("production's JSON secret: %v %v", k, err)
	}
	for _, bad := range []string{
		"ada",
		"ada ssh-ed25519 notbase64",
		"ada ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDAq8Z4 x", // not ed25519 (or not a key)
		`{"ada": 1}`,
	} {
		if _, err := ParseKeys([]byte(bad)); err == nil {
			t.Errorf("ParseKeys(%q) accepted", bad)
		}
	}
}

func TestFileKeysReread(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	_, a := newKey(t)
	_, b := newKey(t)
	if err := os.WriteFile(filepath.Join(dir, "ops"), []byte("ada "+a+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := NewFileKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	if k, _ := f.SigningKeys(ctx, "ADA"); len(k) != 1 {
		t.Fatalf("keys of ada: %d", len(k))
	}
	if err := os.WriteFile(filepath.Join(dir, "more"), []byte("ada "+b+"\notto "+b+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.checked = time.Time{} // as if a second passed
	f.mu.Unlock()
	if k, _ := f.SigningKeys(ctx, "ada"); len(k) != 2 {
		t.Errorf("after adding a file, keys of ada: %d", len(k))
	}
	if k, _ := f.SigningKeys(ctx, "otto"); len(k) != 1 {
		t.Errorf("after adding a file, keys of otto: %d", len(k))
	}
	if _, err := NewFileKeys(filepath.Join(dir, "absent")); err == nil {
		t.Error("a missing key file was accepted at start")
	}
}

func TestGitHubKeys(t *testing.T) {
	_, line := newKey(t)
	calls := 0
	gh := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		if r.URL.Path != "/users/ada/keys" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(`[{"id":1,"key":"ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ"},{"id":2,"key":"` + line + `"}]`))
	}))
	defer gh.Close()
	g := &GitHubKeys{APIURL: gh.URL}
	ctx := context.Background()
	for range 2 {
		k, err := g.SigningKeys(ctx, "Ada")
		if err != nil || len(k) != 1 {
			t.Fatalf("ada's keys: %d %v", len(k), err)
		}
	}
	if calls != 1 {
		t.Errorf("GitHub called %d times, want 1 (cached)", calls)
	}
	if k, err := g.SigningKeys(ctx, "nobody"); err != nil || len(k) != 0 {
		t.Errorf("unknown user: %v %v", k, err)
	}
}

func TestCovers(t *testing.T) {
	for _, tc := range []struct {
		method, path string
		want         bool
	}{
		{"POST", "/deploy", true}, {"POST", "/deploy/ada", true}, {"POST", "/extend", true},
		{"POST", "/destroy", true}, {"POST", "/schedule_destroy", true}, {"POST", "/test", true},
		{"POST", "/release/ada", true}, {"POST", "/jobs/j-1/cancel", true},
		{"GET", "/deploy", false}, {"POST", "/deployx", false}, {"POST", "/status", false},
		{"POST", "/events", false}, {"POST", "/access", false}, {"GET", "/jobs/j-1", false},
		{"POST", "/jobs//cancel", false}, {"POST", "/jobs/a/b/cancel", false}, {"GET", "/jobs/j-1/cancel", false},
		{"POST", "/auth/github/pat", false},
	} {
		if got := Covers(tc.method, tc.path); got != tc.want {
			t.Errorf("Covers(%s %s) = %v, want %v", tc.method, tc.path, got, tc.want)
		}
	}
}
