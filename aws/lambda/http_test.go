package lambda_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"provisioner/aws/lambda"
)

var bg = context.Background()

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// seen is what the echo handler saw of a request.
type seen struct {
	Method, Path, RawPath, EscapedPath, RawQuery, RequestURI, Host, RemoteAddr, Proto string
	Query                                                                             map[string][]string
	Header                                                                            http.Header
	Cookies                                                                           map[string]string
	Body                                                                              []byte
	ContentLength                                                                     int64
}

// echo answers every request with what it saw, as JSON, and a few headers
// and cookies of its own; /echo/upload answers the body back as binary.
func echo() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/echo/", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s := seen{Method: r.Method, Path: r.URL.Path, RawPath: r.URL.RawPath, EscapedPath: r.URL.EscapedPath(),
			RawQuery: r.URL.RawQuery, RequestURI: r.RequestURI, Host: r.Host, RemoteAddr: r.RemoteAddr, Proto: r.Proto,
			Query: r.URL.Query(), Header: r.Header, Cookies: map[string]string{}, Body: body, ContentLength: r.ContentLength}
		for _, c := range r.Cookies() {
			s.Cookies[c.Name] = c.Value
		}
		if r.URL.Path == "/echo/upload" {
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("X-Seen", "upload")
			_, _ = w.Write(body)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Add("Vary", "Accept")
		w.Header().Add("Vary", "Authorization")
		http.SetCookie(w, &http.Cookie{Name: "a", Value: "1", Path: "/"})
		http.SetCookie(w, &http.Cookie{Name: "b", Value: "2", HttpOnly: true})
		w.WriteHeader(http.StatusAccepted)
		_ = json.NewEncoder(w).Encode(s)
	})
	return mux
}

func invokeHTTP(t *testing.T, h *lambda.Handler, payload []byte) events.APIGatewayV2HTTPResponse {
	t.Helper()
	out, err := h.Invoke(bg, payload)
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("response %s: %v", out, err)
	}
	return resp
}

func body(t *testing.T, r events.APIGatewayV2HTTPResponse) []byte {
	t.Helper()
	if !r.IsBase64Encoded {
		return []byte(r.Body)
	}
	b, err := base64.StdEncoding.DecodeString(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestGetWithQueryAndCookies(t *testing.T) {
	h := &lambda.Handler{HTTP: echo(), Logger: quiet}
	resp := invokeHTTP(t, h, fixture(t, "apigw-get-query-cookies.json"))
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status = %d, body %s", resp.StatusCode, resp.Body)
	}
	if resp.IsBase64Encoded {
		t.Error("a JSON body was base64-encoded")
	}
	var s seen
	if err := json.Unmarshal(body(t, resp), &s); err != nil {
		t.Fatal(err)
	}
	if s.Method != "GET" || s.Path != "/echo/a/b/c" || s.EscapedPath != "/echo/a%2Fb/c" {
		t.Errorf("method %s path %q escaped %q", s.Method, s.Path, s.EscapedPath)
	}
	if s.RawQuery != "wait=25s&tag=x&tag=y&q=hello%20world" || s.RequestURI != "/echo/a%2Fb/c?wait=25s&tag=x&tag=y&q=hello%20world" {
		t.Errorf("raw query %q, request URI %q", s.RawQuery, s.RequestURI)
	}
	if want := map[string][]string{"wait": {"25s"}, "tag": {"x", "y"}, "q": {"hello world"}}; !reflect.DeepEqual(s.Query, want) {
		t.Errorf("query = %v, want %v", s.Query, want)
	}
	if want := map[string]string{"session": "abc123", "theme": "dark"}; !reflect.DeepEqual(s.Cookies, want) {
		t.Errorf("cookies = %v, want %v", s.Cookies, want)
	}
	if s.Host != "provisioner.slideruleearth.io" || s.Header.Get("Host") != "" {
		t.Errorf("host %q (header %q)", s.Host, s.Header.Get("Host"))
	}
	if s.RemoteAddr != "203.0.113.7:0" {
		t.Errorf("RemoteAddr = %q", s.RemoteAddr)
	}
	if s.Proto != "HTTP/1.1" {
		t.Errorf("proto = %q", s.Proto)
	}
	if got := s.Header.Get("Authorization"); got != "Bearer eyJhbGciOiJFUzI1NiJ9.e30.sig" {
		t.Errorf("Authorization = %q", got)
	}
	if got := s.Header.Get("User-Agent"); got != "python-requests/2.32.3" {
		t.Errorf("User-Agent = %q", got)
	}
	// The request id is API Gateway's, never the client's.
	if got := s.Header.Values(lambda.HeaderRequestID); len(got) != 1 || got[0] != "JKJaXmPLvHcESHA=" {
		t.Errorf("%s = %q", lambda.HeaderRequestID, got)
	}
	if s.ContentLength != 0 || len(s.Body) != 0 {
		t.Errorf("GET body %q, length %d", s.Body, s.ContentLength)
	}

	// Response: repeated headers joined, Set-Cookie as cookies.
	if got := resp.Headers["Vary"]; got != "Accept,Authorization" {
		t.Errorf("Vary = %q", got)
	}
	if got := resp.Headers["Content-Type"]; got != "application/json" {
		t.Errorf("Content-Type = %q", got)
	}
	if _, ok := resp.Headers["Set-Cookie"]; ok {
		t.Error("Set-Cookie left in headers")
	}
	if want := []string{"a=1; Path=/", "b=2; HttpOnly"}; !reflect.DeepEqual(resp.Cookies, want) {
		t.Errorf("cookies = %q, want %q", resp.Cookies, want)
	}
}

func TestPostJSON(t *testing.T) {
	h := &lambda.Handler{HTTP: echo(), Logger: quiet}
	payload := fixture(t, "apigw-post-json.json")
	var e map[string]any
	if err := json.Unmarshal(payload, &e); err != nil {
		t.Fatal(err)
	}
	e["rawPath"] = "/echo/post" // same event, on the echo route
	payload, _ = json.Marshal(e)
	resp := invokeHTTP(t, h, payload)
	var s seen
	if err := json.Unmarshal(body(t, resp), &s); err != nil {
		t.Fatal(err)
	}
	if s.Method != "POST" || string(s.Body) != `{"pat": "dev-member-token"}` || s.ContentLength != 27 {
		t.Errorf("method %s body %q length %d", s.Method, s.Body, s.ContentLength)
	}
	if got := s.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q", got)
	}
	if s.Host != "login.slideruleearth.io" || s.RemoteAddr != "198.51.100.20:0" {
		t.Errorf("host %q remote %q", s.Host, s.RemoteAddr)
	}
}

