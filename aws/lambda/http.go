package lambda

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// HeaderRequestID carries API Gateway's request id to the handler. A value
// the client sent is replaced: only API Gateway's is believed.
const HeaderRequestID = "X-Request-Id"

// maxResponse is what a synchronous Lambda invocation may return (6 MB),
// less room for the JSON envelope.
const maxResponse = 6<<20 - 16<<10

// NewRequest turns an API Gateway HTTP API (payload format 2.0) event into
// the request a net/http handler expects: method, raw path and query,
// headers and cookies, the body (decoded when API Gateway base64-encoded
// it), and the client address API Gateway saw as RemoteAddr (so the
// server's audit records the client, not a spoofable X-Forwarded-For).
func NewRequest(ctx context.Context, e *events.APIGatewayV2HTTPRequest) (*http.Request, error) {
	method := e.RequestContext.HTTP.Method
	if method == "" {
		return nil, errors.New("lambda: HTTP event without requestContext.http.method")
	}
	rawPath := e.RawPath
	if rawPath == "" {
		rawPath = e.RequestContext.HTTP.Path
	}
	if rawPath == "" {
		rawPath = "/"
	}
	if !strings.HasPrefix(rawPath, "/") {
		return nil, fmt.Errorf("lambda: HTTP event path %q does not start with /", rawPath)
	}
	uri := rawPath
	if e.RawQueryString != "" {
		uri += "?" + e.RawQueryString
	}
	u, err := url.ParseRequestURI(uri)
	if err != nil {
		// A path API Gateway passed decoded (a literal "%", say): keep it as is.
		u = &url.URL{Path: rawPath, RawQuery: e.RawQueryString}
	}

	var body []byte
	if e.Body != "" {
		if e.IsBase64Encoded {
			if body, err = base64.StdEncoding.DecodeString(e.Body); err != nil {
				return nil, fmt.Errorf("lambda: HTTP event body is not valid base64: %w", err)
			}
		} else {
			body = []byte(e.Body)
		}
	}

	r, err := http.NewRequestWithContext(ctx, method, "/", bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("lambda: HTTP event: %w", err)
	}
	r.URL = u
	r.RequestURI = uri
	if proto := e.RequestContext.HTTP.Protocol; proto != "" {
		if major, minor, ok := http.ParseHTTPVersion(proto); ok {
			r.Proto, r.ProtoMajor, r.ProtoMinor = proto, major, minor
		}
	}
	for k, v := range e.Headers {
		r.Header[http.CanonicalHeaderKey(k)] = []string{v}
	}
	// Payload 2.0 moves the Cookie header into "cookies".
	if len(e.Cookies) > 0 {
		r.Header.Set("Cookie", strings.Join(e.Cookies, "; "))
	}
	r.Header.Del(HeaderRequestID)
	if id := e.RequestContext.RequestID; id != "" {
		r.Header.Set(HeaderRequestID, id)
	}
	r.ContentLength = int64(len(body))
	if len(body) == 0 {
		r.Body = http.NoBody
	}
	r.Header.Del("Content-Length")
	if len(body) > 0 {
		r.Header.Set("Content-Length", fmt.Sprint(len(body)))
	}
	r.Host = r.Header.Get("Host")
	if r.Host == "" {
		r.Host = e.RequestContext.DomainName
	}
	r.Header.Del("Host")
	if ip := e.RequestContext.HTTP.SourceIP; ip != "" {
		r.RemoteAddr = net.JoinHostPort(ip, "0")
	}
	return r, nil
}

// NewResponse turns what a handler wrote into an API Gateway HTTP API
// (payload format 2.0) response: Set-Cookie headers become "cookies", other
// repeated headers are joined with commas, and a body that is not UTF-8
// text is base64-encoded.
func NewResponse(status int, header http.Header, body []byte) events.APIGatewayV2HTTPResponse {
	if status == 0 {
		status = http.StatusOK
	}
	resp := events.APIGatewayV2HTTPResponse{StatusCode: status, Headers: map[string]string{}}
	if len(body) > 0 && header.Get("Content-Type") == "" && !bodyless(status) {
		header = header.Clone()
		header.Set("Content-Type", http.DetectContentType(body))
	}
	for k, vs := range header {
		if len(vs) == 0 {
			continue
		}
		if http.CanonicalHeaderKey(k) == "Set-Cookie" {
			resp.Cookies = append(resp.Cookies, vs...)
			continue
		}
		resp.Headers[k] = strings.Join(vs, ",")
	}
	if len(body) > 0 {
		if binary(header, body) {
			resp.Body, resp.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
		} else {
			resp.Body = string(body)
		}
	}
	return resp
}

