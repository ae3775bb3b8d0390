// Package http is the provisioner's HTTP API: JSON in and out, the paths and
// shapes of the SlideRule Python client, errors mapped from domain codes in
// one place (error.go).
package http

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"

	"provisioner"
	"provisioner/api"
	"provisioner/app"
	"provisioner/clientaddr"
	"provisioner/signature"
)

// Config configures a Server.
type Config struct {
	App    *app.App
	Keys   provisioner.KeySet // published at /.well-known/jwks.json
	Issuer string             // the provisioner's base URL, the tokens' "iss"
	Logger *slog.Logger
	// TrustedProxies is how many reverse proxies in front of the server append
	// to X-Forwarded-For; 0 means the peer address is the client.
	TrustedProxies int
	// MaxBody bounds request bodies; 0 means 64 KiB.
	MaxBody int64
	// DevicePace holds back a device poll's terminal error (expired,
	// denied) so that a client that re-polls at once on an error polls at
	// this pace; 0 means 5 s (GitHub's interval), negative means none.
	DevicePace time.Duration
	// Signatures checks signed requests (signature.go); nil is policy off.
	Signatures *signature.Verifier
}

// Server routes requests to the App.
type Server struct {
	app     *app.App
	keys    provisioner.KeySet
	issuer  string
	log     *slog.Logger
	proxies int
	maxBody int64
	mux     *http.ServeMux
	methods map[string][]string // path -> methods, for JSON 405s
	// devicePace: see Config.DevicePace.
	devicePace time.Duration
	// signatures and handler: the mux behind the signature check.
	signatures *signature.Verifier
	handler    http.Handler
}

// NewServer returns a Server with every route registered.
func NewServer(c Config) *Server {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MaxBody == 0 {
		c.MaxBody = 64 << 10
	}
	switch {
	case c.DevicePace == 0:
		c.DevicePace = 5 * time.Second
	case c.DevicePace < 0:
		c.DevicePace = 0
	}
	s := &Server{devicePace: c.DevicePace, app: c.App, keys: c.Keys, issuer: strings.TrimRight(c.Issuer, "/"), log: c.Logger,
		proxies: c.TrustedProxies, maxBody: c.MaxBody, mux: http.NewServeMux(), methods: map[string][]string{}}
	s.routes()
	s.signatures = c.Signatures
	s.handler = s.signed(s.mux)
	return s
}

func (s *Server) routes() {
	s.handle("GET /healthz", s.healthz)
	s.handle("GET /.well-known/jwks.json", s.jwks)
	s.handle("GET /auth/pem", s.pem)
	s.handle("GET /.well-known/openid-configuration", s.openidConfiguration)

	s.handle("POST /auth/github/pat", s.loginPAT())
	s.handle("POST /auth/github/device", s.deviceStart())
	s.handle("POST /auth/github/device/poll", s.devicePoll())
	s.handle("POST /auth/github/actions", s.loginActions())
	s.handle("GET /auth/whoami", s.whoami())
	s.handle("POST /auth/logout", s.logout())
	s.handle("GET /auth/revocations", s.revocations())
	s.handle("POST /users/{login}/revoke", s.revokeUser())
	s.handle("GET /users/{login}/sessions", s.userSessions())
	s.oauthRoutes()

	s.handle("POST /access", s.access())
	s.handle("GET /clusters", s.listClusters())
	s.handle("POST /info", s.info())
	s.handle("POST /report/clusters", s.reportClusters())
	s.handle("POST /report/clusters/{cluster}", s.reportClusters())
	s.handle("POST /report/tests", s.testReport())
	s.handle("GET /report/tests", s.testHistory())
	s.handle("GET /report/costs", s.costReport())
	s.handle("GET /report/budgets", s.budgetReport())
	s.handle("POST /clusters/register", s.registerCluster())
	s.handle("POST /clusters/unregister", s.unregisterCluster())
	s.handle("GET /audit", s.auditList())
	s.handle("POST /audit/export", s.auditExport())

	s.handle("POST /deploy", s.deploy())
	s.handle("POST /extend", s.extend())
	s.handle("POST /schedule_destroy", s.scheduleDestroy())
	s.handle("POST /destroy", s.destroy())
	s.handle("POST /status", s.status())
	s.handle("POST /events", s.events())
	s.handle("GET /operations/{id}", s.operation())
	s.handle("POST /deploy/{username}", s.deployGroup())
	s.handle("POST /extend/{username}", s.extendGroup())
	s.handle("POST /destroy/{username}", s.destroyGroup())
	s.handle("POST /status/{username}", s.groupStatus())
	s.handle("POST /events/{username}", s.groupEvents())

	s.handle("POST /test", s.startJob(provisioner.JobTest))
	s.handle("POST /release", s.startJob(provisioner.JobRelease))
	s.handle("GET /jobs", s.listJobs())
	s.handle("GET /jobs/{id}", s.job())
	s.handle("GET /jobs/{id}/log", s.jobLog)
	s.handle("POST /jobs/{id}/cancel", s.cancelJob())

	s.mux.HandleFunc("/", s.notFound)
}

