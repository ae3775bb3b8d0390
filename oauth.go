package provisioner

import (
	"context"
	"time"
)

// The OAuth 2.1 authorization server (docs/oauth.md): production's login
// service's authorization code flow with PKCE, dynamic client
// registration and basic login, with GitHub as the upstream identity,
// plus refresh tokens.

// OAuth error codes (RFC 6749 §4.1.2.1 and §5.2, RFC 7591 §3.2.2): the
// "error" of the token endpoint's JSON errors and of the authorization
// endpoint's error redirects. EINVALID ("invalid_request") and EDENIED
// ("access_denied") are the spec's too.
const (
	EINVALIDGRANT        = "invalid_grant"             // 400: a code or refresh token that is unknown, used, expired or not the client's
	EINVALIDCLIENT       = "invalid_client"            // 401: an unknown or expired client
	EUNAUTHCLIENT        = "unauthorized_client"       // 400: the client did not register this grant type
	EUNSUPPORTEDGRANT    = "unsupported_grant_type"    // 400
	EUNSUPPORTEDRESPONSE = "unsupported_response_type" // 400: anything but "code"
	EINVALIDSCOPE        = "invalid_scope"             // 400
	EINVALIDREDIRECT     = "invalid_redirect_uri"      // 400: registration
	EINVALIDMETADATA     = "invalid_client_metadata"   // 400: registration
)

// BasicClientID is production's client id of the basic login (trusted
// internal services: the ILB, Grafana), whose token travels in a cookie.
const BasicClientID = "BASIC"

// OAuthClient is a client registered by RFC 7591 dynamic registration: a
// public client (no secret) that proves possession with PKCE S256.
type OAuthClient struct {
	ID              string   `json:"client_id"`
	Name            string   `json:"client_name"`
	RedirectURIs    []string `json:"redirect_uris"`
	GrantTypes      []string `json:"grant_types"`
	ResponseTypes   []string `json:"response_types"`
	AuthMethod      string   `json:"token_endpoint_auth_method"`
	ChallengeMethod string   `json:"code_challenge_method"`
	Scope           string   `json:"scope"` // space-separated
	// IssuedAt is when it registered; UsedAt its last code exchange or
	// refresh (zero: never). Expires is when it is forgotten unless used:
	// soon after registration, later once used.
	IssuedAt time.Time `json:"issued_at"`
	UsedAt   time.Time `json:"used_at,omitzero"`
	Expires  time.Time `json:"expires"`
}

// OAuthRequest is an authorization request waiting for GitHub's callback:
// its ID is the state sent to GitHub, and it is bound to the browser that
// made it (Browser is the hash of a cookie only that browser holds).
type OAuthRequest struct {
	ID            string    `json:"id"`
	Browser       string    `json:"browser"`
	ClientID      string    `json:"client_id"` // BasicClientID for the basic login
	RedirectURI   string    `json:"redirect_uri"`
	State         string    `json:"state,omitempty"` // the client's, returned with the code
	Scope         []string  `json:"scope,omitempty"`
	CodeChallenge string    `json:"code_challenge,omitempty"`
	Resource      string    `json:"resource,omitempty"`
	Created       time.Time `json:"created"`
	Expires       time.Time `json:"expires"`
}

// OAuthCode is a one-time authorization code: bound to its client,
// redirect URI and PKCE challenge, and holding the user GitHub vouched
// for. Only the code's hash is stored.
type OAuthCode struct {
	Hash          string    `json:"hash"`
	ClientID      string    `json:"client_id"`
	RedirectURI   string    `json:"redirect_uri"`
	CodeChallenge string    `json:"code_challenge"`
	Scope         []string  `json:"scope"`
	User          User      `json:"user"`
	Created       time.Time `json:"created"`
	Expires       time.Time `json:"expires"`
}

// OAuthGrant is what one authorization code granted: the sessions of the
// access tokens issued from it, and the family of refresh tokens that
// renew them. Current is the hash of the one refresh token that may be
// used next ("" when the client registered no refresh grant); every use
// rotates it (Generation counts them), and presenting any other token of
// the family revokes the grant. Session is the session (jti) of the
// latest access token.
type OAuthGrant struct {
	ID         string    `json:"id"`
	ClientID   string    `json:"client_id"`
	Scope      []string  `json:"scope"`
	User       User      `json:"user"` // as at the grant; Level uncapped by scope
	Current    string    `json:"current,omitempty"`
	Generation int       `json:"generation"`
	Session    string    `json:"session,omitempty"`
	Created    time.Time `json:"created"`
	Expires    time.Time `json:"expires"`
	RevokedAt  time.Time `json:"revoked_at,omitzero"`
	Reason     string    `json:"reason,omitempty"`
}

// Live tells whether the grant may still be used at now.
func (g OAuthGrant) Live(now time.Time) bool {
	return g.RevokedAt.IsZero() && now.Before(g.Expires)
}

