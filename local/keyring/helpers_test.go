package keyring

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"sync"
	"testing"
	"time"

	"provisioner"
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func open(t testing.TB, cfg Config) *Keyring {
	t.Helper()
	k, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return k
}

// verify checks an RS256 signature over msg with pk.
func verify(t testing.TB, pk provisioner.PublicKey, msg, sig []byte) {
	t.Helper()
	if pk.Algorithm != AlgRS256 || len(sig) != 256 {
		t.Fatalf("%s signature of %d bytes, want RS256 with 256", pk.Algorithm, len(sig))
	}
	d := sha256.Sum256(msg)
	if err := rsa.VerifyPKCS1v15(pk.Key.(*rsa.PublicKey), crypto.SHA256, d[:], sig); err != nil {
		t.Fatalf("signature does not verify with key %s: %v", pk.ID, err)
	}
}

func kids(keys []provisioner.PublicKey) []string {
	var out []string
	for _, k := range keys {
		out = append(out, k.ID)
	}
	return out
}

func wantCode(t testing.TB, err error, code string) {
	t.Helper()
	if got := provisioner.ErrorCode(err); got != code {
		t.Fatalf("error %v: code %q, want %q", err, got, code)
	}
}
