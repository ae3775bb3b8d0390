package http

import (
	"net/http"

	"provisioner/api"
	"provisioner/app"
)

// reply is a handler's answer with a status other than 200.
type reply struct {
	status int
	body   any
}

// endpoint is how every JSON route is built: decode the body (an empty body
// is the zero Req when optional), authenticate the caller when auth is set,
// run fn, and write its answer (200 unless it returns a reply) or its error.
func endpoint[Req any](s *Server, auth, optional bool, fn func(r *http.Request, c app.Caller, req Req) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c := app.Caller{Source: s.source(r)}
		if auth {
			var err error
			if c, err = s.caller(r); err != nil {
				s.fail(w, r, err)
				return
			}
		}
		var req Req
		if r.Method != http.MethodGet {
			if err := s.decode(w, r, &req, optional); err != nil {
				s.fail(w, r, err)
				return
			}
		}
		out, err := fn(r, c, req)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if rp, ok := out.(reply); ok {
			api.WriteJSON(w, rp.status, rp.body)
			return
		}
		api.WriteJSON(w, http.StatusOK, out)
	}
}

// none is the request type of routes that take no fields.
type none struct{}
