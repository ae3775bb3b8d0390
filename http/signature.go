package http

import (
	"bytes"
	"io"
	"net/http"

	"provisioner"
	"provisioner/signature"
)

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
		if !signature.Covers(r.Method, r.URL.Path) {
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
