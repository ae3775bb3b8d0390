package app

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"time"

	"provisioner"
)

// The token endpoint (authorization_code and refresh_token grants), the
// revocation endpoint, and the grants' revocation with their sessions.

// TokenRequest is the token endpoint's form.
type TokenRequest struct {
	GrantType, ClientID             string
	Code, RedirectURI, CodeVerifier string // authorization_code
	RefreshToken, Scope             string // refresh_token
}

// TokenResult is what the token endpoint issued: the access token (a
// jwt_user), the refresh token ("" when the client registered no refresh
// grant, or no membership re-check is configured), and the scope.
type TokenResult struct {
	Login
	RefreshToken string
	Scope        []string
}

// Token is the token endpoint. Every failure of a code or refresh token
// is invalid_grant, whatever the reason (unknown, used, expired, another
// client's, another redirect URI, a wrong verifier): the caller learns
// nothing it could probe with.
func (a *App) Token(ctx context.Context, src string, r TokenRequest) (TokenResult, error) {
	now, release, err := a.oauthBegin(src)
	if err != nil {
		return TokenResult{}, err
	}
	defer release()
	switch r.GrantType {
	case "authorization_code":
		return a.exchangeCode(ctx, src, r, now)
	case "refresh_token":
		return a.refreshGrant(ctx, src, r, now)
	case "":
		return TokenResult{}, provisioner.Errorf(provisioner.EINVALID, "grant_type is required")
	}
	return TokenResult{}, provisioner.Errorf(provisioner.EUNSUPPORTEDGRANT, "grant_type must be authorization_code or refresh_token")
}

// tokenClient returns the request's client if it registered grant.
func (a *App) tokenClient(ctx context.Context, id, grant string) (provisioner.OAuthClient, error) {
	cl, err := a.oauthClient(ctx, id)
	if err != nil {
		return cl, err
	}
	if !slices.Contains(cl.GrantTypes, grant) {
		return cl, provisioner.Errorf(provisioner.EUNAUTHCLIENT, "the client did not register the %s grant", grant)
	}
	return cl, nil
}

// grantID is the ID of the grant a code makes: derived from the code, so
// a replay of the code finds (or blocks) the grant.
func grantID(codeHash string) string {
	h := sha256.Sum256([]byte("grant\x00" + codeHash))
	return base64.RawURLEncoding.EncodeToString(h[:16])
}

