package creds

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"provisioner"
	"provisioner/api"
)

func TestCache(t *testing.T) {
	c := &Cache{Path: filepath.Join(t.TempDir(), "dir", "credentials.json")}
	now := time.Date(2026, 8, 1, 12, 0, 0, 0, time.UTC)
	if tok, err := c.Get("http://a", now); tok != "" || err != nil {
		t.Fatalf("empty cache: %q %v", tok, err)
	}
	login := api.Login{Token: "t1", Metadata: api.Metadata{Subject: "ada", Level: "admin", ExpiresAt: now.Add(time.Hour).Unix()}}
	if err := c.Put("http://a", login); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(c.Path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("cache file: %v %v", fi, err)
	}
	if tok, err := c.Get("http://a", now); tok != "t1" || err != nil {
		t.Errorf("cached: %q %v", tok, err)
	}
	if tok, err := c.Get("http://b", now); tok != "" || err != nil {
		t.Errorf("another server: %q %v", tok, err)
	}
	if _, err := c.Get("http://a", now.Add(2*time.Hour)); provisioner.ErrorCode(err) != provisioner.EUNAUTHORIZED {
		t.Errorf("expired: %v", err)
	}
	if err := os.WriteFile(c.Path, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Load(); provisioner.ErrorCode(err) != provisioner.EINVALID {
		t.Errorf("corrupt: %v", err)
	}
}
