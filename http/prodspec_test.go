package http_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"provisioner"
)

// prodShapes are production's paths where a released tool parses the
// answer, so production's response schema binds ours. Elsewhere production's
// OpenAPI is a reference only (our 202 + operation, our events list).
var prodShapes = map[string]bool{
	"/info":                      true,
	"/status":                    true,
	"/status/{username}":         true,
	"/report/clusters":           true,
	"/report/clusters/{cluster}": true,
	"/report/tests":              true,
}

// authShapes are the paths of production's login service (its
// authenticator spec) whose answers web and MCP clients read: ours must
// match at every status production's spec declares there.
var authShapes = map[string]bool{
	"/.well-known/oauth-authorization-server": true,
	"/auth/github/register":                   true,
	"/auth/github/login":                      true,
	"/auth/github/basic/login":                true,
	"/auth/github/callback":                   true,
	"/auth/github/token":                      true,
	"/auth/refresh":                           true,
}

// prodDir is production's apps directory (SLIDERULE_REF, by default
// ../shared/sliderule-ref beside the repository).
func prodDir() string {
	dir := os.Getenv("SLIDERULE_REF")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "sliderule-ref")
	}
	return filepath.Join(dir, "apps")
}

// prodSpecFile is production's provisioner OpenAPI.
func prodSpecFile() string { return filepath.Join(prodDir(), "provisioner", "openapi", "openapi.yml") }

// authSpecFile is production's authenticator (login service) OpenAPI.
func authSpecFile() string {
	return filepath.Join(prodDir(), "authenticator", "openapi", "openapi.yml")
}

var (
	prodOnce   sync.Once
	prodRouter routers.Router
	authRouter routers.Router
	prodErr    error
)

func loadRouter(file string) (routers.Router, error) {
	l := openapi3.NewLoader()
	l.IsExternalRefsAllowed = true
	doc, err := l.LoadFromFile(file)
	if err != nil {
		return nil, err
	}
	if err = doc.Validate(context.Background()); err != nil {
		return nil, err
	}
	doc.Servers = nil
	return gorillamux.NewRouter(doc)
}

// productionRouter loads production's specs, with their $refs into paths/
// and components/, once; nil and the reason when they are not at hand.
func productionRouter() (routers.Router, error) {
	prodOnce.Do(func() {
		if prodRouter, prodErr = loadRouter(prodSpecFile()); prodErr == nil {
			authRouter, prodErr = loadRouter(authSpecFile())
		}
	})
	return prodRouter, prodErr
}

// checkProduction validates an answer at one of production's paths
// against production's spec: a 200 at one of prodShapes, or at one of
// authShapes any status production declares there. It reports whether it
// did.
func (c *specChecker) checkProduction(r *http.Request, rec *httptest.ResponseRecorder) bool {
	pr, err := productionRouter()
	if err != nil {
		return false
	}
	route, params, err := pr.FindRoute(r)
	if err != nil || !prodShapes[route.Path] || rec.Code != http.StatusOK {
		route, params, err = authRouter.FindRoute(r)
		if err != nil || !authShapes[route.Path] || route.Operation.Responses.Status(rec.Code) == nil {
			return false
		}
	}
	in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: rec.Code,
		Header: rec.Header(), Body: nopBody(rec.Body.Bytes()), Options: &openapi3filter.Options{IncludeResponseStatus: true}}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		c.t.Errorf("production's spec: answer %d to %s %s does not match: %v\n%s", rec.Code, r.Method, r.URL.Path, err, rec.Body.Bytes())
	}
	c.mu.Lock()
	c.prodSeen[route.Path] = true
	c.mu.Unlock()
	return true
}

// TestProductionShapes: our answers at production's paths match
// production's OpenAPI files (the login service's in oauth_test.go) (all but /report/tests, whose answer needs a
// job runner; production describes it as any object, and the released
// workflow's checks run in cmd/provisioner).
func TestProductionShapes(t *testing.T) {
	if _, err := productionRouter(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("production's OpenAPI at %s: %v (CI=true: a missing file fails)", prodSpecFile(), err)
		}
		t.Skipf("production's OpenAPI at %s: %v (set SLIDERULE_REF)", prodSpecFile(), err)
	}
	e := newEnv(t)
	member := e.login("tok-org")
	e.register("pub1", true)
	if r := e.settle(e.do("POST", "/deploy", member, map[string]any{"cluster": "c1", "node_capacity": 2, "ttl": 30}), member); r.status != 200 {
		t.Fatalf("deploy: %d %s", r.status, r.raw)
	}
	// A user node group, so the reports' users are not empty.
	if r := e.settle(e.do("POST", "/deploy/otto", member, map[string]any{"cluster": "c1", "node_capacity": 1, "ttl": 30}), member); r.status != 200 {
		t.Fatalf("deploy/otto: %d %s", r.status, r.raw)
	}
	for _, p := range []string{"/info", "/status", "/status/otto", "/report/clusters", "/report/clusters/c1", "/report/clusters/pub1"} {
		var body any
		if strings.HasPrefix(p, "/status") {
			body = map[string]string{"cluster": "c1"}
		}
		if r := e.do("POST", p, member, body); r.status != 200 {
			t.Fatalf("%s: %d %s", p, r.status, r.raw)
		}
	}
	wantError(t, e.do("POST", "/report/tests", member, nil), 404, provisioner.ENOTFOUND)
	for p := range prodShapes {
		if !e.spec.prodSeen[p] && p != "/report/tests" {
			t.Errorf("no answer at %s was checked against production's spec", p)
		}
	}
}
