package http

import (
	"net/http"
	"time"

	"provisioner"
	"provisioner/app"
)

// logout revokes the caller's session (POST /auth/logout).
func (s *Server) logout() http.HandlerFunc {
	return endpoint(s, true, true, func(r *http.Request, c app.Caller, _ none) (any, error) {
		if err := s.app.Logout(r.Context(), c); err != nil {
			return nil, err
		}
		return map[string]any{"status": "success"}, nil
	})
}

// revokeUser is an admin's POST /users/{login}/revoke.
func (s *Server) revokeUser() http.HandlerFunc {
	return endpoint(s, true, true, func(r *http.Request, c app.Caller, _ none) (any, error) {
		n, err := s.app.RevokeUser(r.Context(), c, r.PathValue("login"))
		if err != nil {
			return nil, err
		}
		return map[string]any{"status": "success", "revoked": n}, nil
	})
}

// userSessions is GET /users/{login}/sessions: the user's own, or an admin's view.
func (s *Server) userSessions() http.HandlerFunc {
	return endpoint(s, true, false, func(r *http.Request, c app.Caller, _ none) (any, error) {
		list, err := s.app.Sessions(r.Context(), c, r.PathValue("login"))
		if err != nil {
			return nil, err
		}
		return map[string]any{"status": "success", "sessions": list}, nil
	})
}

// revocations is the public feed gateways poll: GET /auth/revocations?since=.
func (s *Server) revocations() http.HandlerFunc {
	return endpoint(s, false, false, func(r *http.Request, _ app.Caller, _ none) (any, error) {
		var since time.Time
		if v := r.URL.Query().Get("since"); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return nil, provisioner.Errorf(provisioner.EINVALID, "since must be an RFC 3339 time")
			}
			since = t
		}
		feed, err := s.app.RevocationFeed(r.Context(), since)
		if err != nil {
			return nil, err
		}
		return struct {
			Status string `json:"status"`
			app.Revocations
		}{"success", feed}, nil
	})
}
