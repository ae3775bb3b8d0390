package http

import (
	"errors"
	"net/http"
	"time"

	"provisioner"
	"provisioner/app"
)

// loginResponse is what the SlideRule Python client reads after a login:
// it keeps "token" and uses metadata.exp (Unix seconds) to plan a refresh.
type loginResponse struct {
	Status   string        `json:"status"`
	Token    string        `json:"token"`
	Metadata tokenMetadata `json:"metadata"`
}

type tokenMetadata struct {
	Subject   string `json:"sub"`
	UID       int64  `json:"uid"`
	Level     string `json:"level"`
	Org       string `json:"org,omitempty"`
	Issuer    string `json:"iss"`
	Audience  string `json:"aud"`
	IssuedAt  int64  `json:"iat"`
	NotBefore int64  `json:"nbf"`
	ExpiresAt int64  `json:"exp"`
	ID        string `json:"jti"`
}

func metadata(c provisioner.Claims) tokenMetadata {
	return tokenMetadata{Subject: c.Subject, UID: c.UID, Level: c.Level.String(), Org: c.Org,
		Issuer: c.Issuer, Audience: c.Audience, IssuedAt: c.IssuedAt.Unix(),
		NotBefore: c.NotBefore.Unix(), ExpiresAt: c.ExpiresAt.Unix(), ID: c.ID}
}

func (s *Server) writeLogin(w http.ResponseWriter, r *http.Request, l app.Login, err error) {
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, loginResponse{Status: "success", Token: l.Token, Metadata: metadata(l.Claims)})
}

func (s *Server) loginPAT(w http.ResponseWriter, r *http.Request) {
	var req struct {
		PAT string `json:"pat"`
	}
	if err := s.decode(w, r, &req, false); err != nil {
		s.fail(w, r, err)
		return
	}
	l, err := s.app.LoginToken(r.Context(), s.source(r), req.PAT)
	s.writeLogin(w, r, l, err)
}

type deviceResponse struct {
	Status string `json:"status"`
	provisioner.DeviceCode
}

// deviceStart takes no body: the Python client posts none.
func (s *Server) deviceStart(w http.ResponseWriter, r *http.Request) {
	var req struct{}
	if err := s.decode(w, r, &req, true); err != nil {
		s.fail(w, r, err)
		return
	}
	d, err := s.app.StartDevice(r.Context(), s.source(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if d.VerificationURIComplete == "" && d.VerificationURI != "" {
		d.VerificationURIComplete = d.VerificationURI
	}
	writeJSON(w, http.StatusOK, deviceResponse{Status: "success", DeviceCode: d})
}

type pendingResponse struct {
	Status   string `json:"status"` // "pending"
	Error    string `json:"error"`  // authorization_pending or slow_down
	Interval int    `json:"interval"`
}

func (s *Server) devicePoll(w http.ResponseWriter, r *http.Request) {
	var req struct {
		DeviceCode string `json:"device_code"`
	}
	if err := s.decode(w, r, &req, false); err != nil {
		s.fail(w, r, err)
		return
	}
	l, err := s.app.PollDevice(r.Context(), s.source(r), req.DeviceCode)
	var e *provisioner.Error
	if errors.As(err, &e) && (e.Code == provisioner.EPENDING || e.Code == provisioner.ESLOWDOWN) {
		interval := int(e.RetryAfter / time.Second)
		if interval < 1 {
			interval = 5
		}
		writeJSON(w, http.StatusAccepted, pendingResponse{Status: "pending", Error: e.Code, Interval: interval})
		return
	}
	s.writeLogin(w, r, l, err)
}

func (s *Server) loginActions(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Token string `json:"token"`
	}
	if err := s.decode(w, r, &req, false); err != nil {
		s.fail(w, r, err)
		return
	}
	l, err := s.app.LoginActions(r.Context(), s.source(r), req.Token)
	s.writeLogin(w, r, l, err)
}

// whoami answers with the verified claims of the caller's jwt_user.
func (s *Server) whoami(w http.ResponseWriter, r *http.Request) {
	tok, err := bearer(r)
	if err == nil && tok == "" {
		err = provisioner.Errorf(provisioner.EUNAUTHORIZED, "no token: log in first")
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	c, err := s.app.Whoami(r.Context(), tok)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Status   string        `json:"status"`
		Metadata tokenMetadata `json:"metadata"`
	}{"success", metadata(c)})
}
