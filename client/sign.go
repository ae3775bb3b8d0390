package client

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"time"

	"golang.org/x/crypto/ssh"

	"provisioner/signature"
)

// Signer signs requests as the released SlideRule Python client's
// Session.__signrequest does, with an ssh-ed25519 private key.
type Signer struct {
	key ed25519.PrivateKey
	Now func() time.Time // default time.Now
}

// ParseSigner reads a private key in the format the Python client reads from
// ~/.sliderule_key (cryptography's load_ssh_private_key: an OpenSSH private
// key, "-----BEGIN OPENSSH PRIVATE KEY-----", without a passphrase), so one
// file serves both clients; a PKCS#8 PEM ed25519 key is accepted too. Keys
// of other types are refused: signatures are ssh-ed25519.
func ParseSigner(pemBytes []byte) (*Signer, error) {
	raw, err := ssh.ParseRawPrivateKey(pemBytes)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		return nil, errors.New("the key has a passphrase; the SlideRule clients read keys without one (ssh-keygen -p -N '' -f FILE removes it)")
	}
	if err != nil {
		return nil, fmt.Errorf("not an OpenSSH private key: %v", err)
	}
	switch k := raw.(type) {
	case ed25519.PrivateKey:
		return &Signer{key: k}, nil
	case *ed25519.PrivateKey:
		return &Signer{key: *k}, nil
	default:
		return nil, fmt.Errorf("a %T key; signing keys are ssh-ed25519 (ssh-keygen -t ed25519)", raw)
	}
}

// LoadSigner reads ParseSigner's format from a file.
func LoadSigner(path string) (*Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s, err := ParseSigner(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// PublicKey returns the key's public half, as the operator registers it.
func (s *Signer) PublicKey() ssh.PublicKey {
	pk, _ := ssh.NewPublicKey(s.key.Public())
	return pk
}

// Headers returns x-sliderule-timestamp and x-sliderule-signature for a
// request to hostPath (the Host header followed by the raw path) with body,
// signed at the timestamp ts (Unix seconds).
func (s *Signer) Headers(hostPath string, ts int64, body []byte) (timestamp, sig string) {
	timestamp = strconv.FormatInt(ts, 10)
	msg := signature.Canonical(hostPath, timestamp, body)
	return timestamp, base64.StdEncoding.EncodeToString(ed25519.Sign(s.key, msg))
}

// Sign adds the signature headers to req, whose body is body (the exact
// bytes sent). It signs what the server checks: the host as sent in the
// Host header (req.Host, else the URL's host) and the raw path.
func (s *Signer) Sign(req *http.Request, body []byte) {
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	ts, sig := s.Headers(host+req.URL.EscapedPath(), now().Unix(), body)
	req.Header.Set(signature.HeaderTimestamp, ts)
	req.Header.Set(signature.HeaderSignature, sig)
}
