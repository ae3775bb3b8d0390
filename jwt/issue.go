package jwt

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"provisioner"
)

// IssueUser returns a signed jwt_user for u, valid for UserTTL, whose
// audience is "provisioner" followed by aud (duplicates dropped), always
// written as a list, as production's login tokens are.
func (t *Tokens) IssueUser(ctx context.Context, u provisioner.User, aud []string) (string, provisioner.Claims, error) {
	list := []string{provisioner.AudienceProvisioner}
	for _, a := range aud {
		if a == "" {
			return "", provisioner.Claims{}, provisioner.Errorf(provisioner.EINVALID, "empty audience in a token")
		}
		if !slices.Contains(list, a) {
			list = append(list, a)
		}
	}
	return t.issue(ctx, provisioner.TypeUserToken, audience{values: list, list: true}, u, t.cfg.UserTTL)
}

// IssueUserAudience returns a signed jwt_user, valid for UserTTL, whose
// audience is exactly aud (duplicates dropped), a list: the OAuth scopes
// decide it, so "provisioner" is there only when asked for (a token for an
// MCP server is ["mcp"]).
func (t *Tokens) IssueUserAudience(ctx context.Context, u provisioner.User, aud []string) (string, provisioner.Claims, error) {
	var list []string
	for _, a := range aud {
		if a == "" {
			return "", provisioner.Claims{}, provisioner.Errorf(provisioner.EINVALID, "empty audience in a token")
		}
		if !slices.Contains(list, a) {
			list = append(list, a)
		}
	}
	if len(list) == 0 {
		return "", provisioner.Claims{}, provisioner.Errorf(provisioner.EINVALID, "a token needs an audience")
	}
	return t.issue(ctx, provisioner.TypeUserToken, audience{values: list, list: true}, u, t.cfg.UserTTL)
}

// IssueCluster returns a jwt_cluster for u whose audience is exactly
// cluster, valid for ClusterTTL. A token it issued for the same user,
// cluster and signing key is reused while more than half its lifetime is
// left: RS256 signing costs about a millisecond, and a client asking for
// access before every request should not pay it each time.
func (t *Tokens) IssueCluster(ctx context.Context, u provisioner.User, cluster string) (string, provisioner.Claims, error) {
	if err := provisioner.ValidateClusterName(cluster); err != nil {
		return "", provisioner.Claims{}, provisioner.Errorf(provisioner.EINVALID, "invalid cluster name for a token")
	}
	switch cluster {
	case provisioner.AudienceProvisioner, provisioner.AudienceRunner, provisioner.AudienceMonitor:
		return "", provisioner.Claims{}, provisioner.Errorf(provisioner.EINVALID, "invalid cluster name for a token")
	}
	if t.cfg.Signer == nil {
		return t.issue(ctx, provisioner.TypeClusterToken, audience{values: []string{cluster}}, u, t.cfg.ClusterTTL)
	}
	kid, _, err := t.cfg.Signer.Current(ctx)
	if err != nil {
		return "", provisioner.Claims{}, signError(err)
	}
	key := reuseKey(u, cluster, kid)
	now := t.cfg.Now()
	if tok, c, ok := t.reuse.get(key, now, t.cfg.ClusterTTL/2); ok {
		return tok, c, nil
	}
	// Requests that miss at once share one signature: under load they
	// would otherwise each spend the millisecond, and wait for the others.
	v, err, _ := t.signing.Do(key, func() (any, error) {
		// Not the first caller's cancellation: the others wait on it.
		tok, c, err := t.issue(context.WithoutCancel(ctx), provisioner.TypeClusterToken, audience{values: []string{cluster}}, u, t.cfg.ClusterTTL)
		if err == nil {
			t.reuse.put(key, tok, c, now)
		}
		return issued{tok, c}, err
	})
	if err != nil {
		return "", provisioner.Claims{}, err
	}
	r := v.(issued)
	return r.tok, r.c, nil
}

type issued struct {
	tok string
	c   provisioner.Claims
}

// signAttempts bounds retries when the signer's current key changes between
// Current and Sign (a rotation by another process).
const signAttempts = 3

// issue builds the JWS signing input with golang-jwt and has the Signer sign
// it, so a remote signer (KMS) never needs the private key here.
func (t *Tokens) issue(ctx context.Context, typ string, aud audience, u provisioner.User, ttl time.Duration) (string, provisioner.Claims, error) {
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
		Audience:  aud,
		OrgRoles:  provisioner.OrgRoles(u),
		Org:       u.Org,
		IssuedAt:  numericDate(now),
		ExpiresAt: numericDate(now.Add(ttl)),
		NotBefore: numericDate(now),
		UID:       u.ID,
		Level:     string(level),
		ID:        jti,
	}
	if typ == provisioner.TypeUserToken {
		c.Teams = append([]string(nil), u.Teams...)
	}
	if typ == provisioner.TypeClusterToken {
		c.SID = u.Session
	}
	for range signAttempts {
		kid, alg, err := t.cfg.Signer.Current(ctx)
		if err != nil {
			return "", provisioner.Claims{}, signError(err)
		}
		if alg != AlgRS256 {
			return "", provisioner.Claims{}, provisioner.Errorf(provisioner.EINTERNAL, "signer uses %q; only RS256 is supported", alg)
		}
		tok := &jwt.Token{
			Header: map[string]any{"alg": alg, "kid": kid, "typ": typ},
			Claims: c,
			Method: jwt.SigningMethodRS256,
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
		if len(sig) < minRSABits/8 {
			return "", provisioner.Claims{}, provisioner.Errorf(provisioner.EINTERNAL, "signer returned a malformed RS256 signature")
		}
		return input + "." + base64.RawURLEncoding.EncodeToString(sig), c.claims(typ, u.Level), nil
	}
	return "", provisioner.Claims{}, provisioner.Errorf(provisioner.EUNAVAILABLE, "signing key kept changing; try again")
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
