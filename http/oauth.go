package http

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"provisioner"
	"provisioner/api"
	"provisioner/app"
	"provisioner/jwt"
)

// The OAuth 2.1 authorization server's paths (app/oauth.go, docs/oauth.md),
// production's login service's: JSON errors, except at the authorization
// endpoint and the callback, which send the browser back to a client's
// registered redirect URI with error= when there is one to trust.

// browserCookie binds an authorization request to the browser that made
// it: the callback compares it, the login paths reuse it.
const browserCookie = "oauth_browser"

func (s *Server) oauthRoutes() {
	s.handle("GET /.well-known/oauth-authorization-server", s.oauthMetadata)
	s.handle("POST "+app.OAuthRegisterPath, s.oauthRegister)
	s.handle("GET "+app.OAuthAuthorizePath, s.oauthAuthorize)
	s.handle("GET "+app.OAuthBasicPath, s.oauthBasic)
	s.handle("GET "+app.OAuthCallbackPath, s.oauthCallback)
	s.handle("POST "+app.OAuthTokenPath, s.oauthToken)
	s.handle("POST "+app.OAuthRevokePath, s.oauthRevoke)
	s.handle("POST /auth/refresh", s.legacyRefresh)
}

// oauthMetadata is RFC 8414's document, production's fields and our
// revocation endpoint.
func (s *Server) oauthMetadata(w http.ResponseWriter, r *http.Request) {
	if !s.app.OAuthEnabled() {
		s.fail(w, r, provisioner.Errorf(provisioner.ENOTFOUND, "OAuth login is not enabled on this provisioner"))
		return
	}
	base := s.app.OAuthIssuer()
	w.Header().Set("Cache-Control", "public, max-age=3600")
	api.WriteJSON(w, http.StatusOK, api.ServerMetadata{
		Issuer:                            base,
		AuthorizationEndpoint:             base + app.OAuthAuthorizePath,
		TokenEndpoint:                     base + app.OAuthTokenPath,
		ResponseTypesSupported:            []string{"code"},
		ScopesSupported:                   app.OAuthScopes(),
		TokenEndpointAuthMethodsSupported: []string{"none"},
		CodeChallengeMethodsSupported:     []string{"S256"},
		RegistrationEndpoint:              base + app.OAuthRegisterPath,
		RevocationEndpoint:                base + app.OAuthRevokePath,
		JWKSURI:                           base + "/.well-known/jwks.json",
		IDTokenSigningAlgValuesSupported:  []string{jwt.AlgRS256},
		GrantTypesSupported:               []string{"authorization_code", "refresh_token"},
	})
}

// oauthRegister is RFC 7591 registration: 201 with the client. Client
// metadata we do not use is ignored, as the RFC allows (MCP clients send
// logo_uri, client_uri, ...).
func (s *Server) oauthRegister(w http.ResponseWriter, r *http.Request) {
	var req api.Registration
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody))
	if err != nil {
		s.fail(w, r, provisioner.Errorf(provisioner.ETOOLARGE, "request body is larger than %d bytes", s.maxBody))
		return
	}
	if err := json.Unmarshal(body, &req); err != nil {
		s.fail(w, r, provisioner.Errorf(provisioner.EINVALIDMETADATA, "the body must be a JSON object of client metadata"))
		return
	}
	cl, err := s.app.RegisterClient(r.Context(), s.source(r), app.Registration{RedirectURIs: req.RedirectURIs, Name: req.ClientName,
		GrantTypes: req.GrantTypes, ResponseTypes: req.ResponseTypes, AuthMethod: req.AuthMethod,
		ChallengeMethod: req.ChallengeMethod, Scope: req.Scope})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	api.WriteJSON(w, http.StatusCreated, api.ClientOf(cl))
}

// query returns the request's query parameters, refusing any given twice
// (RFC 6749 §3.1).
func query(r *http.Request) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, provisioner.Errorf(provisioner.EINVALID, "malformed query")
	}
	for k, v := range q {
		if len(v) > 1 {
			return nil, provisioner.Errorf(provisioner.EINVALID, "parameter %q is given more than once", k)
		}
	}
	return q, nil
}