func bodyless(status int) bool {
	return status == http.StatusNoContent || status == http.StatusNotModified || status < 200
}

// binary reports whether body must travel base64-encoded: anything but
// valid UTF-8 in a textual media type without a content encoding.
func binary(h http.Header, body []byte) bool {
	if ce := h.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		return true
	}
	if !utf8.Valid(body) {
		return true
	}
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		return true
	}
	switch {
	case strings.HasPrefix(mt, "text/"),
		strings.HasSuffix(mt, "+json"), strings.HasSuffix(mt, "+xml"), strings.HasSuffix(mt, "+yaml"),
		mt == "application/json", mt == "application/xml", mt == "application/yaml",
		mt == "application/javascript", mt == "application/x-www-form-urlencoded",
		mt == "application/x-ndjson", mt == "application/jwk-set+json":
		return false
	}
	return true
}

// serveHTTP runs one API Gateway request through h.HTTP.
func (h *Handler) serveHTTP(ctx context.Context, payload []byte) ([]byte, error) {
	var e events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(payload, &e); err != nil {
		return nil, fmt.Errorf("lambda: HTTP event: %w", err)
	}
	if h.HTTP == nil {
		return nil, errors.New("lambda: HTTP events are not handled by this function")
	}
	r, err := NewRequest(ctx, &e)
	if err != nil {
		return nil, err
	}
	w := newRecorder()
	h.run(w, r)
	var resp events.APIGatewayV2HTTPResponse
	if w.overflow {
		resp = tooLarge(r)
	} else {
		resp = NewResponse(w.status, w.sent(), w.body.Bytes())
	}
	out, err := marshalResponse(resp)
	if err == nil && len(out) > maxResponse {
		out, err = marshalResponse(tooLarge(r))
	}
	return out, err
}

// marshalResponse writes exactly the fields of the payload 2.0 response
// format (the events type would add "multiValueHeaders": null, a 1.0 field).
func marshalResponse(r events.APIGatewayV2HTTPResponse) ([]byte, error) {
	return json.Marshal(struct {
		StatusCode      int               `json:"statusCode"`
		Headers         map[string]string `json:"headers,omitempty"`
		Cookies         []string          `json:"cookies,omitempty"`
		Body            string            `json:"body"`
		IsBase64Encoded bool              `json:"isBase64Encoded"`
	}{r.StatusCode, r.Headers, r.Cookies, r.Body, r.IsBase64Encoded})
}

// run serves r, answering a panic the handler did not recover with a 500.
func (h *Handler) run(w *recorder, r *http.Request) {
	defer func() {
		if p := recover(); p != nil {
			h.log().Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", p,
				"stack", string(debug.Stack()))
			if !w.wrote {
				w.header = http.Header{"Content-Type": {"application/json"}}
				w.WriteHeader(http.StatusInternalServerError)
				_, _ = w.Write([]byte(`{"status":"failure","error":"internal_error","error_description":"internal error"}`))
			}
		}
	}()
	h.HTTP.ServeHTTP(w, r)
}

func tooLarge(r *http.Request) events.APIGatewayV2HTTPResponse {
	return NewResponse(http.StatusInternalServerError, http.Header{"Content-Type": {"application/json"}},
		[]byte(`{"status":"failure","error":"internal_error","error_description":"the response of `+
			jsonSafe(r.Method+" "+r.URL.Path)+` is too large for AWS Lambda"}`))
}

func jsonSafe(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

// recorder is the http.ResponseWriter a Lambda invocation collects the
// response in. It keeps the headers as they were when the status was
// written, like a real connection, and bounds the body it keeps.
type recorder struct {
	header   http.Header
	snapshot http.Header
	status   int
	wrote    bool
	body     bytes.Buffer
	overflow bool
}

func newRecorder() *recorder { return &recorder{header: http.Header{}} }

func (w *recorder) Header() http.Header { return w.header }

func (w *recorder) WriteHeader(code int) {
	if w.wrote || code < 200 { // 1xx are informational, not the response
		return
	}
	w.status, w.wrote = code, true
	w.snapshot = w.header.Clone()
}

func (w *recorder) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.overflow {
		return len(b), nil
	}
	if w.body.Len()+len(b) > maxResponse {
		w.overflow = true
		w.body.Reset()
		return len(b), nil
	}
	return w.body.Write(b)
}

// Flush does nothing: the response goes out when the handler returns.
func (w *recorder) Flush() {}

func (w *recorder) sent() http.Header {
	if w.snapshot != nil {
		return w.snapshot
	}
	return w.header
}
