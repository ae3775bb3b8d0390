package api

import (
	"net/http"

	"provisioner"
)

// The OAuth codes' statuses, as RFC 6749 §5.2 and RFC 7591 §3.2.2 give
// them: 401 for invalid_client, 400 for the others. They join statusFor
// here, beside the authorization server's wire shapes.
func init() {
	for code, status := range map[string]int{
		provisioner.EINVALIDGRANT:        http.StatusBadRequest,
		provisioner.EINVALIDCLIENT:       http.StatusUnauthorized,
		provisioner.EUNAUTHCLIENT:        http.StatusBadRequest,
		provisioner.EUNSUPPORTEDGRANT:    http.StatusBadRequest,
		provisioner.EUNSUPPORTEDRESPONSE: http.StatusBadRequest,
		provisioner.EINVALIDSCOPE:        http.StatusBadRequest,
		provisioner.EINVALIDREDIRECT:     http.StatusBadRequest,
		provisioner.EINVALIDMETADATA:     http.StatusBadRequest,
	} {
		statusFor[code] = status
	}
}

// ServerMetadata is RFC 8414's authorization server metadata, with
// production's fields (GET /.well-known/oauth-authorization-server).
type ServerMetadata struct {
	Issuer                            string   `json:"issuer"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	ScopesSupported                   []string `json:"scopes_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	CodeChallengeMethodsSupported     []string `json:"code_challenge_methods_supported"`
	RegistrationEndpoint              string   `json:"registration_endpoint"`
	RevocationEndpoint                string   `json:"revocation_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
}

// Registration is an RFC 7591 registration request as production reads
// it; other client metadata is ignored, as the RFC allows.
type Registration struct {
	RedirectURIs    []string `json:"redirect_uris"`
	ClientName      *string  `json:"client_name"`
	GrantTypes      []string `json:"grant_types"`
	ResponseTypes   []string `json:"response_types"`
	AuthMethod      *string  `json:"token_endpoint_auth_method"`
	ChallengeMethod *string  `json:"code_challenge_method"` // not RFC 7591's, but MCP clients send it
	Scope           *string  `json:"scope"`
}

// Client is the registration answer (201): production's client record.
type Client struct {
	ClientID        string   `json:"client_id"`
	IssuedAt        int64    `json:"client_id_issued_at"`
	ClientName      string   `json:"client_name"`
	RedirectURIs    []string `json:"redirect_uris"`
	GrantTypes      []string `json:"grant_types"`
	ResponseTypes   []string `json:"response_types"`
	AuthMethod      string   `json:"token_endpoint_auth_method"`
	ChallengeMethod string   `json:"code_challenge_method"`
	Scope           string   `json:"scope"`
}

// ClientOf is the wire form of a registered client.
func ClientOf(c provisioner.OAuthClient) Client {
	return Client{ClientID: c.ID, IssuedAt: c.IssuedAt.Unix(), ClientName: c.Name, RedirectURIs: c.RedirectURIs,
		GrantTypes: c.GrantTypes, ResponseTypes: c.ResponseTypes, AuthMethod: c.AuthMethod,
		ChallengeMethod: c.ChallengeMethod, Scope: c.Scope}
}

// Token is the token endpoint's answer, production's shape: the access
// token (a jwt_user), its lifetime, the refresh token ("" when the client
// registered no refresh grant), the granted scope and hints for a user
// interface.
type Token struct {
	AccessToken  string    `json:"access_token"`
	TokenType    string    `json:"token_type"` // "Bearer"
	ExpiresIn    int64     `json:"expires_in"`
	RefreshToken string    `json:"refresh_token"`
	Scope        string    `json:"scope"`
	Info         TokenInfo `json:"info"`
}

// TokenInfo is production's "info": display hints, never for
// authorization decisions; booleans and times as strings, as production.
type TokenInfo struct {
	Username       string `json:"username"`
	IsOrgMember    string `json:"isOrgMember"`
	IsOrgOwner     string `json:"isOrgOwner"`
	Org            string `json:"org"`
	OrgRoles       string `json:"orgRoles"`
	TokenIssuedAt  string `json:"tokenIssuedAt"`
	TokenExpiresAt string `json:"tokenExpiresAt"`
	TokenIssuer    string `json:"tokenIssuer"`
}
