package http

import (
	"errors"
	"net/http"
	"time"

	"provisioner"
	"provisioner/api"
	"provisioner/app"
)

func loginReply(l app.Login, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return api.Login{Status: "success", Token: l.Token, Metadata: api.MetadataOf(l.Claims)}, nil
}

func (s *Server) loginPAT() http.HandlerFunc {
	type request struct {
		PAT string `json:"pat"`
	}
	return endpoint(s, false, false, func(r *http.Request, c app.Caller, req request) (any, error) {
		return loginReply(s.app.LoginToken(r.Context(), c.Source, req.PAT))
	})
}

// deviceStart takes no body: the Python client posts none.
func (s *Server) deviceStart() http.HandlerFunc {
	return endpoint(s, false, true, func(r *http.Request, c app.Caller, _ none) (any, error) {
		d, err := s.app.StartDevice(r.Context(), c.Source)
		if err != nil {
			return nil, err
		}
		if d.VerificationURIComplete == "" && d.VerificationURI != "" {
			d.VerificationURIComplete = d.VerificationURI
		}
		return api.Device{Status: "success", DeviceCode: d}, nil
	})
}

func (s *Server) devicePoll() http.HandlerFunc {
	type request struct {
		DeviceCode string `json:"device_code"`
	}
	return endpoint(s, false, false, func(r *http.Request, c app.Caller, req request) (any, error) {
		l, err := s.app.PollDevice(r.Context(), c.Source, req.DeviceCode)
		var e *provisioner.Error
		if errors.As(err, &e) && (e.Code == provisioner.EPENDING || e.Code == provisioner.ESLOWDOWN) {
			interval := int(e.RetryAfter / time.Second)
			if interval < 1 {
				interval = 5
			}
			return reply{http.StatusAccepted, api.Pending{Status: "pending", Error: e.Code, Interval: interval}}, nil
		}
		return loginReply(l, err)
	})
}

func (s *Server) loginActions() http.HandlerFunc {
	type request struct {
		Token string `json:"token"`
	}
	return endpoint(s, false, false, func(r *http.Request, c app.Caller, req request) (any, error) {
		return loginReply(s.app.LoginActions(r.Context(), c.Source, req.Token))
	})
}

// whoami answers with the verified claims of the caller's jwt_user.
func (s *Server) whoami() http.HandlerFunc {
	return endpoint(s, false, false, func(r *http.Request, _ app.Caller, _ none) (any, error) {
		tok, err := bearer(r)
		if err == nil && tok == "" {
			err = provisioner.Errorf(provisioner.EUNAUTHORIZED, "no token: log in first")
		}
		if err != nil {
			return nil, err
		}
		c, err := s.app.Whoami(r.Context(), tok)
		if err != nil {
			return nil, err
		}
		return api.Whoami{Status: "success", Metadata: api.MetadataOf(c)}, nil
	})
}