// OAuthStore keeps the authorization server's state. Records carry their
// expiry; stores may delete them once expired (DynamoDB's TTL), and
// callers check expiry themselves, so a store never needs a clock. Every
// "take" is atomic: of concurrent takes of one record exactly one gets it.
type OAuthStore interface {
	// CreateOAuthClient records a new client (ID, IssuedAt, Expires
	// required: EINVALID); an ID that exists is ECONFLICT.
	CreateOAuthClient(ctx context.Context, c OAuthClient) error
	// GetOAuthClient returns the client, or ENOTFOUND.
	GetOAuthClient(ctx context.Context, id string) (OAuthClient, error)
	// TouchOAuthClient records a use of the client at usedAt and moves
	// its expiry to expires; ENOTFOUND for an unknown client.
	TouchOAuthClient(ctx context.Context, id string, usedAt, expires time.Time) error

	// CreateOAuthRequest records a pending authorization request (ID,
	// Browser, ClientID, Expires required); an ID that exists is ECONFLICT.
	CreateOAuthRequest(ctx context.Context, r OAuthRequest) error
	// TakeOAuthRequest returns the request and removes it, or ENOTFOUND
	// (unknown, or taken before).
	TakeOAuthRequest(ctx context.Context, id string) (OAuthRequest, error)

	// CreateOAuthCode records a new code (Hash, ClientID, Expires
	// required); a hash that exists is ECONFLICT.
	CreateOAuthCode(ctx context.Context, c OAuthCode) error
	// TakeOAuthCode returns the code and marks it used, once: a code
	// taken before is ECONFLICT, returned with the code (a replay, whose
	// grant the caller revokes); an unknown one ENOTFOUND.
	TakeOAuthCode(ctx context.Context, hash string) (OAuthCode, error)

	// CreateOAuthGrant records a new grant (ID, User.Login, ClientID,
	// Created, Expires required); an ID that exists is ECONFLICT.
	CreateOAuthGrant(ctx context.Context, g OAuthGrant) error
	// GetOAuthGrant returns the grant, or ENOTFOUND.
	GetOAuthGrant(ctx context.Context, id string) (OAuthGrant, error)
	// ListOAuthGrants returns the grants of a login, newest first.
	// (DynamoDB reads them from an index: a grant may show up a moment
	// after its creation.)
	ListOAuthGrants(ctx context.Context, login string) ([]OAuthGrant, error)
	// RotateOAuthGrant replaces the grant by g if its stored Current is
	// still prev and it is not revoked: the compare-and-swap that lets one
	// of two refreshes with the same token win. Otherwise ECONFLICT and
	// nothing changes; ENOTFOUND for an unknown grant.
	RotateOAuthGrant(ctx context.Context, g OAuthGrant, prev string) error
	// RevokeOAuthGrant revokes the grant at at for reason and returns it
	// as revoked, with ok false when it was revoked before (it is then
	// left as it was); ENOTFOUND for an unknown grant.
	RevokeOAuthGrant(ctx context.Context, id string, at time.Time, reason string) (g OAuthGrant, ok bool, err error)
}

// WebFlow is GitHub's OAuth web application flow, the authorization
// server's upstream identity: the provisioner's own GitHub OAuth app.
type WebFlow interface {
	// AuthorizeURL is GitHub's authorize page for state, returning to
	// callback.
	AuthorizeURL(state, callback string) (string, error)
	// ExchangeWeb trades the code GitHub sent to callback for the user
	// (Via "oauth"): EUNAUTHORIZED for a bad or used code, EUNAVAILABLE
	// when GitHub cannot answer.
	ExchangeWeb(ctx context.Context, code, callback string) (User, error)
}

// Check refuses a client a store must not record (EINVALID).
func (c OAuthClient) Check() error {
	if c.ID == "" || c.IssuedAt.IsZero() || c.Expires.IsZero() {
		return Errorf(EINVALID, "an OAuth client needs an id, its registration time and its expiry")
	}
	return nil
}

// Check refuses a request a store must not record (EINVALID).
func (r OAuthRequest) Check() error {
	if r.ID == "" || r.Browser == "" || r.ClientID == "" || r.Expires.IsZero() {
		return Errorf(EINVALID, "an OAuth request needs an id, a browser, a client and its expiry")
	}
	return nil
}

// Check refuses a code a store must not record (EINVALID).
func (c OAuthCode) Check() error {
	if c.Hash == "" || c.ClientID == "" || c.User.Login == "" || c.Expires.IsZero() {
		return Errorf(EINVALID, "an OAuth code needs its hash, a client, a user and its expiry")
	}
	return nil
}

// Check refuses a grant a store must not record (EINVALID).
func (g OAuthGrant) Check() error {
	if g.ID == "" || g.ClientID == "" || g.User.Login == "" || g.Created.IsZero() || g.Expires.IsZero() {
		return Errorf(EINVALID, "an OAuth grant needs an id, a client, a user and its creation and expiry times")
	}
	return nil
}
