package jwt

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"provisioner"
)

// IssueUser returns a signed jwt_user for u, valid for UserTTL.
func (t *Tokens) IssueUser(ctx context.Context, u provisioner.User) (string, provisioner.Claims, error) {
	return t.issue(ctx, provisioner.TypeUserToken, provisioner.AudienceProvisioner, u, t.cfg.UserTTL)
}

// IssueCluster returns a signed jwt_cluster for u whose audience is exactly
// cluster, valid for ClusterTTL.
func (t *Tokens) IssueCluster(ctx context.Context, u provisioner.User, cluster string) (string, provisioner.Claims, error) {
	if cluster == "" || cluster == provisioner.AudienceProvisioner {
		return "", provisioner.Claims{}, provisioner.Errorf(provisioner.EINVALID, "invalid cluster name for a token")
	}
	return t.issue(ctx, provisioner.TypeClusterToken, cluster, u, t.cfg.ClusterTTL)
}

// signAttempts bounds retries when the signer's current key changes between
// Current and Sign (a rotation by another process).
const signAttempts = 3

// issue builds the JWS signing input with golang-jwt and has the Signer sign
// it, so a remote signer (KMS) never needs the private key here.
func (t *Tokens) issue(ctx context.Context, typ, aud string, u provisioner.User, ttl time.Duration) (string, provisioner.Claims, error) {
	if t.cfg.Signer == nil || t.cfg.Issuer == "" {
		return "", provisioner.Claims{}, provisioner.Errorf(provisioner.EINTERNAL, "token signing is not configured")
	}
	if u.Login == "" {
		return "", provisioner.Claims{}, provisioner.Errorf(provisioner.EINVALID, "a token needs a user login")
	}
	level, err := u.Level.MarshalText()
	if err != nil {
		return "", provisioner.Claims{}, provisioner.Wrap(provisioner.EINVALID, err, "a token needs a valid level")
	}
	jti, err := newID()
	if err != nil {
		return "", provisioner.Claims{}, err
	}
	now := time.Unix(t.cfg.Now().Unix(), 0) // JWT times are whole seconds
	c := &wireClaims{
		Issuer:    t.cfg.Issuer,
		Subject:   u.Login,
		UID:       u.ID,
		Level:     string(level),
		Org:       u.Org,
		Audience:  audience{aud},
		IssuedAt:  numericDate(now),
		NotBefore: numericDate(now),
		ExpiresAt: numericDate(now.Add(ttl)),
		ID:        jti,
	}
	for range signAttempts {
		kid, alg, err := t.cfg.Signer.Current(ctx)
		if err != nil {
			return "", provisioner.Claims{}, signError(err)
		}
		method, ok := signingMethod(alg)
		if !ok {
			return "", provisioner.Claims{}, provisioner.Errorf(provisioner.EINTERNAL, "signer uses an unsupported algorithm")
		}
		tok := &jwt.Token{
			Header: map[string]any{"alg": alg, "kid": kid, "typ": typ},
			Claims: c,
			Method: method,
		}
		input, err := tok.SigningString()
		if err != nil {
			return "", provisioner.Claims{}, provisioner.Wrap(provisioner.EINTERNAL, err, "cannot encode token")
		}
		sig, skid, salg, err := t.cfg.Signer.Sign(ctx, []byte(input))
		if err != nil {
			return "", provisioner.Claims{}, signError(err)
		}
		if skid != kid || salg != alg {
			continue // rotated meanwhile: the header would name the wrong key
		}
		if alg == AlgES256 && len(sig) != 64 {
			return "", provisioner.Claims{}, provisioner.Errorf(provisioner.EINTERNAL, "signer returned a malformed ES256 signature")
		}
		return input + "." + base64.RawURLEncoding.EncodeToString(sig), c.claims(u.Level), nil
	}
	return "", provisioner.Claims{}, provisioner.Errorf(provisioner.EUNAVAILABLE, "signing key kept changing; try again")
}

func signingMethod(alg string) (jwt.SigningMethod, bool) {
	switch alg {
	case AlgES256:
		return jwt.SigningMethodES256, true
	case AlgRS256:
		return jwt.SigningMethodRS256, true
	}
	return nil, false
}

// signError keeps a signer's domain error (a KMS signer may say
// EUNAVAILABLE) and hides anything else.
func signError(err error) error {
	var e *provisioner.Error
	if errors.As(err, &e) {
		return err
	}
	return provisioner.Wrap(provisioner.EINTERNAL, err, "cannot sign token")
}

// newID returns a random 128-bit token id.
func newID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", provisioner.Wrap(provisioner.EINTERNAL, err, "cannot generate token id")
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}