func TestBase64Body(t *testing.T) {
	h := &lambda.Handler{HTTP: echo(), Logger: quiet}
	resp := invokeHTTP(t, h, fixture(t, "apigw-post-base64.json"))
	want := []byte("\x00\x01\xfe\xffSlideRule\x89PNG")
	if resp.StatusCode != 200 || !resp.IsBase64Encoded {
		t.Fatalf("status %d, base64 %v", resp.StatusCode, resp.IsBase64Encoded)
	}
	if got := body(t, resp); string(got) != string(want) {
		t.Errorf("body = %q, want %q", got, want)
	}
	if resp.Headers["Content-Type"] != "application/octet-stream" || resp.Headers["X-Seen"] != "upload" {
		t.Errorf("headers = %v", resp.Headers)
	}
}

func TestResponses(t *testing.T) {
	for _, tc := range []struct {
		name       string
		handler    http.HandlerFunc
		status     int
		base64     bool
		body       string
		headers    map[string]string
		noHeaders  []string
		wantCookie []string
	}{
		{name: "default 200, sniffed type",
			handler: func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "<html>hi</html>") },
			status:  200, body: "<html>hi</html>", headers: map[string]string{"Content-Type": "text/html; charset=utf-8"}},
		{name: "empty",
			handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) },
			status:  204, body: ""},
		{name: "nothing written",
			handler: func(w http.ResponseWriter, r *http.Request) {},
			status:  200, body: ""},
		{name: "UTF-8 text",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain; charset=utf-8")
				_, _ = io.WriteString(w, "Grüße ✓")
			},
			status: 200, body: "Grüße ✓"},
		{name: "invalid UTF-8 in a text type",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain")
				_, _ = w.Write([]byte{0xff, 0xfe, 'a'})
			},
			status: 200, base64: true, body: "\xff\xfea"},
		{name: "gzip",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Content-Encoding", "gzip")
				_, _ = io.WriteString(w, "pretend")
			},
			status: 200, base64: true, body: "pretend"},
		{name: "headers after WriteHeader are not sent",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Before", "1")
				w.WriteHeader(http.StatusTeapot)
				w.Header().Set("X-After", "1")
				_, _ = io.WriteString(w, "{}")
			},
			status: 418, body: "{}", headers: map[string]string{"X-Before": "1"}, noHeaders: []string{"X-After"}},
		{name: "flush and 1xx",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusContinue)
				w.(http.Flusher).Flush()
				_, _ = io.WriteString(w, "a")
				w.(http.Flusher).Flush()
				_, _ = io.WriteString(w, "b")
			},
			status: 200, body: "ab"},
		{name: "panic",
			handler: func(w http.ResponseWriter, r *http.Request) { panic("boom") },
			status:  500, body: `{"status":"failure","error":"internal_error","error_description":"internal error"}`},
		{name: "too large",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/octet-stream")
				chunk := make([]byte, 1<<20)
				for range 7 {
					_, _ = w.Write(chunk)
				}
			},
			status: 500, body: `{"status":"failure","error":"internal_error","error_description":"the response of POST /echo/post is too large for AWS Lambda"}`},
		{name: "large after base64",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/octet-stream")
				_, _ = w.Write(make([]byte, 5<<20)) // fits raw, not base64-encoded
			},
			status: 500, body: `{"status":"failure","error":"internal_error","error_description":"the response of POST /echo/post is too large for AWS Lambda"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &lambda.Handler{HTTP: tc.handler, Logger: quiet}
			payload := fixture(t, "apigw-post-json.json")
			payload = []byte(strings.Replace(string(payload), `"rawPath": "/auth/github/pat"`, `"rawPath": "/echo/post"`, 1))
			resp := invokeHTTP(t, h, payload)
			if resp.StatusCode != tc.status || resp.IsBase64Encoded != tc.base64 || string(body(t, resp)) != tc.body {
				t.Errorf("got %d base64=%v %q, want %d base64=%v %q", resp.StatusCode, resp.IsBase64Encoded,
					truncate(string(body(t, resp))), tc.status, tc.base64, truncate(tc.body))
			}
			for k, v := range tc.headers {
				if resp.Headers[k] != v {
					t.Errorf("header %s = %q, want %q", k, resp.Headers[k], v)
				}
			}
			for _, k := range tc.noHeaders {
				if _, ok := resp.Headers[k]; ok {
					t.Errorf("header %s was sent", k)
				}
			}
		})
	}
}

func truncate(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

func TestMalformedEvents(t *testing.T) {
	called := false
	h := &lambda.Handler{HTTP: http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true }),
		Destroy:   func(context.Context, string, time.Time) error { called = true; return nil },
		Reconcile: func(context.Context) error { called = true; return nil },
		Logger:    quiet}
	for name, payload := range map[string]string{
		"empty":                 ``,
		"not JSON":              `hello`,
		"array":                 `[]`,
		"string":                `"destroy"`,
		"null":                  `null`,
		"empty object":          `{}`,
		"truncated":             `{"version":"2.0","requestContext":{"http":{"method":"GET"`,
		"unknown action":        `{"action":"explode"}`,
		"empty action":          `{"action":""}`,
		"action not a string":   `{"action":7}`,
		"destroy, no cluster":   `{"action":"destroy","at":"2030-01-01T00:00:00Z"}`,
		"destroy, no time":      `{"action":"destroy","cluster":"abc"}`,
		"destroy, bad time":     `{"action":"destroy","cluster":"abc","at":"tomorrow"}`,
		"REST API (1.0)":        `{"resource":"/","path":"/","httpMethod":"GET","headers":{},"requestContext":{}}`,
		"2.0 without method":    `{"version":"2.0","rawPath":"/","requestContext":{"http":{}}}`,
		"2.0 bad base64":        `{"version":"2.0","rawPath":"/","requestContext":{"http":{"method":"POST"}},"body":"%%%","isBase64Encoded":true}`,
		"2.0 relative path":     `{"version":"2.0","rawPath":"healthz","requestContext":{"http":{"method":"GET"}}}`,
		"2.0 bad method":        `{"version":"2.0","rawPath":"/","requestContext":{"http":{"method":"G T"}}}`,
		"EventBridge rule":      `{"version":"0","id":"1","detail-type":"Scheduled Event","source":"aws.events","detail":{}}`,
		"SQS":                   `{"Records":[{"messageId":"1","body":"{}","eventSource":"aws:sqs"}]}`,
		"2.0 headers not a map": `{"version":"2.0","rawPath":"/","headers":[],"requestContext":{"http":{"method":"GET"}}}`,
	} {
		if out, err := h.Invoke(bg, []byte(payload)); err == nil {
			t.Errorf("%s: Invoke succeeded: %s", name, out)
		}
	}
	if called {
		t.Error("a malformed event reached a handler")
	}

	// Events of a kind the Handler was not given a function for.
	empty := &lambda.Handler{Logger: quiet}
	for _, p := range [][]byte{fixture(t, "apigw-post-json.json"), []byte(`{"action":"reconcile"}`),
		[]byte(`{"action":"destroy","cluster":"abc","at":"2030-01-01T00:00:00Z"}`)} {
		if _, err := empty.Invoke(bg, p); err == nil {
			t.Errorf("Invoke(%.40s) without a handler succeeded", p)
		}
	}
}

func TestKind(t *testing.T) {
	for _, tc := range []struct{ payload, kind string }{
		{string(fixture(t, "apigw-get-query-cookies.json")), lambda.KindHTTP},
		{`{"action":"reconcile"}`, lambda.KindScheduler},
		{`{"action":"destroy","cluster":"a","at":"2030-01-01T00:00:00Z"}`, lambda.KindScheduler},
	} {
		if k, err := lambda.Kind([]byte(tc.payload)); err != nil || k != tc.kind {
			t.Errorf("Kind(%.40s) = %q, %v; want %q", tc.payload, k, err, tc.kind)
		}
	}
}

func TestDetect(t *testing.T) {
	t.Setenv(lambda.EnvRuntimeAPI, "")
	if lambda.Detect() {
		t.Error("Detect without AWS_LAMBDA_RUNTIME_API")
	}
	t.Setenv(lambda.EnvRuntimeAPI, "127.0.0.1:9001")
	if !lambda.Detect() {
		t.Error("no Detect with AWS_LAMBDA_RUNTIME_API")
	}
}
