package keyring

import (
	"encoding/json"
	"errors"
	"io/fs"
	"path/filepath"
	"regexp"
	"time"

	"provisioner"
	"provisioner/local/internal/files"
)

const (
	manifestName    = "keys.json"
	manifestVersion = 1
	// AlgRS256 is the only algorithm this signer uses: production's load
	// balancer checks RS256 and nothing else.
	AlgRS256 = "RS256"
	// algLegacy is what keys of earlier versions used. Such entries are
	// never loaded and are pruned at the next write, so an upgraded data
	// directory gets an RS256 key and its ES256 tokens stop verifying.
	algLegacy = "ES256"
	// maxManifestSize bounds what a reader loads from the directory.
	maxManifestSize = 1 << 20
)

// manifest lists the keys in creation order; the current key is the last one
// without a retirement time.
type manifest struct {
	Version int        `json:"version"`
	Keys    []keyEntry `json:"keys"`
}

type keyEntry struct {
	ID        string    `json:"kid"`
	Algorithm string    `json:"alg"`
	CreatedAt time.Time `json:"created_at"`
	RetiredAt time.Time `json:"retired_at,omitzero"`
	// RevokedAt marks a key withdrawn at once: it verifies nothing from
	// then on and is deleted at the same write.
	RevokedAt time.Time `json:"revoked_at,omitzero"`
}

// kidRE is what key ids look like (base64url SHA-256 thumbprints); checking
// it keeps a tampered manifest from naming files outside the directory.
var kidRE = regexp.MustCompile(`^[A-Za-z0-9_-]{16,128}$`)

// current returns the index of the current key, or -1.
func (m *manifest) current() int {
	for i := len(m.Keys) - 1; i >= 0; i-- {
		if m.Keys[i].RetiredAt.IsZero() && m.Keys[i].Algorithm == AlgRS256 {
			return i
		}
	}
	return -1
}

// expired tells whether a key can no longer verify a live token: a retired
// key past the lifetime of what it signed, or a legacy key.
func (e keyEntry) expired(now time.Time, maxAge time.Duration) bool {
	if e.Algorithm != AlgRS256 || !e.RevokedAt.IsZero() {
		return true
	}
	return !e.RetiredAt.IsZero() && !now.Before(e.RetiredAt.Add(maxAge+pruneGrace))
}

// readManifest returns the manifest of dir, an empty one if there is none.
func readManifest(dir string) (*manifest, error) {
	b, err := files.ReadSmall(filepath.Join(dir, manifestName), maxManifestSize)
	if errors.Is(err, fs.ErrNotExist) {
		return &manifest{Version: manifestVersion}, nil
	}
	if err != nil {
		return nil, provisioner.Wrap(provisioner.EINTERNAL, err, "cannot read the signing key manifest")
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, provisioner.Wrap(provisioner.EINTERNAL, err, "signing key manifest is corrupt")
	}
	if m.Version != manifestVersion {
		return nil, provisioner.Errorf(provisioner.EINTERNAL, "signing key manifest has unsupported version %d", m.Version)
	}
	seen := make(map[string]bool, len(m.Keys))
	for _, e := range m.Keys {
		if !kidRE.MatchString(e.ID) || (e.Algorithm != AlgRS256 && e.Algorithm != algLegacy) || seen[e.ID] {
			return nil, provisioner.Errorf(provisioner.EINTERNAL, "signing key manifest has an invalid entry")
		}
		seen[e.ID] = true
	}
	return &m, nil
}

// writeManifest replaces the manifest atomically.
func writeManifest(dir string, m *manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return provisioner.Wrap(provisioner.EINTERNAL, err, "cannot encode the signing key manifest")
	}
	if err := files.WriteAtomic(dir, manifestName, append(b, '\n')); err != nil {
		return provisioner.Wrap(provisioner.EINTERNAL, err, "cannot write the signing key manifest")
	}
	return nil
}
