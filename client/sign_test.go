package client

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"provisioner"
	"provisioner/api"
	"provisioner/signature"
)

type staticKeys map[string][]ssh.PublicKey

func (k staticKeys) SigningKeys(_ context.Context, login string) ([]ssh.PublicKey, error) {
	return k[login], nil
}

func newKey(t *testing.T) (*Signer, []byte) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "otto@laptop")
	if err != nil {
		t.Fatal(err)
	}
	file := pem.EncodeToMemory(block)
	s, err := ParseSigner(file)
	if err != nil {
		t.Fatal(err)
	}
	return s, file
}

// TestSignerVerifies: the signer's headers pass the server's own check, and
// fail it for another host, path, body or key.
func TestSignerVerifies(t *testing.T) {
	s, _ := newKey(t)
	other, _ := newKey(t)
	v := &signature.Verifier{Policy: provisioner.SignaturesEveryone, Keys: staticKeys{"otto": {s.PublicKey()}}}
	body := []byte(`{"cluster":"c1","ttl":30}`)
	sign := func(s *Signer, host, path string, body []byte) signature.Request {
		ts, sig := s.Headers(host+path, time.Now().Unix(), body)
		return signature.Request{Login: "otto", Host: host, Path: path, Timestamp: ts, Signature: sig, Body: body}
	}
	if err := v.Verify(context.Background(), sign(s, "provisioner.example.org", "/extend", body)); err != nil {
		t.Fatalf("the server refuses the signer's signature: %v", err)
	}
	for what, r := range map[string]signature.Request{
		"other host": func() signature.Request {
			r := sign(s, "provisioner.example.org", "/extend", body)
			r.Host = "evil.example.org"
			return r
		}(),
		"other path": func() signature.Request {
			r := sign(s, "provisioner.example.org", "/extend", body)
			r.Path = "/destroy"
			return r
		}(),
		"other body": func() signature.Request {
			r := sign(s, "provisioner.example.org", "/extend", body)
			r.Body = []byte(`{"cluster":"c1","ttl":3000}`)
			return r
		}(),
		"other key": sign(other, "provisioner.example.org", "/extend", body),
	} {
		if err := v.Verify(context.Background(), r); provisioner.ErrorCode(err) != provisioner.EBADSIGNATURE {
			t.Errorf("%s: %v, want %s", what, err, provisioner.EBADSIGNATURE)
		}
	}
}

// TestParseSigner: OpenSSH ed25519 keys, as ssh-keygen writes them and as the
// Python client reads them; passphrases and other key types are refused
// with a reason.
func TestParseSigner(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	enc, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseSigner(pem.EncodeToMemory(enc)); err == nil || !strings.Contains(err.Error(), "passphrase") {
		t.Errorf("a key with a passphrase: %v", err)
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := ssh.MarshalPrivateKey(rk, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseSigner(pem.EncodeToMemory(rb)); err == nil || !strings.Contains(err.Error(), "ed25519") {
		t.Errorf("an RSA key: %v", err)
	}
	if _, err := ParseSigner([]byte("ssh-ed25519 AAAA public half")); err == nil {
		t.Error("a public key parsed as a private one")
	}

	keygen, err := exec.LookPath("ssh-keygen")
	if err != nil {
		t.Skip("no ssh-keygen to make a key as users do")
	}
	file := filepath.Join(t.TempDir(), "sliderule_key")
	if out, err := exec.Command(keygen, "-q", "-t", "ed25519", "-N", "", "-C", "otto@laptop", "-f", file).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	s, err := LoadSigner(file)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := os.ReadFile(file + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	want, _, _, _, err := ssh.ParseAuthorizedKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if string(want.Marshal()) != string(s.PublicKey().Marshal()) {
		t.Error("the signer's public key is not ssh-keygen's .pub")
	}
}

// TestClientSignsStateChangingCalls: the client signs exactly the calls the
// server checks (signature.Covers), with the Host header and raw path the
// server sees and the exact body bytes; a server verifying every signed
// call accepts them all, and reading calls carry no signature.
func TestClientSignsStateChangingCalls(t *testing.T) {
	s, _ := newKey(t)
	v := &signature.Verifier{Policy: provisioner.SignaturesEveryone, Keys: staticKeys{"otto": {s.PublicKey()}}}
	var mu sync.Mutex
	signed := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		has := r.Header.Get(signature.HeaderSignature) != ""
		mu.Lock()
		signed[r.Method+" "+r.URL.Path] = has
		mu.Unlock()
		if signature.Covers(r.Method, r.URL.Path) {
			err := v.Verify(r.Context(), signature.Request{Login: "otto", Host: r.Host, Path: r.URL.EscapedPath(),
				Timestamp: r.Header.Get(signature.HeaderTimestamp), Signature: r.Header.Get(signature.HeaderSignature), Body: body})
			if err != nil {
				w.WriteHeader(http.StatusUnauthorized)
				_ = json.NewEncoder(w).Encode(api.Error{Status: "failure", Error: provisioner.ErrorCode(err), Description: err.Error()})
				return
			}
		}
		_, _ = io.WriteString(w, `{"status":"success"}`)
	}))
	defer srv.Close()
	c := New(srv.URL, "tok")
	c.Signer = s
	ctx := context.Background()
	calls := map[string]func() error{
		"POST /deploy": func() error {
			_, err := c.Deploy(ctx, api.DeployRequest{Cluster: "c1", NodeCapacity: 1, TTL: 30})
			return err
		},
		"POST /destroy": func() error { _, err := c.Destroy(ctx, "c1"); return err },
		"POST /extend":  func() error { _, err := c.Extend(ctx, "c1", 60); return err },
		"POST /schedule_destroy": func() error {
			_, err := c.ScheduleDestroy(ctx, "c1", time.Now().Add(time.Hour))
			return err
		},
		"POST /test":    func() error { _, err := c.StartJob(ctx, provisioner.JobTest, "c1", "main"); return err },
		"POST /release": func() error { _, err := c.StartJob(ctx, provisioner.JobRelease, "", "v1.2.3"); return err },
		"POST /jobs/0f0f/cancel": func() error {
			_, err := c.CancelJob(ctx, "0f0f")
			return err
		},
		"POST /status": func() error { _, err := c.Status(ctx, "c1"); return err },
		"POST /events": func() error { _, err := c.Events(ctx, "c1"); return err },
		"POST /access": func() error { _, err := c.Access(ctx, "c1"); return err },
		"GET /jobs":    func() error { _, err := c.Jobs(ctx, provisioner.JobFilter{}); return err },
	}
	for name, call := range calls {
		if err := call(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		method, path, _ := strings.Cut(name, " ")
		if want := signature.Covers(method, path); signed[name] != want {
			t.Errorf("%s signed %v, want %v", name, signed[name], want)
		}
	}
	// Without a signer the server's refusal comes back as its code.
	c.Signer = nil
	if _, err := c.Extend(ctx, "c1", 60); provisioner.ErrorCode(err) != provisioner.ESIGREQUIRED {
		t.Errorf("unsigned extend: %v", err)
	}
}
