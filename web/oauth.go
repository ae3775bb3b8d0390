package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"

	"provisioner"
	"provisioner/app"
)

// SignIn is the hook for "Sign in with GitHub": the dashboard as a
// first-party public client of the provisioner's OAuth authorization
// server (authorization code with PKCE S256). The dashboard makes the
// state and the PKCE verifier, keeps them in a short-lived cookie bound to
// the browser, checks the state on the way back and turns the answer into
// the session cookie; an implementation only builds the authorization URL
// and redeems the code. Until one is wired (Config.SignIn nil), the page
// offers token sign-in only and /ui/github/* answer 404.
type SignIn interface {
	// AuthorizeURL is where the browser goes to authorize: the
	// authorization endpoint with the dashboard's client_id,
	// redirect_uri, state, code_challenge and code_challenge_method=S256.
	AuthorizeURL(ctx context.Context, redirectURI, state, challenge string) (string, error)
	// Exchange redeems code at the token endpoint with the PKCE verifier
	// and the same redirect_uri, and returns the LOGIN (a jwt_user); src
	// is the browser's address, for the login limits and the audit log.
	Exchange(ctx context.Context, src, code, verifier, redirectURI string) (app.Login, error)
}

// The provisioner's own authorization server is the implementation.
var _ SignIn = (*app.DashboardSignIn)(nil)

// oauthCookie holds "state.verifier" between the start of a GitHub
// sign-in and its callback. SameSite=Lax, not Strict: the callback is a
// top-level navigation from another site (GitHub), which Strict would
// strip it from.
const (
	oauthCookie = "__Host-provisioner-oauth"
	oauthMaxAge = 600 // seconds: time enough to approve at GitHub
	// CallbackPath is the redirect_uri's path.
	CallbackPath = "/ui/github/callback"
)

func random32() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// pkceChallenge is the S256 code_challenge of a verifier (RFC 7636).
func pkceChallenge(verifier string) string {
	s := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(s[:])
}

// redirectURI is the callback's absolute URL on the host the browser
// used: http on loopback (where the page may run without TLS), else https.
func redirectURI(r *http.Request) string {
	scheme := "https"
	if r.TLS == nil && loopback(r.Host) {
		scheme = "http"
	}
	return scheme + "://" + r.Host + CallbackPath
}

func (h *Handler) notConfigured(w http.ResponseWriter) {
	h.fail(w, provisioner.Errorf(provisioner.ENOTFOUND, "sign in with GitHub is not configured on this provisioner: sign in with a token"))
}

// githubLogin starts a GitHub sign-in: a fresh state and PKCE verifier in
// the transaction cookie, and a redirect to the authorization endpoint.
func (h *Handler) githubLogin(w http.ResponseWriter, r *http.Request) {
	secure(w)
	if h.cfg.SignIn == nil {
		h.notConfigured(w)
		return
	}
	state, verifier := random32(), random32()
	to, err := h.cfg.SignIn.AuthorizeURL(r.Context(), redirectURI(r), state, pkceChallenge(verifier))
	if err != nil {
		h.fail(w, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: oauthCookie, Value: state + "." + verifier, Path: "/", MaxAge: oauthMaxAge,
		HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, to, http.StatusFound)
}

// githubCallback ends a GitHub sign-in: the state must be the one this
// browser started with (the transaction cookie, used once), then the code
// is redeemed with the verifier and the session cookie set. The page is
// told the outcome in its fragment, never a token.
func (h *Handler) githubCallback(w http.ResponseWriter, r *http.Request) {
	secure(w)
	if h.cfg.SignIn == nil {
		h.notConfigured(w)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: oauthCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
	q := r.URL.Query()
	fail := func(code string) {
		http.Redirect(w, r, "/#signin-error="+url.QueryEscape(code), http.StatusSeeOther)
	}
	c, err := r.Cookie(oauthCookie)
	if err != nil {
		fail("no_sign_in_started")
		return
	}
	state, verifier, ok := strings.Cut(c.Value, ".")
	if !ok || state == "" || verifier == "" || !hmac.Equal([]byte(state), []byte(q.Get("state"))) {
		fail("state_mismatch")
		return
	}
	if e := q.Get("error"); e != "" {
		fail(safeCode(e))
		return
	}
	code := q.Get("code")
	if code == "" {
		fail("no_code")
		return
	}
	l, err := h.cfg.SignIn.Exchange(r.Context(), h.source(r), code, verifier, redirectURI(r))
	if err != nil {
		h.cfg.Logger.Warn("dashboard: GitHub sign-in failed", "source", h.source(r), "err", err)
		fail(safeCode(provisioner.ErrorCode(err)))
		return
	}
	if err := setCookie(w, l.Token, l.Claims.ExpiresAt, h.cfg.Now()); err != nil {
		fail(safeCode(provisioner.ErrorCode(err)))
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// safeCode keeps an OAuth error code to its alphabet (RFC 6749: %x20-21
// %x23-5B %x5D-7E; we keep letters, digits and _), at most 64 bytes.
func safeCode(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= 64 {
			break
		}
		if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "sign_in_failed"
	}
	return b.String()
}
