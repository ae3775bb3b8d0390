package jwt

import (
	"context"
	"crypto/rsa"
	"errors"
	"slices"
	"strings"

	"provisioner/secretcache"

	"github.com/golang-jwt/jwt/v5"

	"provisioner"
)

// VerifyUser checks a jwt_user of this issuer whose audience names the
// provisioner: EUNAUTHORIZED for anything else.
func (t *Tokens) VerifyUser(ctx context.Context, token string) (provisioner.Claims, error) {
	key := secretcache.Key(token)
	if c, ok := t.verified.get(ctx, t, key); ok {
		return c, nil
	}
	c, level, typ, err := t.verify(ctx, token, provisioner.TypeUserToken)
	if err != nil {
		return provisioner.Claims{}, err
	}
	if !slices.Contains(c.Audience.values, provisioner.AudienceProvisioner) {
		return provisioner.Claims{}, unauthorized("token is for another audience")
	}
	claims := c.claims(typ, level)
	t.verified.put(t, token, key, claims)
	return claims, nil
}

// VerifyCluster checks a token presented at cluster: a jwt_cluster whose
// one audience is exactly cluster, or a jwt_user whose audience list names
// cluster or "*" (what production's load balancer accepts, matched by
// element rather than by substring). EUNAUTHORIZED for a bad token,
// EFORBIDDEN for a valid token that does not reach this cluster. It needs
// only Issuer and Keys, as the gateway has no signer.
func (t *Tokens) VerifyCluster(ctx context.Context, token, cluster string) (provisioner.Claims, error) {
	if cluster == "" {
		return provisioner.Claims{}, provisioner.Errorf(provisioner.EINVALID, "cluster name is required")
	}
	c, level, typ, err := t.verify(ctx, token, provisioner.TypeClusterToken, provisioner.TypeUserToken)
	if err != nil {
		return provisioner.Claims{}, err
	}
	ok := false
	switch typ {
	case provisioner.TypeClusterToken:
		ok = !c.Audience.list && len(c.Audience.values) == 1 && c.Audience.values[0] == cluster
	case provisioner.TypeUserToken:
		ok = provisioner.HasAudience(c.Audience.values, cluster)
	}
	if !ok {
		return provisioner.Claims{}, provisioner.Errorf(provisioner.EFORBIDDEN, "token is not for cluster %s", cluster)
	}
	return c.claims(typ, level), nil
}

// verify checks everything but the audience's value: size, algorithm,
// header and type, key, signature, times, issuer, subject, level, and the
// audience's form (a list in a jwt_user, one string in a jwt_cluster).
func (t *Tokens) verify(ctx context.Context, token string, types ...string) (*wireClaims, provisioner.Level, string, error) {
	switch {
	case t.cfg.Issuer == "" || t.cfg.Keys == nil:
		return nil, 0, "", provisioner.Errorf(provisioner.EINTERNAL, "token verification is not configured")
	case token == "":
		return nil, 0, "", unauthorized("missing token")
	case len(token) > MaxTokenSize:
		return nil, 0, "", unauthorized("token too long")
	}
	c := new(wireClaims)
	var typ string
	tok, err := t.parser.ParseWithClaims(token, c, func(tok *jwt.Token) (any, error) {
		typ, _ = tok.Header["typ"].(string)
		if !slices.Contains(types, typ) {
			return nil, unauthorized("wrong token type: want " + strings.Join(types, " or "))
		}
		return t.key(ctx, tok)
	})
	if err != nil {
		return nil, 0, "", parseError(err, tok, c)
	}
	if c.Subject == "" {
		return nil, 0, "", unauthorized("token has no subject")
	}
	level, err := provisioner.ParseLevel(c.Level)
	if err != nil {
		return nil, 0, "", unauthorized("token has an invalid level")
	}
	if len(c.Audience.values) == 0 || slices.Contains(c.Audience.values, "") {
		return nil, 0, "", unauthorized("token has no audience")
	}
	if c.Audience.list != (typ == provisioner.TypeUserToken) {
		return nil, 0, "", unauthorized("token audience has the wrong form for its type")
	}
	return c, level, typ, nil
}

// key checks the header and returns the key to verify the signature with.
// It runs before any signature check, so the header is untrusted: a key is
// used only for the algorithm it was published for.
func (t *Tokens) key(ctx context.Context, tok *jwt.Token) (any, error) {
	if _, ok := tok.Header["crit"]; ok {
		return nil, unauthorized("token has unsupported critical headers")
	}
	alg := tok.Method.Alg()
	if alg != AlgRS256 {
		return nil, unauthorized("token algorithm not allowed")
	}
	kid, _ := tok.Header["kid"].(string)
	if kid == "" {
		return nil, unauthorized("token has no key id")
	}
	pk, err := t.cfg.Keys.PublicKey(ctx, kid)
	if err != nil {
		return nil, keyError(err)
	}
	if pk.Algorithm != alg {
		return nil, unauthorized("token algorithm does not match its signing key")
	}
	key, ok := checkKey(pk)
	if !ok {
		return nil, unauthorized("unusable signing key")
	}
	return key, nil
}

// checkKey returns pk's key if it is of the kind and size RS256 needs: an
// RSA key of 2048 bits or more.
func checkKey(pk provisioner.PublicKey) (any, bool) {
	switch k := pk.Key.(type) {
	case *rsa.PublicKey:
		return k, pk.Algorithm == AlgRS256 && k.N != nil && k.N.BitLen() >= minRSABits
	}
	return nil, false
}

// keyError turns a KeySet failure into the verifier's answer: an unknown
// kid is a bad token; a key set that cannot answer (a JWKS fetch failing)
// is not the caller's fault and keeps its code.
func keyError(err error) error {
	var e *provisioner.Error
	switch {
	case provisioner.ErrorCode(err) == provisioner.ENOTFOUND:
		return provisioner.Wrap(provisioner.EUNAUTHORIZED, err, "unknown signing key")
	case errors.As(err, &e):
		return err
	}
	return provisioner.Wrap(provisioner.EUNAVAILABLE, err, "signing keys unavailable")
}

// parseError maps golang-jwt's errors to short messages. Errors from key
// come back as they were.
func parseError(err error, tok *jwt.Token, c *wireClaims) error {
	var e *provisioner.Error
	if errors.As(err, &e) {
		return e
	}
	msg := "invalid token"
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		msg = "malformed token"
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		msg = "token algorithm not allowed"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		msg = "invalid token signature"
		if tok != nil && tok.Method != nil && tok.Method.Alg() != AlgRS256 {
			msg = "token algorithm not allowed"
		}
	case c.ExpiresAt == nil:
		msg = "token has no expiry"
	case errors.Is(err, jwt.ErrTokenExpired):
		msg = "token expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		msg = "token not valid yet"
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		msg = "token issued in the future"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer), errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		msg = "token is from another issuer"
	}
	return provisioner.Wrap(provisioner.EUNAUTHORIZED, err, "%s", msg)
}

func unauthorized(msg string) *provisioner.Error {
	return &provisioner.Error{Code: provisioner.EUNAUTHORIZED, Message: msg}
}
