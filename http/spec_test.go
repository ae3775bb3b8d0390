package http_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	phttp "provisioner/http"
)

// specChecker validates every answer of the server under test against
// api/openapi.yaml, and every request the server accepted, so the spec and
// the handlers cannot drift apart.
type specChecker struct {
	t      *testing.T
	router routers.Router
	mu     sync.Mutex
	seen   map[string]bool // "METHOD path" of validated operations
	// prodSeen: production's paths whose answers were checked against
	// production's spec (prodspec_test.go).
	prodSeen map[string]bool
}

func loadSpec(t testing.TB) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromFile("../api/openapi.yaml")
	if err != nil {
		t.Fatalf("load spec: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("spec is invalid: %v", err)
	}
	return doc
}

// registerPEM lets the checker read GET /auth/pem's body, a PEM text
// (application/x-pem-file), as the string its schema says it is.
var registerPEM sync.Once

func newSpecChecker(t *testing.T) *specChecker {
	registerPEM.Do(func() {
		openapi3filter.RegisterBodyDecoder("application/x-pem-file", openapi3filter.FileBodyDecoder)
	})
	doc := loadSpec(t)
	doc.Servers = nil // match any host: the test server's port is random
	r, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &specChecker{t: t, router: r, seen: map[string]bool{}, prodSeen: map[string]bool{}}
}

func (c *specChecker) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqBody, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(reqBody))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
		c.check(r, reqBody, rec)
	})
}

func (c *specChecker) check(r *http.Request, reqBody []byte, rec *httptest.ResponseRecorder) {
	route, params, err := c.router.FindRoute(r)
	if err != nil {
		// Unknown paths and methods must still answer with a JSON error.
		if rec.Code != http.StatusNotFound && rec.Code != http.StatusMethodNotAllowed {
			c.t.Errorf("spec: %s %s is not in the spec but answered %d", r.Method, r.URL.Path, rec.Code)
		}
		return
	}
	r2 := r.Clone(context.Background())
	r2.Body = io.NopCloser(bytes.NewReader(reqBody))
	if len(reqBody) > 0 && !formRoute(route) {
		r2.Header.Set("Content-Type", "application/json") // the server reads any body as JSON, but the OAuth forms
	}
	in := &openapi3filter.RequestValidationInput{Request: r2, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	if rec.Code < 300 {
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			c.t.Errorf("spec: accepted request %s %s does not match the spec: %v", r.Method, r.URL.Path, err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: rec.Code,
		Header: rec.Header(), Body: io.NopCloser(bytes.NewReader(rec.Body.Bytes())),
		Options: &openapi3filter.Options{IncludeResponseStatus: true}}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		c.t.Errorf("spec: answer %d to %s %s does not match the spec: %v\n%s", rec.Code, r.Method, r.URL.Path, err, rec.Body.Bytes())
	}
	c.checkProduction(r2, rec)
	c.mu.Lock()
	c.seen[r.Method+" "+route.Path] = true
	c.mu.Unlock()
}

// TestSpecCoversRoutes: every route the server serves is in the spec.
func TestSpecCoversRoutes(t *testing.T) {
	doc := loadSpec(t)
	for _, route := range phttp.NewServer(phttp.Config{}).Routes() {
		method, path, _ := strings.Cut(route, " ")
		item := doc.Paths.Find(path)
		if item == nil || item.GetOperation(method) == nil {
			t.Errorf("route %s is not in api/openapi.yaml", route)
		}
	}
}

// formRoute tells whether the operation takes a form (the OAuth token
// and revocation endpoints).
func formRoute(route *routers.Route) bool {
	rb := route.Operation.RequestBody
	return rb != nil && rb.Value != nil && rb.Value.Content.Get("application/x-www-form-urlencoded") != nil
}

func nopBody(b []byte) io.ReadCloser { return io.NopCloser(bytes.NewReader(b)) }
