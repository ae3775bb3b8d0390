package githubtest

import (
	"crypto/rand"
	"net/http"
	"net/url"
)

// webApp is the OAuth app the fake knows, and the state of its web flow.
type webApp struct {
	clientID, secret string
	signedIn         string // token of the user signed in to GitHub in "the browser"
	deny             bool
	codes            map[string]*webCode
}

type webCode struct {
	token, redirectURI string
	used               bool
}

// SetOAuthApp registers the OAuth app of the web application flow: the
// authorize page answers 404 to any other client id, as GitHub does, and
// the code exchange checks the secret.
func (s *Server) SetOAuthApp(clientID, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.web.clientID, s.web.secret = clientID, secret
}

// SignInWeb makes the owner of token (given to AddUser) the user signed in
// to GitHub: the authorize page then approves at once, redirecting with a
// code that exchanges for token. "" signs out (the page then asks to sign
// in, which no test completes).
func (s *Server) SignInWeb(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.web.signedIn, s.web.deny = token, false
}

// DenyWeb makes the authorize page redirect back with error=access_denied,
// as when the user refuses the app.
func (s *Server) DenyWeb() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.web.deny = true
}

// serveAuthorize answers GET /login/oauth/authorize.
func (s *Server) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		notFound(w)
		return
	}
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	back, err := url.Parse(q.Get("redirect_uri"))
	if q.Get("client_id") == "" || (s.web.clientID != "" && q.Get("client_id") != s.web.clientID) || err != nil || !back.IsAbs() {
		notFound(w)
		return
	}
	v := url.Values{"state": {q.Get("state")}}
	switch {
	case s.web.deny:
		v.Set("error", "access_denied")
		v.Set("error_description", "The user has denied your application access.")
	case s.web.signedIn == "":
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<html><body>Sign in to GitHub</body></html>"))
		return
	default:
		code := rand.Text()[:20]
		if s.web.codes == nil {
			s.web.codes = map[string]*webCode{}
		}
		s.web.codes[code] = &webCode{token: s.web.signedIn, redirectURI: q.Get("redirect_uri")}
		v.Set("code", code)
	}
	back.RawQuery = v.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

// webAnswer exchanges a web flow code; s.mu is held.
func (s *Server) webAnswer(form url.Values) map[string]any {
	if s.web.clientID != "" && (form.Get("client_id") != s.web.clientID || form.Get("client_secret") != s.web.secret) {
		return oauthError("incorrect_client_credentials")
	}
	c := s.web.codes[form.Get("code")]
	switch {
	case c == nil || c.used:
		return oauthError("bad_verification_code")
	case form.Get("redirect_uri") != "" && form.Get("redirect_uri") != c.redirectURI:
		return oauthError("redirect_uri_mismatch")
	}
	c.used = true
	return map[string]any{"access_token": c.token, "token_type": "bearer", "scope": "read:org"}
}
