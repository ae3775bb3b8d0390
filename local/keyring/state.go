package keyring

import (
	"crypto/rsa"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"provisioner"
)

// state is an immutable snapshot of the manifest and its keys.
type state struct {
	stat    os.FileInfo // of the manifest, when it was read
	keys    []*key      // manifest order
	byID    map[string]*key
	current *key
}

type key struct {
	keyEntry
	priv *rsa.PrivateKey
	pub  provisioner.PublicKey
}

// lookup returns a key that may still verify a live token.
func (s *state) lookup(kid string, now time.Time, maxAge time.Duration) (provisioner.PublicKey, bool) {
	k, ok := s.byID[kid]
	if !ok || k.expired(now, maxAge) {
		return provisioner.PublicKey{}, false
	}
	return k.pub, true
}

// KeyInfo describes a key of the ring, for `provisioner keys list`.
type KeyInfo struct {
	ID        string    `json:"kid"`
	Algorithm string    `json:"alg"`
	CreatedAt time.Time `json:"created_at"`
	RetiredAt time.Time `json:"retired_at,omitzero"`
	Current   bool      `json:"current"`
}

// Keys lists the keys of the manifest in creation order.
func (k *Keyring) Keys() []KeyInfo {
	k.refresh(false)
	st := k.state.Load()
	out := make([]KeyInfo, len(st.keys))
	for i, e := range st.keys {
		out[i] = KeyInfo{ID: e.ID, Algorithm: e.Algorithm, CreatedAt: e.CreatedAt, RetiredAt: e.RetiredAt, Current: e == st.current}
	}
	return out
}

// Reload reads the manifest and any new key files now.
func (k *Keyring) Reload() error {
	k.reloadMu.Lock()
	defer k.reloadMu.Unlock()
	st, err := load(k.dir, k.state.Load())
	if err != nil {
		return err
	}
	if old := k.state.Load(); old != nil && old.current.ID != st.current.ID {
		k.cfg.Logger.Info("signing key changed", "kid", st.current.ID)
	}
	k.state.Store(st)
	return nil
}

// refresh reloads the keys if the manifest changed since they were read. It
// stats at most once per check interval, or, when forced by an unknown kid,
// at most once per second; it reports whether it looked.
func (k *Keyring) refresh(force bool) bool {
	slot, every := &k.nextCheck, k.cfg.CheckInterval
	if force {
		slot, every = &k.nextForce, min(every, time.Second)
	}
	t := int64(time.Since(k.start))
	next := slot.Load()
	if t < next || !slot.CompareAndSwap(next, t+int64(every)) {
		return false
	}
	fi, err := os.Stat(filepath.Join(k.dir, manifestName))
	if err == nil && sameFile(k.state.Load().stat, fi) {
		return true
	}
	if err := k.Reload(); err != nil {
		// Keep signing with the keys we have; the next check retries.
		k.cfg.Logger.Error("cannot reload signing keys", "dir", k.dir, "err", err)
	}
	return true
}

func sameFile(a, b os.FileInfo) bool {
	return a != nil && b != nil && os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// load reads the manifest of dir and its keys, reusing the private keys of
// prev: a key id is a hash of its key, so a known id needs no second read.
func load(dir string, prev *state) (*state, error) {
	// Stat before reading: if a rotation slips in between, the next check
	// sees a changed stat and reads again.
	fi, err := os.Stat(filepath.Join(dir, manifestName))
	if err != nil {
		return nil, provisioner.Wrap(provisioner.EINTERNAL, err, "cannot read the signing key manifest")
	}
	m, err := readManifest(dir)
	if err != nil {
		return nil, err
	}
	cur := m.current()
	if cur < 0 {
		return nil, provisioner.Errorf(provisioner.EINTERNAL, "signing key manifest has no current key")
	}
	st := &state{stat: fi, byID: make(map[string]*key, len(m.Keys))}
	for i, e := range m.Keys {
		var priv *rsa.PrivateKey
		if old, ok := prev.find(e.ID); ok {
			priv = old.priv
		} else if priv, err = readKey(dir, e.ID); err != nil {
			if i != cur && errors.Is(err, fs.ErrNotExist) {
				continue // pruned by a writer after we read the manifest
			}
			return nil, err
		}
		k := &key{keyEntry: e, priv: priv, pub: provisioner.PublicKey{ID: e.ID, Algorithm: AlgRS256, Key: &priv.PublicKey}}
		st.keys = append(st.keys, k)
		st.byID[e.ID] = k
		if i == cur {
			st.current = k
		}
	}
	return st, nil
}

func (s *state) find(kid string) (*key, bool) {
	if s == nil {
		return nil, false
	}
	k, ok := s.byID[kid]
	return k, ok
}