// handle registers a route and remembers its method for 405 answers.
func (s *Server) handle(pattern string, h http.HandlerFunc) {
	method, path, _ := strings.Cut(pattern, " ")
	s.methods[path] = append(s.methods[path], method)
	s.mux.HandleFunc(pattern, h)
}

// Routes lists the served routes as "METHOD /path", sorted.
func (s *Server) Routes() []string {
	var out []string
	for path, methods := range s.methods {
		for _, m := range methods {
			out = append(out, m+" "+path)
		}
	}
	sort.Strings(out)
	return out
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	if m, ok := s.methods[r.URL.Path]; ok {
		w.Header().Set("Allow", strings.Join(m, ", "))
		api.WriteJSON(w, http.StatusMethodNotAllowed, api.Error{Status: "failure", Error: "method_not_allowed",
			Description: r.Method + " is not allowed on " + r.URL.Path + "; use " + strings.Join(m, ", ")})
		return
	}
	s.fail(w, r, provisioner.Errorf(provisioner.ENOTFOUND, "no such endpoint: %s %s", r.Method, r.URL.Path))
}

// ServeHTTP adds a request id, recovers panics as 500s, and logs each request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rw := &statusWriter{ResponseWriter: w}
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("panic serving request", "path", r.URL.Path, "panic", p)
			if !rw.wrote {
				s.fail(rw, r, provisioner.Errorf(provisioner.EINTERNAL, "internal error"))
			}
		}
		s.log.Info("request", "method", r.Method, "path", r.URL.Path, "status", rw.status,
			"source", s.source(r), "duration", time.Since(start))
	}()
	s.handler.ServeHTTP(rw, r)
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.status, w.wrote = http.StatusOK, true
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// source is the client address (clientaddr.From, behind s.proxies trusted
// proxies); a peer that is no IP address (a Unix socket's) is named as it
// is.
func (s *Server) source(r *http.Request) string {
	if a := clientaddr.From(r.RemoteAddr, r.Header, s.proxies); a.IsValid() {
		return a.String()
	}
	return r.RemoteAddr
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	api.WriteJSON(w, http.StatusOK, map[string]string{"status": "success"})
}

// caller authenticates the request's bearer token; anonymous without one.
func (s *Server) caller(r *http.Request) (app.Caller, error) {
	tok, err := bearer(r)
	if err != nil {
		return app.Caller{}, err
	}
	u, err := s.app.Authenticate(r.Context(), tok)
	if err != nil {
		return app.Caller{}, err
	}
	return app.Caller{User: u, Source: s.source(r)}, nil
}

// maxAuthHeader bounds the Authorization header we are willing to parse.
const maxAuthHeader = 8 << 10

func bearer(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", nil
	}
	if len(h) > maxAuthHeader {
		return "", provisioner.Errorf(provisioner.EUNAUTHORIZED, "Authorization header is too long")
	}
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return "", provisioner.Errorf(provisioner.EUNAUTHORIZED, "Authorization header must be \"Bearer <token>\"")
	}
	return strings.TrimSpace(tok), nil
}

// Shutdown-friendly server with sane timeouts; Serve blocks until ctx ends,
// then drains connections for up to grace.
func Serve(ctx context.Context, l net.Listener, h http.Handler, grace time.Duration) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		// Long polls (operations, device flow) stay under a minute.
		WriteTimeout:   90 * time.Second,
		IdleTimeout:    120 * time.Second,
		MaxHeaderBytes: 64 << 10,
	}
	// Long polls watch drain: at shutdown they answer at once with what
	// is true now (a pending operation stays pending, and its client
	// polls again), so no poll is cut and Shutdown needs no grace.
	drain := make(chan struct{})
	srv.BaseContext = func(net.Listener) context.Context { return app.WithDrain(context.Background(), drain) }
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	close(drain)
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; err != http.ErrServerClosed {
		return err
	}
	return nil
}