func (s *Server) oauthAuthorize(w http.ResponseWriter, r *http.Request) {
	q, err := query(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	rd, err := s.app.Authorize(r.Context(), s.source(r), app.AuthorizeRequest{
		ResponseType: q.Get("response_type"), ClientID: q.Get("client_id"), RedirectURI: q.Get("redirect_uri"),
		State: q.Get("state"), Scope: q.Get("scope"), CodeChallenge: q.Get("code_challenge"),
		ChallengeMethod: q.Get("code_challenge_method"), Resource: q.Get("resource"),
	}, s.browser(r))
	s.redirect(w, r, rd, err)
}

func (s *Server) oauthBasic(w http.ResponseWriter, r *http.Request) {
	q, err := query(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	rd, err := s.app.BasicLogin(r.Context(), s.source(r), q.Get("redirect_uri"), s.browser(r))
	s.redirect(w, r, rd, err)
}

func (s *Server) oauthCallback(w http.ResponseWriter, r *http.Request) {
	q, err := query(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	rd, err := s.app.Callback(r.Context(), s.source(r), app.CallbackRequest{Code: q.Get("code"), State: q.Get("state"),
		Error: q.Get("error"), ErrorDescription: q.Get("error_description")}, s.browser(r))
	s.redirect(w, r, rd, err)
}

// browser is the browser-binding cookie's value, "" without one.
func (s *Server) browser(r *http.Request) string {
	if c, err := r.Cookie(browserCookie); err == nil {
		return c.Value
	}
	return ""
}

// redirect answers a step of the flow: a 302 to rd.URL with its cookies,
// or the error as JSON.
func (s *Server) redirect(w http.ResponseWriter, r *http.Request, rd app.Redirect, err error) {
	if err != nil {
		s.fail(w, r, err)
		return
	}
	secure := strings.HasPrefix(s.app.OAuthIssuer(), "https://")
	if rd.Browser != "" {
		// Sent back to the login paths too, so logins in two tabs share it.
		http.SetCookie(w, &http.Cookie{Name: browserCookie, Value: rd.Browser, Path: "/auth/github/",
			MaxAge: int(s.app.OAuthRequestTTL() / time.Second), HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode})
	}
	if rd.Token != nil {
		w.Header().Add("Set-Cookie", tokenCookie(rd.Token, s.app.OAuthCookieDomain()))
	}
	w.Header().Set("Location", rd.URL)
	w.Header().Set("Cache-Control", "no-cache, no-store, must-revalidate")
	w.WriteHeader(http.StatusFound)
}

// tokenCookie is production's basic login cookie, byte for byte: every
// cluster's ILB (req.cook(token)) and Grafana under the domain see it.
// Max-Age is the token's life.
func tokenCookie(l *app.Login, domain string) string {
	age := int64(time.Until(l.Claims.ExpiresAt) / time.Second)
	if d := l.Claims.ExpiresAt.Sub(l.Claims.IssuedAt); d > 0 {
		age = int64(d / time.Second)
	}
	c := "token=" + l.Token
	if domain != "" {
		c += "; Domain=." + domain
	}
	return c + "; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=" + strconv.FormatInt(age, 10)
}

// form reads an application/x-www-form-urlencoded body, bounded, refusing
// a parameter given twice (RFC 6749 §3.2). As production, the body is read
// as a form whatever its Content-Type.
func (s *Server) form(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, provisioner.Errorf(provisioner.ETOOLARGE, "request body is larger than %d bytes", s.maxBody)
		}
		return nil, provisioner.Errorf(provisioner.EINVALID, "cannot read the request body")
	}
	f, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, provisioner.Errorf(provisioner.EINVALID, "the body must be application/x-www-form-urlencoded")
	}
	for k, v := range f {
		if len(v) > 1 {
			return nil, provisioner.Errorf(provisioner.EINVALID, "parameter %q is given more than once", k)
		}
	}
	return f, nil
}

// oauthToken is the token endpoint: production's answer, with the
// refresh token.
func (s *Server) oauthToken(w http.ResponseWriter, r *http.Request) {
	f, err := s.form(w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	res, err := s.app.Token(r.Context(), s.source(r), app.TokenRequest{GrantType: f.Get("grant_type"), ClientID: f.Get("client_id"),
		Code: f.Get("code"), RedirectURI: f.Get("redirect_uri"), CodeVerifier: f.Get("code_verifier"),
		RefreshToken: f.Get("refresh_token"), Scope: f.Get("scope")})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	c := res.Claims
	roles := strings.Join(c.OrgRoles, ",")
	api.WriteJSON(w, http.StatusOK, api.Token{
		AccessToken: res.Token, TokenType: "Bearer", ExpiresIn: int64(c.ExpiresAt.Sub(c.IssuedAt) / time.Second),
		RefreshToken: res.RefreshToken, Scope: strings.Join(res.Scope, " "),
		Info: api.TokenInfo{Username: c.Subject, IsOrgMember: strconv.FormatBool(hasRole(c, provisioner.RoleMember)),
			IsOrgOwner: strconv.FormatBool(hasRole(c, provisioner.RoleOwner)), Org: c.Org, OrgRoles: roles,
			TokenIssuedAt: strconv.FormatInt(c.IssuedAt.Unix(), 10), TokenExpiresAt: strconv.FormatInt(c.ExpiresAt.Unix(), 10),
			TokenIssuer: c.Issuer},
	})
}

func hasRole(c provisioner.Claims, role string) bool {
	for _, r := range c.OrgRoles {
		if r == role {
			return true
		}
	}
	return false
}

// oauthRevoke is RFC 7009 revocation of a refresh token: 200 whether or
// not the token was live.
func (s *Server) oauthRevoke(w http.ResponseWriter, r *http.Request) {
	f, err := s.form(w, r)
	if err == nil {
		err = s.app.RevokeToken(r.Context(), s.source(r), f.Get("token"), f.Get("client_id"))
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	api.WriteJSON(w, http.StatusOK, map[string]string{"status": "success"})
}

// legacyRefresh is production's /auth/refresh, which refreshes nothing:
// 401, as production answers. Refresh tokens are the token endpoint's
// refresh_token grant.
func (s *Server) legacyRefresh(w http.ResponseWriter, r *http.Request) {
	api.WriteError(w, http.StatusUnauthorized, "token_refresh_failed",
		"failed to refresh token: use "+app.OAuthTokenPath+" with grant_type=refresh_token", 0, "provisioner")
}
