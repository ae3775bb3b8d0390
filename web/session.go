package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"provisioner"
	"provisioner/api"
	"provisioner/app"
)

// The browser session (docs/dashboard.md). The jwt_user lives in one
// cookie that scripts cannot read (HttpOnly), sent over HTTPS or loopback
// only (Secure), never with a request another site starts
// (SameSite=Strict), and that no sibling host can set (the __Host- prefix:
// no Domain, Path=/). The page never sees the token.
const (
	// CookieName is the session cookie's name.
	CookieName = "__Host-provisioner-session"
	// HeaderCSRF carries the session's CSRF token on every state-changing
	// request the page sends with the cookie.
	HeaderCSRF = "X-Provisioner-CSRF"
	// maxCookie keeps the cookie inside what every browser stores (4 KiB
	// with its name and attributes).
	maxCookie = 3800
	// maxSignInBody bounds the token sign-in's body.
	maxSignInBody = 8 << 10
)

// csrfToken is the session's CSRF token: an HMAC keyed with the jwt_user
// itself, so it needs no server state (every Lambda instance computes the
// same), cannot be made without the cookie, and tells nothing of it.
func csrfToken(session string) string {
	m := hmac.New(sha256.New, []byte(session))
	m.Write([]byte("provisioner dashboard csrf v1"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// safeMethod: methods the API never changes state on.
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// sameOrigin checks that a request was started by a page of this origin:
// the browser's Origin must name the host the request was sent to, and its
// Sec-Fetch-Site, when sent, must be same-origin. A request with neither
// header is no browser's same-origin fetch, and is refused.
func sameOrigin(r *http.Request) error {
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" && s != "same-origin" {
		return provisioner.Errorf(provisioner.EFORBIDDEN, "cross-site request refused (Sec-Fetch-Site: %s)", s)
	}
	o := r.Header.Get("Origin")
	if o == "" || o == "null" {
		return provisioner.Errorf(provisioner.EFORBIDDEN, "a request with the dashboard session must carry its Origin")
	}
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" {
		return provisioner.Errorf(provisioner.EFORBIDDEN, "malformed Origin")
	}
	if !strings.EqualFold(u.Host, r.Host) {
		return provisioner.Errorf(provisioner.EFORBIDDEN, "cross-origin request refused: Origin %s is not this host", o)
	}
	return nil
}

// checkCSRF is the defence of a state-changing request that carries the
// session cookie: same origin, and the session's CSRF token in HeaderCSRF
// (which a cross-origin page can neither read nor send without a CORS
// preflight, which this server never approves).
func checkCSRF(r *http.Request, session string) error {
	if err := sameOrigin(r); err != nil {
		return err
	}
	got := r.Header.Get(HeaderCSRF)
	if got == "" {
		return provisioner.Errorf(provisioner.EFORBIDDEN, "missing %s header: requests with the dashboard session need it", HeaderCSRF)
	}
	if !hmac.Equal([]byte(got), []byte(csrfToken(session))) {
		return provisioner.Errorf(provisioner.EFORBIDDEN, "wrong %s token", HeaderCSRF)
	}
	return nil
}

// api passes a request to the API. With the session cookie and no
// Authorization header, the cookie becomes the bearer token, after the
// CSRF check for anything but a read; a request with its own bearer token
// is left as it is (the CLI, the released clients, curl).
func (h *Handler) api(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie(CookieName)
	if err != nil || c.Value == "" || r.Header.Get("Authorization") != "" {
		h.cfg.API.ServeHTTP(w, r)
		return
	}
	if !safeMethod(r.Method) {
		if err := checkCSRF(r, c.Value); err != nil {
			h.cfg.Logger.Warn("dashboard: request refused", "method", r.Method, "path", r.URL.Path,
				"origin", r.Header.Get("Origin"), "source", h.source(r), "err", provisioner.ErrorMessage(err))
			h.fail(w, err)
			return
		}
	}
	r2 := r.Clone(r.Context())
	r2.Header.Set("Authorization", "Bearer "+c.Value)
	h.cfg.API.ServeHTTP(w, r2)
}

// sessionInfo is the answer of GET and POST /ui/session.
type sessionInfo struct {
	Status   string `json:"status"`
	SignedIn bool   `json:"signed_in"`
	Login    string `json:"login,omitempty"`
	Level    string `json:"level,omitempty"`
	// CSRF is the value of HeaderCSRF for this session.
	CSRF string `json:"csrf,omitempty"`
	// ExpiresAt is when the session ends (the jwt_user's exp).
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// Now is the server's clock, as HeaderNow.
	Now time.Time `json:"now"`
	// GitHub says whether "Sign in with GitHub" is configured.
	GitHub bool `json:"github"`
}

// session answers who the cookie signs in, with its CSRF token; a
// missing, expired or revoked session is signed_in false (and the stale
// cookie is cleared).
func (h *Handler) session(w http.ResponseWriter, r *http.Request) {
	secure(w)
	info := sessionInfo{Status: "success", Now: h.cfg.Now().UTC(), GitHub: h.cfg.SignIn != nil}
	if c, err := r.Cookie(CookieName); err == nil && c.Value != "" {
		u, err := h.cfg.Sessions.Authenticate(r.Context(), c.Value)
		switch code := provisioner.ErrorCode(err); {
		case err == nil:
			info.SignedIn, info.Login, info.Level, info.CSRF = true, u.Login, u.Level.String(), csrfToken(c.Value)
			info.ExpiresAt = tokenExpiry(c.Value)
		case code == provisioner.EUNAUTHORIZED || code == provisioner.EINVALID:
			clearCookie(w)
		default:
			h.fail(w, err)
			return
		}
	}
	api.WriteJSON(w, http.StatusOK, info)
}

// signInToken is the token sign-in: the page posts a GitHub PAT (or a
// static identity's token) once; LOGIN runs as POST /auth/github/pat does
// and its jwt_user goes into the cookie. The token is not kept.
func (h *Handler) signInToken(w http.ResponseWriter, r *http.Request) {
	secure(w)
	// Login CSRF: a cross-site form must not sign the victim in as the
	// attacker. Same origin, and a header no form can send.
	if err := sameOrigin(r); err != nil {
		h.fail(w, err)
		return
	}
	if r.Header.Get(HeaderCSRF) != "sign-in" {
		h.fail(w, provisioner.Errorf(provisioner.EFORBIDDEN, "token sign-in needs the %s: sign-in header", HeaderCSRF))
		return
	}
	var req struct {
		Token string `json:"token"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxSignInBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.fail(w, provisioner.Errorf(provisioner.ETOOLARGE, "request body is larger than %d bytes", maxSignInBody))
		} else {
			h.fail(w, provisioner.Errorf(provisioner.EINVALID, "request body must be a JSON object {\"token\": \"...\"}"))
		}
		return
	}
	if _, err := dec.Token(); err != io.EOF {
		h.fail(w, provisioner.Errorf(provisioner.EINVALID, "request body must hold exactly one JSON object"))
		return
	}
	if strings.TrimSpace(req.Token) == "" {
		h.fail(w, provisioner.Errorf(provisioner.EINVALID, "token is required"))
		return
	}
	l, err := h.cfg.Sessions.LoginToken(r.Context(), h.source(r), req.Token)
	if err != nil {
		h.fail(w, err)
		return
	}
	h.startSession(w, r, l)
}

// startSession sets the cookie for a LOGIN's jwt_user and answers the
// session, as GET /ui/session would.
func (h *Handler) startSession(w http.ResponseWriter, r *http.Request, l app.Login) {
	if err := setCookie(w, l.Token, l.Claims.ExpiresAt, h.cfg.Now()); err != nil {
		h.fail(w, err)
		return
	}
	api.WriteJSON(w, http.StatusOK, sessionInfo{Status: "success", SignedIn: true, Login: l.Claims.Subject,
		Level: l.Claims.Level.String(), CSRF: csrfToken(l.Token), ExpiresAt: l.Claims.ExpiresAt.UTC(),
		Now: h.cfg.Now().UTC(), GitHub: h.cfg.SignIn != nil})
}

// logout revokes the session (LOGOUT) and clears the cookie. A session
// already gone still clears it.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	secure(w)
	c, err := r.Cookie(CookieName)
	if err != nil || c.Value == "" {
		clearCookie(w)
		api.WriteJSON(w, http.StatusOK, map[string]string{"status": "success"})
		return
	}
	if err := checkCSRF(r, c.Value); err != nil {
		h.fail(w, err)
		return
	}
	u, err := h.cfg.Sessions.Authenticate(r.Context(), c.Value)
	if err == nil {
		err = h.cfg.Sessions.Logout(r.Context(), app.Caller{User: u, Source: h.source(r)})
	}
	clearCookie(w)
	if code := provisioner.ErrorCode(err); err != nil && code != provisioner.EUNAUTHORIZED && code != provisioner.ENOTFOUND {
		h.fail(w, err)
		return
	}
	api.WriteJSON(w, http.StatusOK, map[string]string{"status": "success"})
}

func setCookie(w http.ResponseWriter, token string, exp, now time.Time) error {
	if len(token) > maxCookie {
		return provisioner.Errorf(provisioner.EINVALID, "the login token is too long for a browser cookie (%d bytes)", len(token))
	}
	age := int(exp.Sub(now) / time.Second)
	if age <= 0 {
		return provisioner.Errorf(provisioner.EUNAUTHORIZED, "the login token has expired")
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: token, Path: "/", MaxAge: age,
		HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
	return nil
}

func clearCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
}

// tokenExpiry reads the exp of a jwt_user already verified; zero if absent.
func tokenExpiry(tok string) time.Time {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return time.Time{}
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return time.Time{}
	}
	var c struct {
		Exp int64 `json:"exp"`
	}
	if json.Unmarshal(b, &c) != nil || c.Exp == 0 {
		return time.Time{}
	}
	return time.Unix(c.Exp, 0).UTC()
}

// loopback tells whether host (host[:port]) is a loopback name or address.
func loopback(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
