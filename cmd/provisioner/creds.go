package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/adrg/xdg"

	"provisioner"
	"provisioner/api"
	"provisioner/client"
)

// cachedToken is a jwt_user kept between commands, per server.
type cachedToken struct {
	Token     string    `json:"token"`
	Login     string    `json:"login"`
	Level     string    `json:"level"`
	ExpiresAt time.Time `json:"expires_at"`
}

// credsPath is the token cache; PROVISIONER_CONFIG_DIR moves it (tests, CI).
func credsPath() string {
	dir := os.Getenv("PROVISIONER_CONFIG_DIR")
	if dir == "" {
		dir = filepath.Join(xdg.ConfigHome, "sliderule-provisioner")
	}
	return filepath.Join(dir, "credentials.json")
}

func loadCreds() (map[string]cachedToken, error) {
	m := map[string]cachedToken{}
	b, err := os.ReadFile(credsPath())
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, provisioner.Errorf(provisioner.EINVALID, "token cache %s is corrupt; delete it and log in again", credsPath())
	}
	return m, nil
}

// saveCreds writes the cache with 0600 through a rename, so a crash never
// leaves a half-written file and no other user can read the tokens.
func saveCreds(m map[string]cachedToken) error {
	p := credsPath()
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".credentials-*")
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
	return os.Rename(tmp.Name(), p)
}

func storeToken(server string, l api.Login) error {
	m, err := loadCreds()
	if err != nil {
		return err
	}
	m[server] = cachedToken{Token: l.Token, Login: l.Metadata.Subject, Level: l.Metadata.Level,
		ExpiresAt: time.Unix(l.Metadata.ExpiresAt, 0).UTC()}
	return saveCreds(m)
}

// token returns the jwt_user to use: PROVISIONER_TOKEN wins (CI), then the
// cache. An expired cached token is reported, not sent.
func token(server string) (string, error) {
	if t := os.Getenv("PROVISIONER_TOKEN"); t != "" {
		return t, nil
	}
	m, err := loadCreds()
	if err != nil {
		return "", err
	}
	c, ok := m[server]
	if !ok {
		return "", nil
	}
	if time.Now().After(c.ExpiresAt) {
		return "", provisioner.Errorf(provisioner.EUNAUTHORIZED, "your login to %s expired at %s; run 'provisioner login'", server, c.ExpiresAt.Format(time.RFC3339))
	}
	return c.Token, nil
}

// client returns an API client carrying the cached token, if any, and the
// signing key, if any.
func (g *globals) client() (*client.Client, error) {
	tok, err := token(g.Server)
	if err != nil {
		return nil, err
	}
	s, path, err := g.signer()
	if err != nil {
		return nil, err
	}
	c := client.New(g.Server, tok)
	c.Signer, g.signedWith = s, path
	return c, nil
}

// authedClient is client() for commands that make no sense anonymously.
func (g *globals) authedClient() (*client.Client, error) {
	c, err := g.client()
	if err == nil && c.Token == "" {
		err = provisioner.Errorf(provisioner.EUNAUTHORIZED, "not logged in to %s; run 'provisioner login'", g.Server)
	}
	return c, err
}

func decodeSegment(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }
