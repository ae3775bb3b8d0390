package jwt

import (
	"crypto/rsa"
	"encoding/json"

	"github.com/go-jose/go-jose/v4"

	"provisioner"
)

const (
	// minRSABits is the smallest RSA key accepted for RS256.
	minRSABits = 2048
	// MaxJWKSSize caps what ParseJWKS reads; a real set is a few KiB.
	MaxJWKSSize = 1 << 20
	// maxJWKSKeys caps how many keys ParseJWKS looks at.
	maxJWKSKeys = 100
)

// MarshalJWKS encodes keys as a JWK Set for /.well-known/jwks.json. It
// refuses anything but RS256 (RSA of 2048 bits or more) public
// keys, so a private key can never be published by mistake.
func MarshalJWKS(keys []provisioner.PublicKey) ([]byte, error) {
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(keys))}
	for _, pk := range keys {
		key, ok := checkKey(pk)
		if !ok || pk.ID == "" {
			return nil, provisioner.Errorf(provisioner.EINTERNAL, "cannot publish signing key %q", pk.ID)
		}
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: key, KeyID: pk.ID, Algorithm: pk.Algorithm, Use: "sig"})
	}
	b, err := json.Marshal(set)
	if err != nil {
		return nil, provisioner.Wrap(provisioner.EINTERNAL, err, "cannot encode the JWKS")
	}
	return b, nil
}

// publicJWK holds only the public members of a JWK: ParseJWKS hands go-jose
// nothing else, so private parameters and certificate chains in an
// untrusted set are never parsed.
type publicJWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
	Kid string `json:"kid"`
	Alg string `json:"alg,omitempty"`
	Use string `json:"use,omitempty"`
}

// ParseJWKS decodes a JWK Set, keeping the signature keys a verifier may
// use: RSA of 2048 bits or more for RS256, each with a kid. Other keys (encryption keys, other curves and algorithms, keys
// without kid, later duplicates of a kid) are skipped, as RFC 7517 §5 asks.
// Only a set that is not JSON, or is too large, is an error (EINVALID).
func ParseJWKS(data []byte) ([]provisioner.PublicKey, error) {
	if len(data) > MaxJWKSSize {
		return nil, provisioner.Errorf(provisioner.EINVALID, "JWKS too large")
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, provisioner.Wrap(provisioner.EINVALID, err, "invalid JWKS")
	}
	out := []provisioner.PublicKey{}
	seen := map[string]bool{}
	for i, raw := range set.Keys {
		if i == maxJWKSKeys {
			break
		}
		pk, ok := parseJWK(raw)
		if ok && !seen[pk.ID] {
			seen[pk.ID] = true
			out = append(out, pk)
		}
	}
	return out, nil
}

func parseJWK(raw []byte) (provisioner.PublicKey, bool) {
	var p publicJWK
	if json.Unmarshal(raw, &p) != nil || p.Kid == "" || (p.Use != "" && p.Use != "sig") {
		return provisioner.PublicKey{}, false
	}
	alg := p.Alg
	switch {
	case p.Kty == "RSA" && (alg == "" || alg == AlgRS256):
		alg = AlgRS256
		p.Crv, p.X, p.Y = "", "", ""
	default:
		return provisioner.PublicKey{}, false
	}
	clean, err := json.Marshal(p)
	if err != nil {
		return provisioner.PublicKey{}, false
	}
	var jwk jose.JSONWebKey
	if jwk.UnmarshalJSON(clean) != nil {
		return provisioner.PublicKey{}, false
	}
	pk := provisioner.PublicKey{ID: p.Kid, Algorithm: alg}
	switch k := jwk.Key.(type) {
	case *rsa.PublicKey:
		pk.Key = k
	default:
		return provisioner.PublicKey{}, false
	}
	if _, ok := checkKey(pk); !ok {
		return provisioner.PublicKey{}, false
	}
	return pk, true
}
