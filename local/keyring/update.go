package keyring

import (
	"os"
	"path/filepath"
	"time"

	"provisioner"
	"provisioner/local/internal/files"
)

// Rotate makes a new key current in cfg.Dir and retires the old one, for
// the `provisioner keys rotate` command; a Keyring serving from the same
// directory in another process picks the new key up within its check
// interval. It returns the new key id.
func Rotate(cfg Config) (string, error) { return rotate(cfg.withDefaults()) }

func rotate(cfg Config) (string, error) {
	dir := cfg.Dir
	if err := prepareDir(dir); err != nil {
		return "", err
	}
	var kid string
	err := update(cfg, func(m *manifest, now time.Time) error {
		var err error
		kid, err = addKey(dir, m, now)
		return err
	})
	return kid, err
}

// Revoke withdraws the key kid of cfg.Dir at once: it leaves the JWKS and
// the PEM, no token it signed verifies any more, and its file is deleted.
// Revoking the current key first makes a new one current. It returns the
// current key id afterwards.
func Revoke(cfg Config, kid string) (string, error) { return revoke(cfg.withDefaults(), kid) }

func revoke(cfg Config, kid string) (string, error) {
	dir := cfg.Dir
	if err := prepareDir(dir); err != nil {
		return "", err
	}
	var cur string
	err := update(cfg, func(m *manifest, now time.Time) error {
		i := -1
		for j, e := range m.Keys {
			if e.ID == kid {
				i = j
			}
		}
		if i < 0 {
			return provisioner.Errorf(provisioner.ENOTFOUND, "no signing key %q (see 'provisioner keys list')", kid)
		}
		if i == m.current() {
			if _, err := addKey(dir, m, now); err != nil {
				return err
			}
		}
		m.Keys[i].RevokedAt = now
		cur = m.Keys[m.current()].ID
		return nil
	})
	return cur, err
}

// prepareDir creates the key directory, readable by its owner only.
func prepareDir(dir string) error {
	if dir == "" {
		return provisioner.Errorf(provisioner.EINVALID, "signing key directory is required")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return provisioner.Wrap(provisioner.EINTERNAL, err, "cannot create the signing key directory")
	}
	return nil
}

// addKey generates a key, retires every current one and makes it current.
func addKey(dir string, m *manifest, now time.Time) (string, error) {
	kid, err := newKey(dir)
	if err != nil {
		return "", err
	}
	for i := range m.Keys {
		if m.Keys[i].RetiredAt.IsZero() {
			m.Keys[i].RetiredAt = now
		}
	}
	m.Keys = append(m.Keys, keyEntry{ID: kid, Algorithm: AlgRS256, CreatedAt: now})
	return kid, nil
}

// needsUpdate tells whether opening dir must write: no current key yet, or
// retired keys past their lifetime.
func needsUpdate(m *manifest, now time.Time, maxAge time.Duration) bool {
	if m.current() < 0 {
		return true
	}
	for _, e := range m.Keys {
		if e.expired(now, maxAge) {
			return true
		}
	}
	return false
}

// update changes the manifest of c.Dir (c has its defaults) under the
// directory lock: it re-reads the manifest, applies fn, prunes expired
// keys, writes the manifest atomically and only then deletes files no
// longer listed, so a reader of the previous manifest finds every key it
// names for as long as possible.
func update(c Config, fn func(*manifest, time.Time) error) error {
	dir := c.Dir
	unlock, err := lockDir(dir)
	if err != nil {
		return provisioner.Wrap(provisioner.EINTERNAL, err, "cannot lock the signing key directory")
	}
	defer unlock()
	m, err := readManifest(dir)
	if err != nil {
		return err
	}
	now := c.Now().UTC()
	if fn != nil {
		if err := fn(m, now); err != nil {
			return err
		}
	}
	var kept, pruned []keyEntry
	for _, e := range m.Keys {
		if e.expired(now, c.MaxTokenLifetime) {
			pruned = append(pruned, e)
		} else {
			kept = append(kept, e)
		}
	}
	m.Keys = kept
	if err := writeManifest(dir, m); err != nil {
		return err
	}
	for _, e := range pruned {
		os.Remove(filepath.Join(dir, keyFileName(e.ID)))
	}
	removeTemps(dir)
	return nil
}

// removeTemps deletes a crashed writer's temporary files. It runs under the
// lock, so no writer is using them. Key files the manifest does not list are
// left alone: deleting a private key is never a guess.
func removeTemps(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, de := range entries {
		if files.IsTemp(de.Name()) {
			os.Remove(filepath.Join(dir, de.Name()))
		}
	}
}
