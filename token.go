package provisioner

import (
	"context"
	"crypto"
	"time"
)

// Token types, carried in the JWT header "typ"; a verifier accepts only the
// kind it expects, so a jwt_user never opens a cluster and a jwt_cluster
// never calls the provisioner.
const (
	TypeUserToken    = "user+jwt"
	TypeClusterToken = "cluster+jwt"
	// AudienceProvisioner is the "aud" of every jwt_user.
	AudienceProvisioner = "provisioner"
)

// Claims are the verified contents of a jwt_user or jwt_cluster.
type Claims struct {
	Subject   string    `json:"sub"` // GitHub login
	UID       int64     `json:"uid"` // GitHub numeric id
	Level     Level     `json:"level"`
	Org       string    `json:"org,omitempty"`
	Audience  string    `json:"aud"` // "provisioner" or the one cluster name
	Issuer    string    `json:"iss"`
	IssuedAt  time.Time `json:"iat"`
	NotBefore time.Time `json:"nbf"`
	ExpiresAt time.Time `json:"exp"`
	ID        string    `json:"jti"`
}

// User returns the user the claims describe.
func (c Claims) User() User {
	return User{Login: c.Subject, ID: c.UID, Level: c.Level, Org: c.Org}
}

// Signer signs tokens. The local signer keeps ES256 keys on disk; the AWS
// signer uses KMS. Sign MUST return a JWS signature (for ES256 the 64-byte
// R||S form), and every key that signed a still-valid token MUST stay in
// PublicKeys, so rotation never invalidates an unexpired token.
type Signer interface {
	// Sign signs the JWS signing input with the current key and returns the
	// signature with the key's id and JWS algorithm.
	Sign(ctx context.Context, signingInput []byte) (sig []byte, kid, alg string, err error)
	// Current returns the id and algorithm of the key Sign will use.
	Current(ctx context.Context) (kid, alg string, err error)
	KeySet
}

// KeySet finds verification keys. The issuer's own keyring and a gateway's
// JWKS client both implement it.
type KeySet interface {
	// PublicKey returns the key with the given id, or ENOTFOUND.
	PublicKey(ctx context.Context, kid string) (PublicKey, error)
	// PublicKeys returns every key that may verify a live token.
	PublicKeys(ctx context.Context) ([]PublicKey, error)
}

// PublicKey is a verification key as published in the JWKS.
type PublicKey struct {
	ID        string           // "kid"
	Algorithm string           // "ES256" or "RS256"
	Key       crypto.PublicKey // *ecdsa.PublicKey or *rsa.PublicKey
}

// Tokens issues and verifies the provisioner's tokens.
type Tokens interface {
	// IssueUser returns a signed jwt_user for u.
	IssueUser(ctx context.Context, u User) (string, Claims, error)
	// IssueCluster returns a signed jwt_cluster for u on one cluster.
	IssueCluster(ctx context.Context, u User, cluster string) (string, Claims, error)
	// VerifyUser checks a jwt_user and returns EUNAUTHORIZED for anything
	// that is not a valid, current jwt_user of this issuer.
	VerifyUser(ctx context.Context, token string) (Claims, error)
	// VerifyCluster checks a jwt_cluster for exactly the given cluster:
	// EUNAUTHORIZED for a bad token, EFORBIDDEN for a valid jwt_cluster of
	// another cluster.
	VerifyCluster(ctx context.Context, token, cluster string) (Claims, error)
}