// pkceS256 is BASE64URL(SHA256(verifier)) (RFC 7636).
func pkceS256(verifier string) string {
	h := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// validVerifier: 43 to 128 unreserved characters (RFC 7636 §4.1).
func validVerifier(v string) bool {
	return len(v) >= 43 && len(v) <= 128 && strings.Trim(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~") == ""
}

func badGrant(msg string) error { return provisioner.Errorf(provisioner.EINVALIDGRANT, "%s", msg) }

func (a *App) exchangeCode(ctx context.Context, src string, r TokenRequest, now time.Time) (TokenResult, error) {
	c := Caller{Source: src}
	res, err := a.exchange(ctx, &c, r, now)
	if err == nil {
		_, err = a.endLogin(ctx, c, src, "login.oauth", now, res.Login, nil)
	} else {
		a.endLogin(ctx, c, src, "login.oauth", now, Login{}, err)
	}
	if err != nil {
		return TokenResult{}, err
	}
	return res, nil
}

func (a *App) exchange(ctx context.Context, c *Caller, r TokenRequest, now time.Time) (TokenResult, error) {
	cl, err := a.tokenClient(ctx, r.ClientID, "authorization_code")
	if err != nil {
		return TokenResult{}, err
	}
	switch {
	case r.Code == "" || len(r.Code) > 256:
		return TokenResult{}, provisioner.Errorf(provisioner.EINVALID, "code is required")
	case r.CodeVerifier == "":
		return TokenResult{}, provisioner.Errorf(provisioner.EINVALID, "code_verifier is required (PKCE)")
	case r.RedirectURI == "":
		return TokenResult{}, provisioner.Errorf(provisioner.EINVALID, "redirect_uri is required")
	}
	hash := secretHash(r.Code)
	code, err := a.store.TakeOAuthCode(ctx, hash)
	switch provisioner.ErrorCode(err) {
	case "":
	case provisioner.ENOTFOUND:
		return TokenResult{}, badGrant("unknown authorization code")
	case provisioner.ECONFLICT:
		c.User = code.User
		a.codeReplayed(ctx, *c, hash, now)
		return TokenResult{}, badGrant("the authorization code was used before; the tokens issued for it are revoked")
	default:
		return TokenResult{}, err
	}
	c.User = code.User
	switch {
	case subtle.ConstantTimeCompare([]byte(code.ClientID), []byte(cl.ID)) != 1:
		return TokenResult{}, badGrant("the authorization code was issued to another client")
	case code.RedirectURI != r.RedirectURI:
		return TokenResult{}, badGrant("redirect_uri differs from the authorization request's")
	case !now.Before(code.Expires):
		return TokenResult{}, badGrant("the authorization code has expired")
	case !validVerifier(r.CodeVerifier) || subtle.ConstantTimeCompare([]byte(pkceS256(r.CodeVerifier)), []byte(code.CodeChallenge)) != 1:
		return TokenResult{}, badGrant("code_verifier does not match the code_challenge")
	}
	l, scope, err := a.oauthToken(ctx, code.User, code.Scope)
	if err != nil {
		return TokenResult{}, err
	}
	g := provisioner.OAuthGrant{ID: grantID(hash), ClientID: cl.ID, Scope: code.Scope, User: code.User, Session: l.Claims.ID,
		Created: now, Expires: now.Add(a.oauth.cfg.RefreshTTL)}
	var refresh string
	if slices.Contains(cl.GrantTypes, "refresh_token") && a.membership != nil {
		var secret string
		refresh, secret = newRefreshToken(g.ID)
		g.Current = secretHash(secret)
	}
	if err := a.store.CreateOAuthGrant(ctx, g); err != nil {
		// A replay of the code got here first and blocked the grant.
		_, _ = a.revoke(ctx, code.User.Login, l.Claims.ID, "authorization code replayed")
		if provisioner.ErrorCode(err) == provisioner.ECONFLICT {
			return TokenResult{}, badGrant("the authorization code was used before")
		}
		return TokenResult{}, err
	}
	a.touchClient(ctx, cl, now)
	return TokenResult{Login: l, RefreshToken: refresh, Scope: scope}, nil
}

// codeReplayed revokes what a code already granted (RFC 6749 §4.1.2): its
// grant and the grant's session. When the first exchange is still under
// way, a revoked grant put in its place makes that exchange fail.
func (a *App) codeReplayed(ctx context.Context, c Caller, hash string, now time.Time) {
	const reason = "authorization code replayed"
	id := grantID(hash)
	err := a.store.CreateOAuthGrant(ctx, provisioner.OAuthGrant{ID: id, ClientID: "-", User: c.User,
		Created: now, Expires: now.Add(a.oauth.cfg.RefreshTTL), RevokedAt: now, Reason: reason})
	if provisioner.ErrorCode(err) == provisioner.ECONFLICT {
		err = a.revokeGrant(ctx, id, reason)
	}
	a.audit(ctx, c, "oauth.code.replay", id, provisioner.Errorf(provisioner.EINVALIDGRANT, "%s", reason), errText(err))
}

func errText(err error) string {
	if err != nil {
		return "revocation failed: " + err.Error()
	}
	return ""
}

// newRefreshToken returns a refresh token of grant id and its secret.
func newRefreshToken(id string) (token, secret string) {
	secret = randomToken(32)
	return id + "." + secret, secret
}

// parseRefreshToken splits a refresh token into its grant and secret.
func parseRefreshToken(tok string) (id, secret string, ok bool) {
	id, secret, ok = strings.Cut(tok, ".")
	return id, secret, ok && len(id) == 22 && len(secret) == browserLen
}

func (a *App) refreshGrant(ctx context.Context, src string, r TokenRequest, now time.Time) (TokenResult, error) {
	c := Caller{Source: src}
	res, err := a.rotate(ctx, &c, r, now)
	if err == nil {
		_, err = a.endLogin(ctx, c, src, "oauth.refresh", now, res.Login, nil)
	} else {
		a.endLogin(ctx, c, src, "oauth.refresh", now, Login{}, err)
	}
	if err != nil {
		return TokenResult{}, err
	}
	return res, nil
}

// rotate is the refresh_token grant: the token must be the grant's
// current one (any other token of the grant is a reuse, which revokes
// it), the grant's session not revoked and the user's membership not
// lowered since; then a new access token is issued and the refresh token
// rotated, atomically: of two refreshes with one token, one wins and the
// other revokes the grant.
func (a *App) rotate(ctx context.Context, c *Caller, r TokenRequest, now time.Time) (TokenResult, error) {
	cl, err := a.tokenClient(ctx, r.ClientID, "refresh_token")
	if err != nil {
		return TokenResult{}, err
	}
	id, secret, ok := parseRefreshToken(r.RefreshToken)
	if !ok {
		return TokenResult{}, badGrant("malformed refresh token")
	}
	g, err := a.store.GetOAuthGrant(ctx, id)
	if provisioner.ErrorCode(err) == provisioner.ENOTFOUND {
		return TokenResult{}, badGrant("unknown refresh token")
	}
	if err != nil {
		return TokenResult{}, err
	}
	c.User = g.User
	switch {
	case !g.RevokedAt.IsZero():
		return TokenResult{}, badGrant("the refresh token was revoked (" + g.Reason + ")")
	case !now.Before(g.Expires):
		return TokenResult{}, badGrant("the refresh token has expired; log in again")
	case g.Current == "" || subtle.ConstantTimeCompare([]byte(secretHash(secret)), []byte(g.Current)) != 1:
		a.refreshReused(ctx, *c, g, "a refresh token was used again")
		return TokenResult{}, badGrant("the refresh token was used before; its grant is revoked: log in again")
	case g.ClientID != cl.ID:
		a.refreshReused(ctx, *c, g, "another client presented the refresh token")
		return TokenResult{}, badGrant("the refresh token was issued to another client; its grant is revoked")
	}
	if s, err := a.store.GetSession(ctx, g.User.Login, g.Session); err == nil && !s.RevokedAt.IsZero() {
		_ = a.revokeGrant(ctx, g.ID, "session revoked ("+s.Reason+")")
		return TokenResult{}, badGrant("the session was revoked (" + s.Reason + "); log in again")
	}
	scope := g.Scope
	if r.Scope != "" {
		scope = strings.Fields(r.Scope)
		for _, s := range scope {
			if !slices.Contains(g.Scope, s) {
				return TokenResult{}, provisioner.Errorf(provisioner.EINVALIDSCOPE, "scope %q was not granted", s)
			}
		}
	}
	u, err := a.recheckGrant(ctx, g)
	if err != nil {
		return TokenResult{}, err
	}
	c.User = u
	l, granted, err := a.oauthToken(ctx, u, scope)
	if err != nil {
		return TokenResult{}, err
	}
	next := g
	next.User, next.Session, next.Generation = u, l.Claims.ID, g.Generation+1
	refresh, newSecret := newRefreshToken(g.ID)
	next.Current = secretHash(newSecret)
	if err := a.store.RotateOAuthGrant(ctx, next, g.Current); err != nil {
		_, _ = a.revoke(ctx, u.Login, l.Claims.ID, "refresh token reused")
		if provisioner.ErrorCode(err) == provisioner.ECONFLICT {
			a.refreshReused(ctx, *c, g, "two refreshes with one refresh token")
			return TokenResult{}, badGrant("the refresh token was used at the same time by another request; its grant is revoked: log in again")
		}
		return TokenResult{}, err
	}
	a.touchClient(ctx, cl, now)
	return TokenResult{Login: l, RefreshToken: refresh, Scope: granted}, nil
}

// recheckGrant is the membership re-check of a refresh: the user's level
// now, with the operator's token. A user removed or demoted since the
// grant loses it; GitHub not answering fails the refresh, leaving the
// grant as it is (the client retries).
func (a *App) recheckGrant(ctx context.Context, g provisioner.OAuthGrant) (provisioner.User, error) {
	if a.membership == nil {
		return provisioner.User{}, badGrant("refresh needs the membership re-check, which is not configured; log in again")
	}
	cur, err := a.membership.CheckMembership(ctx, g.User)
	if err != nil {
		a.log.Warn("membership re-check of a refresh failed", "login", g.User.Login, "err", err)
		return provisioner.User{}, provisioner.Wrap(provisioner.EUNAVAILABLE, err, "cannot re-check the membership with GitHub now; try again")
	}
	if cur.Level < g.User.Level {
		reason := "membership: level " + cur.Level.String()
		err := a.revokeGrant(ctx, g.ID, reason)
		a.audit(ctx, Caller{User: g.User}, "session.recheck", g.User.Login, err, reason)
		return provisioner.User{}, badGrant("the membership changed (" + reason + "); log in again")
	}
	cur.Via = "oauth"
	return cur, nil
}

// refreshReused revokes a grant whose refresh token was replayed (RFC
// 9700 §4.14.2), with its session, and records it.
func (a *App) refreshReused(ctx context.Context, c Caller, g provisioner.OAuthGrant, reason string) {
	err := a.revokeGrant(ctx, g.ID, reason)
	a.audit(ctx, c, "oauth.refresh.reuse", g.ID, provisioner.Errorf(provisioner.EINVALIDGRANT, "%s", reason), errText(err))
}

// revokeGrant revokes a grant and the session of its latest access token.
func (a *App) revokeGrant(ctx context.Context, id, reason string) error {
	g, ok, err := a.store.RevokeOAuthGrant(ctx, id, a.now().UTC(), reason)
	if err != nil || !ok || g.Session == "" {
		return err
	}
	_, err = a.revoke(ctx, g.User.Login, g.Session, reason)
	if provisioner.ErrorCode(err) == provisioner.ENOTFOUND {
		return nil // the session expired and went
	}
	return err
}

// revokeGrants revokes the login's live grants whose latest session is
// session, or all of them when session is "": a logout or a session
// revocation ends the refresh tokens too.
func (a *App) revokeGrants(ctx context.Context, login, session, reason string) error {
	gs, err := a.store.ListOAuthGrants(ctx, login)
	if err != nil {
		return err
	}
	var errs []error
	for _, g := range gs {
		if g.RevokedAt.IsZero() && (session == "" || g.Session == session) {
			_, _, err := a.store.RevokeOAuthGrant(ctx, g.ID, a.now().UTC(), reason)
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// touchClient records a use of a client, at most hourly, so a client in
// use does not expire.
func (a *App) touchClient(ctx context.Context, cl provisioner.OAuthClient, now time.Time) {
	if cl.ID == DashboardClientID || !cl.UsedAt.IsZero() && now.Sub(cl.UsedAt) < touchEvery {
		return
	}
	if err := a.store.TouchOAuthClient(ctx, cl.ID, now, now.Add(a.oauth.cfg.ClientIdleTTL)); err != nil {
		a.log.Warn("cannot record an OAuth client's use", "client", cl.ID, "err", err)
	}
}

// RevokeToken is the revocation endpoint (RFC 7009) for refresh tokens:
// the client's own live token revokes its grant and the grant's session.
// Anything else is answered as a success, as the RFC asks.
func (a *App) RevokeToken(ctx context.Context, src, token, clientID string) error {
	now, release, err := a.oauthBegin(src)
	if err != nil {
		return err
	}
	defer release()
	if token == "" {
		return provisioner.Errorf(provisioner.EINVALID, "token is required")
	}
	cl, err := a.oauthClient(ctx, clientID)
	if err != nil {
		return err
	}
	id, secret, ok := parseRefreshToken(token)
	if !ok {
		return nil
	}
	g, err := a.store.GetOAuthGrant(ctx, id)
	if provisioner.ErrorCode(err) == provisioner.ENOTFOUND {
		return nil
	}
	if err != nil {
		return err
	}
	if g.ClientID != cl.ID || !g.Live(now) || subtle.ConstantTimeCompare([]byte(secretHash(secret)), []byte(g.Current)) != 1 {
		return nil
	}
	err = a.revokeGrant(ctx, g.ID, "revoked by the client")
	return a.audit(ctx, Caller{User: g.User, Source: src}, "oauth.revoke", g.ID, err, "")
}
