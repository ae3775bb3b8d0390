package provisioner

import "context"

// User is an authenticated caller as LOGIN established it.
type User struct {
	Login string   `json:"login"` // GitHub login (token "sub")
	ID    int64    `json:"id"`    // GitHub numeric id (token "uid")
	Level Level    `json:"level"`
	Org   string   `json:"org,omitempty"`   // the configured organization, when a member
	Teams []string `json:"teams,omitempty"` // allowed teams the user belongs to
	// Via says how the user logged in: "pat", "device", "actions", "static".
	Via string `json:"via,omitempty"`
	// Signs says the deployment's SignaturePolicy requires this user to sign
	// state-changing requests; the login token then lists the "developer"
	// org role (see OrgRoles). Set when a token is issued, not stored.
	Signs bool `json:"signs,omitempty"`
	// Affiliation is the user's grant in the operator's affiliates list,
	// nil for users who are not affiliates. Organization members may be
	// affiliates too: they keep their level's rights and gain the
	// affiliation's clusters. Set from the current list at login and on
	// every request whose token lists the "affiliate" org role.
	Affiliation *Affiliation `json:"affiliation,omitempty"`
	// Session is the ID of the session (the login token's "jti") the
	// caller authenticated with; a jwt_cluster issued for the caller
	// carries it as "sid", so revoking the session stops it at gateways.
	Session string `json:"-"`
}

// Anonymous is the caller without a token.
var Anonymous = User{Level: LevelAnonymous}

// IdentityProvider turns a GitHub personal access token (or a static
// identity's token) into a User. It returns EUNAUTHORIZED for credentials
// that are invalid or revoked, and EUNAVAILABLE when the identity service
// cannot be reached in time.
type IdentityProvider interface {
	LoginToken(ctx context.Context, token string) (User, error)
}

// DeviceFlow is the GitHub OAuth device flow.
type DeviceFlow interface {
	// StartDevice asks GitHub for a device and user code.
	StartDevice(ctx context.Context) (DeviceCode, error)
	// PollDevice exchanges a device code. While the user has not finished it
	// returns EPENDING or ESLOWDOWN (with RetryAfter set to the interval to
	// use); EEXPIRED and EDENIED end the flow.
	PollDevice(ctx context.Context, deviceCode string) (User, error)
}

// DeviceCode is GitHub's answer to the start of a device flow.
type DeviceCode struct {
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete,omitempty"`
	ExpiresIn               int    `json:"expires_in"`
	Interval                int    `json:"interval"`
}

// ActionsVerifier checks a GitHub Actions OIDC ID token and maps the
// workflow it names to a user. Bad tokens give EUNAUTHORIZED, tokens from
// another organization EFORBIDDEN.
type ActionsVerifier interface {
	LoginActions(ctx context.Context, idToken string) (User, error)
}

// MembershipChecker looks up, with the operator's credential, what a
// logged-in user's level is now: the re-check of organization and team
// membership that ends the sessions of users removed or demoted since
// their login. EUNAVAILABLE when GitHub cannot answer.
type MembershipChecker interface {
	CheckMembership(ctx context.Context, u User) (User, error)
}
