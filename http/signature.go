package http

import (
	"bytes"
	"io"
	"net/http"
	"strings"

	"provisioner"
	"provisioner/signature"
)

// signedPaths are the state-changing provisioner calls, each also with a
// per-user suffix (production's /deploy/{username} and the like): the
// calls a signature policy covers. Production's verify_signature covers
// every call of an owner; reading calls (status, events, reports) stay
// token-only here so that dashboards and curl keep working.
var signedPaths = []string{"/deploy", "/extend", "/destroy", "/schedule_destroy", "/test", "/release"}

func needsSignature(r *http.Request) bool {
	if r.Method != http.MethodPost {
		return false
	}
	for _, p := range signedPaths {
		if r.URL.Path == p || strings.HasPrefix(r.URL.Path, p+"/") {
			return true
		}
	}
	return false
}

// signed checks request signatures before next under the configured
// policy: a caller the policy covers must sign a state-changing call. The
// message is rebuilt from the request as received: the Host header (the
// name the client addressed), the raw path and the exact body. Callers
// whose token fails, and callers the policy does not cover, go on to next
// unchanged (next answers a bad token itself).
func (s *Server) signed(next http.Handler) http.Handler {
	v := s.signatures
	if v == nil || v.Policy == provisioner.SignaturesOff || v.Policy == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !needsSignature(r) {
			next.ServeHTTP(w, r)
			return
		}
		c, err := s.caller(r)
		if err != nil || !v.Policy.Requires(c.User) {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, s.maxBody+1))
		if err != nil {
			s.fail(w, r, provisioner.Errorf(provisioner.EINVALID, "reading the request body: %v", err))
			return
		}
		if int64(len(body)) > s.maxBody {
			s.fail(w, r, provisioner.Errorf(provisioner.ETOOLARGE, "request body is larger than %d bytes", s.maxBody))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		err = v.Verify(r.Context(), signature.Request{Login: c.User.Login, Host: r.Host, Path: r.URL.EscapedPath(),
			Timestamp: r.Header.Get(signature.HeaderTimestamp), Signature: r.Header.Get(signature.HeaderSignature), Body: body})
		if err != nil {
			s.log.Warn("signature refused", "login", c.User.Login, "path", r.URL.Path, "host", r.Host,
				"source", c.Source, "err", err)
			s.fail(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}
