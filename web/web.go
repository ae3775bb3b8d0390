// Package web is the dashboard: a page served by the provisioner at "/"
// from assets embedded in the binary (static/), and the browser session it
// signs in with. The page talks to the JSON API it sits in front of; a
// request that carries the session cookie reaches the API as a bearer
// token, and only with the CSRF defence of session.go. docs/dashboard.md
// is the threat model.
package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"path"
	"sort"
	"strings"
	"time"

	"provisioner"
	"provisioner/api"
	"provisioner/app"
	"provisioner/clientaddr"
)

//go:embed static
var static embed.FS

// Sessions is what the dashboard needs of the App: LOGIN with a token,
// the check of a jwt_user, and LOGOUT. *app.App implements it.
type Sessions interface {
	LoginToken(ctx context.Context, src, token string) (app.Login, error)
	Authenticate(ctx context.Context, bearer string) (provisioner.User, error)
	Logout(ctx context.Context, c app.Caller) error
}

// Config configures a Handler.
type Config struct {
	// API is the JSON API the page talks to (package http's Server);
	// every path the dashboard does not serve goes to it.
	API      http.Handler
	Sessions Sessions
	// Now is the server's clock, the one the App runs on: the page counts
	// TTLs down from it (the X-Provisioner-Now header), not from the
	// browser's. nil is time.Now.
	Now    func() time.Time
	Logger *slog.Logger
	// TrustedProxies: as the API's (clientaddr.From), for the login limits.
	TrustedProxies int
	// SignIn starts and ends "Sign in with GitHub" through the
	// provisioner's OAuth authorization server; nil: not configured, the
	// page offers token sign-in only (oauth.go).
	SignIn SignIn
}

// Handler serves the dashboard and passes everything else to the API.
type Handler struct {
	cfg    Config
	mux    *http.ServeMux
	assets map[string]asset
	routes []string
}

// asset is an embedded file, ready to serve.
type asset struct {
	body  []byte
	ctype string
	etag  string
}

// HeaderNow is the response header that carries the server's clock
// (RFC 3339 with nanoseconds) on every answer that passes the dashboard.
const HeaderNow = "X-Provisioner-Now"

// New returns the dashboard in front of c.API.
func New(c Config) *Handler {
	if c.API == nil || c.Sessions == nil {
		panic("web: API and Sessions are required")
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	h := &Handler{cfg: c, mux: http.NewServeMux(), assets: loadAssets()}
	h.handle("GET /{$}", h.index)
	h.handle("GET /ui/assets/{file...}", h.asset)
	h.handle("GET /ui/session", h.session)
	h.handle("POST /ui/session", h.signInToken)
	h.handle("POST /ui/logout", h.logout)
	h.handle("GET /ui/github/login", h.githubLogin)
	h.handle("GET /ui/github/callback", h.githubCallback)
	h.mux.HandleFunc("/", h.api)
	return h
}

func (h *Handler) handle(pattern string, fn http.HandlerFunc) {
	h.routes = append(h.routes, strings.Replace(pattern, "{$}", "", 1))
	h.mux.HandleFunc(pattern, fn)
}

// Routes lists the dashboard's own routes as "METHOD /path", sorted.
func (h *Handler) Routes() []string {
	out := append([]string(nil), h.routes...)
	sort.Strings(out)
	return out
}

// ServeHTTP stamps the server's clock on every answer and routes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set(HeaderNow, h.cfg.Now().UTC().Format(time.RFC3339Nano))
	h.mux.ServeHTTP(w, r)
}

// CSP is the page's Content-Security-Policy: its own scripts, styles and
// API only, no inline code, never framed.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"font-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// secure sets the headers of every dashboard answer (page, assets, /ui/).
func secure(w http.ResponseWriter) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", CSP)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	hd.Set("Cross-Origin-Resource-Policy", "same-origin")
	hd.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()")
}

func (h *Handler) index(w http.ResponseWriter, r *http.Request) {
	h.serveAsset(w, r, "index.html", "no-store")
}

func (h *Handler) asset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	if name == "index.html" {
		http.Redirect(w, r, "/", http.StatusMovedPermanently)
		return
	}
	// Revalidated each time (an ETag answer costs one round trip): a new
	// binary's assets are never mixed with an old page.
	h.serveAsset(w, r, name, "no-cache")
}

func (h *Handler) serveAsset(w http.ResponseWriter, r *http.Request, name, cache string) {
	secure(w)
	a, ok := h.assets[name]
	if !ok {
		api.WriteError(w, http.StatusNotFound, provisioner.ENOTFOUND, "no such dashboard file: "+name, 0, "provisioner")
		return
	}
	w.Header().Set("Cache-Control", cache)
	w.Header().Set("ETag", a.etag)
	w.Header().Set("Content-Type", a.ctype)
	if match := r.Header.Get("If-None-Match"); match != "" && match == a.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}

// loadAssets reads the embedded files once, with their types and ETags.
func loadAssets() map[string]asset {
	out := map[string]asset{}
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		ctype := mime.TypeByExtension(path.Ext(p))
		switch path.Ext(p) { // the machine's MIME table may lack these
		case ".js":
			ctype = "text/javascript; charset=utf-8"
		case ".css":
			ctype = "text/css; charset=utf-8"
		case ".html":
			ctype = "text/html; charset=utf-8"
		case ".svg":
			ctype = "image/svg+xml"
		}
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		sum := sha256.Sum256(b)
		out[strings.TrimPrefix(p, "static/")] = asset{body: b, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	if err != nil {
		panic("web: reading the embedded assets: " + err.Error())
	}
	return out
}

// source is the client's address, for the login limits and the audit log.
func (h *Handler) source(r *http.Request) string {
	if a := clientaddr.From(r.RemoteAddr, r.Header, h.cfg.TrustedProxies); a.IsValid() {
		return a.String()
	}
	return r.RemoteAddr
}

// fail answers err as the API's JSON error.
func (h *Handler) fail(w http.ResponseWriter, err error) {
	code := provisioner.ErrorCode(err)
	status := api.StatusFor(code)
	if status == http.StatusInternalServerError {
		h.cfg.Logger.Error("dashboard: internal error", "err", err)
		code = provisioner.EINTERNAL
	}
	api.WriteError(w, status, code, provisioner.ErrorMessage(err), provisioner.RetryAfter(err), "provisioner")
}
