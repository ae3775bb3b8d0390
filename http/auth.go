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

// devicePoll answers a device-flow poll. The released Python client
// (5.7.0) stops polling only on "success", its own timeout or an exception;
// on status "error" it logs the error and polls again at once, on anything
// else it sleeps the interval silently. So: throttling (ours: the login
// limits and the device code's interval; GitHub's) is "pending" slow_down
// with the interval to wait, "not yet" is "pending" authorization_pending
// (202), never a 429 or an "error", and a terminal
// error (expired, denied, ...) is status "error" with its code and text, so
// the client logs why, held back by the device pace before it is sent, so
// the client's immediate re-poll cannot spin.
func (s *Server) devicePoll() http.HandlerFunc {
	type request struct {
		DeviceCode string `json:"device_code"`
	}
	return endpoint(s, false, false, func(r *http.Request, c app.Caller, req request) (any, error) {
		l, err := s.app.PollDevice(r.Context(), c.Source, req.DeviceCode)
		var e *provisioner.Error
		if errors.As(err, &e) && (e.Code == provisioner.EPENDING || e.Code == provisioner.ESLOWDOWN || e.Code == provisioner.ERATELIMITED) {
			interval := int((e.RetryAfter + time.Second - 1) / time.Second)
			if interval < 1 {
				interval = 5
			}
			code := e.Code
			if code == provisioner.ERATELIMITED {
				code = provisioner.ESLOWDOWN // the spec's and GitHub's word for "wait longer"
			}
			return reply{http.StatusAccepted, api.Pending{Status: "pending", Error: code, Interval: interval}}, nil
		}
		if err != nil && provisioner.ErrorCode(err) != provisioner.EINVALID {
			code := provisioner.ErrorCode(err)
			status := api.StatusFor(code)
			if status == http.StatusInternalServerError {
				return nil, err // logged and answered as every internal error
			}
			select {
			case <-time.After(s.devicePace):
			case <-r.Context().Done():
			case <-app.Draining(r.Context()):
			}
			return reply{status, api.Error{Status: "error", Error: code, Description: provisioner.ErrorMessage(err)}}, nil
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
