package jwt

import (
	"context"

	"provisioner"
)

// StaticKeySet is a fixed provisioner.KeySet: keys loaded once from a JWKS
// file or URL by a gateway, or made up by a test.
type StaticKeySet []provisioner.PublicKey

var _ provisioner.KeySet = StaticKeySet(nil)

// PublicKey returns the key with id kid, or ENOTFOUND.
func (s StaticKeySet) PublicKey(_ context.Context, kid string) (provisioner.PublicKey, error) {
	for _, k := range s {
		if k.ID == kid {
			return k, nil
		}
	}
	return provisioner.PublicKey{}, provisioner.Errorf(provisioner.ENOTFOUND, "unknown signing key")
}

// PublicKeys returns a copy of the keys.
func (s StaticKeySet) PublicKeys(context.Context) ([]provisioner.PublicKey, error) {
	return append([]provisioner.PublicKey(nil), s...), nil
}
