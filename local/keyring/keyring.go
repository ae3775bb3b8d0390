package keyring

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"provisioner"
)

// Keyring is the embedded provisioner.Signer. It is safe for concurrent use;
// Sign reads an immutable snapshot of the keys without locking.
type Keyring struct {
	dir   string
	cfg   Config    // withDefaults: a CheckInterval of 0 checks on every call
	start time.Time // monotonic origin of nextCheck and nextForce

	state     atomic.Pointer[state]
	nextCheck atomic.Int64 // when the manifest may be stat'ed again
	nextForce atomic.Int64 // when an unknown kid may force a check again
	reloadMu  sync.Mutex   // one reload at a time
}

var _ provisioner.Signer = (*Keyring)(nil)

// Open opens the keys in cfg.Dir, creating the directory (0700) and a
// first key when there is none, and pruning retired keys past their
// lifetime.
func Open(cfg Config) (*Keyring, error) {
	dir := cfg.Dir
	if err := prepareDir(dir); err != nil {
		return nil, err
	}
	k := &Keyring{dir: dir, cfg: cfg.withDefaults(), start: time.Now()}
	m, err := readManifest(dir)
	if err != nil {
		return nil, err
	}
	if needsUpdate(m, k.cfg.Now(), k.cfg.MaxTokenLifetime) {
		err := update(k.cfg, func(m *manifest, now time.Time) error {
			if m.current() >= 0 {
				return nil // another process created one meanwhile
			}
			kid, err := addKey(dir, m, now)
			if err == nil {
				k.cfg.Logger.Info("generated signing key", "kid", kid)
			}
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	if err := k.Reload(); err != nil {
		return nil, err
	}
	return k, nil
}

// HasKeys reports whether dir holds a keyring's manifest: keys from an
// earlier start.
func HasKeys(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, manifestName))
	return err == nil
}

// Dir returns the key directory.
func (k *Keyring) Dir() string { return k.dir }

// Sign signs the JWS signing input with the current key: RS256
// (RSASSA-PKCS1-v1_5 with SHA-256, deterministic and constant-time in Go's
// crypto/rsa).
func (k *Keyring) Sign(_ context.Context, signingInput []byte) ([]byte, string, string, error) {
	k.refresh(false)
	cur := k.state.Load().current
	digest := sha256.Sum256(signingInput)
	sig, err := rsa.SignPKCS1v15(nil, cur.priv, crypto.SHA256, digest[:])
	if err != nil {
		return nil, "", "", provisioner.Wrap(provisioner.EINTERNAL, err, "cannot sign token")
	}
	return sig, cur.pub.ID, AlgRS256, nil
}

// Current returns the id and algorithm of the key Sign uses.
func (k *Keyring) Current(context.Context) (string, string, error) {
	k.refresh(false)
	return k.state.Load().current.pub.ID, AlgRS256, nil
}

// PublicKey returns a key that may verify a live token, or ENOTFOUND. An
// unknown kid may come from a rotation by another process, so it forces a
// manifest check (rate-limited, as anyone can send any kid).
func (k *Keyring) PublicKey(_ context.Context, kid string) (provisioner.PublicKey, error) {
	k.refresh(false)
	if pk, ok := k.state.Load().lookup(kid, k.cfg.Now(), k.cfg.MaxTokenLifetime); ok {
		return pk, nil
	}
	if k.refresh(true) {
		if pk, ok := k.state.Load().lookup(kid, k.cfg.Now(), k.cfg.MaxTokenLifetime); ok {
			return pk, nil
		}
	}
	return provisioner.PublicKey{}, provisioner.Errorf(provisioner.ENOTFOUND, "unknown signing key")
}

// PublicKeys returns the current key first, then the retired keys that may
// still verify a live token, newest first: the JWKS.
func (k *Keyring) PublicKeys(context.Context) ([]provisioner.PublicKey, error) {
	k.refresh(false)
	st := k.state.Load()
	now := k.cfg.Now()
	out := make([]provisioner.PublicKey, 0, len(st.keys))
	out = append(out, st.current.pub)
	for i := len(st.keys) - 1; i >= 0; i-- {
		if e := st.keys[i]; e != st.current && !e.expired(now, k.cfg.MaxTokenLifetime) {
			out = append(out, e.pub)
		}
	}
	return out, nil
}

// Rotate makes a new key current and retires the old one; see Rotate.
func (k *Keyring) Rotate() (string, error) {
	kid, err := rotate(k.cfg)
	if err != nil {
		return "", err
	}
	return kid, k.Reload()
}

// Revoke withdraws a key at once; see Revoke.
func (k *Keyring) Revoke(kid string) (string, error) {
	cur, err := revoke(k.cfg, kid)
	if err != nil {
		return "", err
	}
	return cur, k.Reload()
}

// Prune deletes retired keys past their lifetime from the directory.
// PublicKeys already leaves them out; pruning only reclaims the files.
func (k *Keyring) Prune() error {
	if err := update(k.cfg, nil); err != nil {
		return err
	}
	return k.Reload()
}
