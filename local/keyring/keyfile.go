package keyring

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/go-jose/go-jose/v4"

	"provisioner"
	"provisioner/local/internal/files"
)

const (
	keyPrefix   = "key-"
	keySuffix   = ".pem"
	pemType     = "PRIVATE KEY"
	maxKeyBytes = 64 << 10
)

func keyFileName(kid string) string { return keyPrefix + kid + keySuffix }

// Thumbprint returns the RFC 7638 SHA-256 JWK thumbprint of pub, base64url
// encoded: the key id, derived from the key itself so that every process
// names a key the same way and ids reveal nothing about order.
func Thumbprint(pub crypto.PublicKey) (string, error) {
	jwk := jose.JSONWebKey{Key: pub}
	b, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", provisioner.Wrap(provisioner.EINTERNAL, err, "cannot compute the key id")
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// rsaBits is the size of generated keys: production's (KMS RSA_2048), and
// what its load balancer's RS256 check expects.
const rsaBits = 2048

// newKey generates an RSA key and writes it to dir; it returns the key id.
func newKey(dir string) (string, error) {
	priv, err := rsa.GenerateKey(rand.Reader, rsaBits)
	if err != nil {
		return "", provisioner.Wrap(provisioner.EINTERNAL, err, "cannot generate a signing key")
	}
	kid, err := Thumbprint(&priv.PublicKey)
	if err != nil {
		return "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", provisioner.Wrap(provisioner.EINTERNAL, err, "cannot encode the signing key")
	}
	data := pem.EncodeToMemory(&pem.Block{Type: pemType, Bytes: der})
	if err := files.WriteAtomic(dir, keyFileName(kid), data); err != nil {
		return "", provisioner.Wrap(provisioner.EINTERNAL, err, "cannot write the signing key")
	}
	return kid, nil
}

// readKey loads the key kid from dir. Like ssh, it refuses a file that group
// or others may access, and it checks that the file holds the key its name
// claims.
func readKey(dir, kid string) (*rsa.PrivateKey, error) {
	path := filepath.Join(dir, keyFileName(kid))
	f, err := os.Open(path)
	if err != nil {
		return nil, provisioner.Wrap(provisioner.EINTERNAL, err, "cannot open signing key file")
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, provisioner.Wrap(provisioner.EINTERNAL, err, "cannot stat signing key file")
	}
	if mode := fi.Mode().Perm(); mode&0o077 != 0 && runtime.GOOS != "windows" {
		return nil, provisioner.Wrap(provisioner.EINTERNAL,
			fmt.Errorf("%s has mode %04o", path, mode),
			"signing key file is accessible by group or others; run chmod 600 on it")
	}
	b, err := files.ReadLimited(f, maxKeyBytes)
	if err != nil {
		return nil, provisioner.Wrap(provisioner.EINTERNAL, fmt.Errorf("%s: %w", path, err), "cannot read signing key file")
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != pemType {
		return nil, provisioner.Wrap(provisioner.EINTERNAL, fmt.Errorf("%s: no %q PEM block", path, pemType), "signing key file is not a PKCS#8 PEM key")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, provisioner.Wrap(provisioner.EINTERNAL, fmt.Errorf("%s: %w", path, err), "signing key file is not a PKCS#8 PEM key")
	}
	priv, ok := k.(*rsa.PrivateKey)
	if !ok || priv.N.BitLen() < rsaBits {
		return nil, provisioner.Wrap(provisioner.EINTERNAL, fmt.Errorf("%s: %T", path, k), "signing key file does not hold an RSA key of 2048 bits or more")
	}
	priv.Precompute()
	if got, err := Thumbprint(&priv.PublicKey); err != nil || got != kid {
		return nil, provisioner.Wrap(provisioner.EINTERNAL, fmt.Errorf("%s holds key %s", path, got), "signing key file does not match its key id")
	}
	return priv, nil
}
