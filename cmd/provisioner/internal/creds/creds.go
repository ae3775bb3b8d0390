// Package creds is the CLI's token cache: the jwt_user of each server the
// user logged in to, kept between commands in a file only the user can read.
package creds

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/adrg/xdg"

	"provisioner"
	"provisioner/api"
)

// Token is a jwt_user kept between commands.
type Token struct {
	Token     string    `json:"token"`
	Login     string    `json:"login"`
	Level     string    `json:"level"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Cache is the token file, one token per server URL.
type Cache struct {
	Path string
}

// DefaultPath is the cache in the user's config directory;
// PROVISIONER_CONFIG_DIR moves it (tests, CI).
func DefaultPath() string {
	dir := os.Getenv("PROVISIONER_CONFIG_DIR")
	if dir == "" {
		dir = filepath.Join(xdg.ConfigHome, "sliderule-provisioner")
	}
	return filepath.Join(dir, "credentials.json")
}

// Load reads every cached token; a missing file is an empty cache.
func (c *Cache) Load() (map[string]Token, error) {
	m := map[string]Token{}
	b, err := os.ReadFile(c.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, provisioner.Errorf(provisioner.EINVALID, "token cache %s is corrupt; delete it and log in again", c.Path)
	}
	return m, nil
}

// Save writes the cache with 0600 through a rename, so a crash never
// leaves a half-written file and no other user can read the tokens.
func (c *Cache) Save(m map[string]Token) error {
	if err := os.MkdirAll(filepath.Dir(c.Path), 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(c.Path), ".credentials-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), c.Path)
}

// Put caches the token of a login at server.
func (c *Cache) Put(server string, l api.Login) error {
	m, err := c.Load()
	if err != nil {
		return err
	}
	m[server] = Token{Token: l.Token, Login: l.Metadata.Subject, Level: l.Metadata.Level,
		ExpiresAt: time.Unix(l.Metadata.ExpiresAt, 0).UTC()}
	return c.Save(m)
}

// Get returns the cached token of server, "" if there is none. An expired
// token is reported, never returned to be sent.
func (c *Cache) Get(server string, now time.Time) (string, error) {
	m, err := c.Load()
	if err != nil {
		return "", err
	}
	t, ok := m[server]
	if !ok {
		return "", nil
	}
	if now.After(t.ExpiresAt) {
		return "", provisioner.Errorf(provisioner.EUNAUTHORIZED, "your login to %s expired at %s; run 'provisioner login'", server, t.ExpiresAt.Format(time.RFC3339))
	}
	return t.Token, nil
}
