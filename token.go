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
)

// Audiences of a jwt_user besides cluster names, as production's login
// service lists them: the provisioner API, the test runner, a cluster's
// monitor (Grafana), and "*" for every cluster.
const (
	AudienceProvisioner = "provisioner"
	AudienceRunner      = "runner"
	AudienceMonitor     = "monitor"
	AudienceAll         = "*"
)

// Organization roles, the "org_roles" claim that a cluster's load balancer
// passes to its nodes in x-sliderule-org-roles.
const (
	RoleMember    = "member"
	RoleOwner     = "owner"
	RoleAffiliate = "affiliate"
	// RoleDeveloper makes the released Python client sign its provisioner
	// requests (it signs only when its token's org_roles holds it); a
	// login token carries it when the deployment's SignaturePolicy
	// requires the user to sign (User.Signs).
	RoleDeveloper = "developer"
)

// OrgRoles returns production's org_roles for u: affiliates (u.Affiliation)
// are affiliates, first, as production appends the role before the
// organization's; owners (our admins) are also members; organization
// members are members; other GitHub users have no role in the
// organization. Users who must sign their requests (u.Signs) are also
// developers, so the released client signs.
func OrgRoles(u User) []string {
	roles := []string{}
	if u.Affiliation != nil {
		roles = append(roles, RoleAffiliate)
	}
	switch {
	case u.Level >= LevelAdmin:
		roles = append(roles, RoleOwner, RoleMember)
	case u.Level >= LevelOrgMember:
		roles = append(roles, RoleMember)
	}
	if u.Signs {
		roles = append(roles, RoleDeveloper)
	}
	return roles
}

// Claims are the verified contents of a jwt_user or jwt_cluster: the
// production token profile (iss, sub, aud, org_roles, org, iat, exp) with
// ours beside it (typ in the header, uid, level, nbf, jti).
type Claims struct {
	Type      string    `json:"typ"` // TypeUserToken or TypeClusterToken
	Subject   string    `json:"sub"` // GitHub login
	UID       int64     `json:"uid"` // GitHub numeric id
	Level     Level     `json:"level"`
	Org       string    `json:"org,omitempty"`
	OrgRoles  []string  `json:"org_roles"`
	Audience  []string  `json:"aud"` // jwt_user: services and clusters; jwt_cluster: the one cluster
	Issuer    string    `json:"iss"`
	IssuedAt  time.Time `json:"iat"`
	NotBefore time.Time `json:"nbf"`
	ExpiresAt time.Time `json:"exp"`
	ID        string    `json:"jti"`
	// Teams are the user's organization teams as of login (login tokens).
	Teams []string `json:"teams,omitempty"`
	// Session is a jwt_cluster's "sid": the jti of the login token whose
	// session asked for it; empty in a jwt_user (its session is its jti).
	Session string `json:"sid,omitempty"`
}

// SessionID is the session a token belongs to: a jwt_user's own jti, a
// jwt_cluster's sid.
func (c Claims) SessionID() string {
	if c.Type == TypeClusterToken {
		return c.Session
	}
	return c.ID
}

// User returns the user the claims describe.
func (c Claims) User() User {
	return User{Login: c.Subject, ID: c.UID, Level: c.Level, Org: c.Org, Teams: append([]string(nil), c.Teams...)}
}

// Reaches tells whether the token's audience names cluster exactly, or is
// "*": the check production's load balancer makes, but by element, never by
// substring, so a token for "demo" does not open "demo2".
func (c Claims) Reaches(cluster string) bool {
	return cluster != "" && HasAudience(c.Audience, cluster)
}

// HasAudience tells whether aud holds name or "*".
func HasAudience(aud []string, name string) bool {
	for _, a := range aud {
		if a == name || a == AudienceAll {
			return true
		}
	}
	return false
}

// Signer signs tokens. The local signer keeps RSA keys on disk; the AWS
// signer uses a KMS RSA_2048 key. Sign MUST return a JWS RS256 signature,
// and every key that signed a still-valid token MUST stay in PublicKeys
// until it is revoked, so rotation never invalidates an unexpired token at
// the provisioner.
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
	// PublicKeys returns every key that may verify a live token, the key
	// that signs new tokens first (served at /auth/pem).
	PublicKeys(ctx context.Context) ([]PublicKey, error)
}

// PublicKey is a verification key as published in the JWKS.
type PublicKey struct {
	ID        string           // "kid"
	Algorithm string           // "RS256"
	Key       crypto.PublicKey // *rsa.PublicKey
}

// Tokens issues and verifies the provisioner's tokens.
type Tokens interface {
	// IssueUser returns a signed jwt_user for u with the given audience
	// ("provisioner" is always included).
	IssueUser(ctx context.Context, u User, audience []string) (string, Claims, error)
	// IssueUserAudience returns a signed jwt_user for u whose audience is
	// exactly audience (the OAuth authorization server's, which its scopes
	// decide); an empty audience is EINVALID.
	IssueUserAudience(ctx context.Context, u User, audience []string) (string, Claims, error)
	// IssueCluster returns a signed jwt_cluster for u on one cluster. It
	// may return a still-fresh token it issued before for the same user,
	// cluster and key.
	IssueCluster(ctx context.Context, u User, cluster string) (string, Claims, error)
	// VerifyUser checks a jwt_user and returns EUNAUTHORIZED for anything
	// that is not a valid, current jwt_user of this issuer.
	VerifyUser(ctx context.Context, token string) (Claims, error)
	// VerifyCluster checks a token presented at a cluster, accepting what
	// production's load balancer accepts but matching audiences exactly: a
	// jwt_cluster for exactly this cluster, or a jwt_user whose audience
	// names it or is "*". EUNAUTHORIZED for a bad token, EFORBIDDEN for a
	// valid token that does not reach this cluster.
	VerifyCluster(ctx context.Context, token, cluster string) (Claims, error)
}
