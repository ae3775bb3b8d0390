package http

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"provisioner"
	"provisioner/api"
)

// fail writes err as a JSON error. Internal errors are logged with their
// cause and answered with a bare "internal error".
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := provisioner.ErrorCode(err)
	status := api.StatusFor(code)
	switch {
	case code == provisioner.ESTORAGEFULL || code == provisioner.ESTORAGECORRUPT:
		// The code tells the caller; the cause (disk full, which page) is for the operator.
		s.log.Error("storage failure", "method", r.Method, "path", r.URL.Path, "code", code, "err", err)
	case status == http.StatusInternalServerError:
		s.log.Error("internal error", "method", r.Method, "path", r.URL.Path, "err", err)
		code = provisioner.EINTERNAL
	case status == http.StatusServiceUnavailable:
		s.log.Warn("upstream unavailable", "path", r.URL.Path, "err", err)
	}
	api.WriteError(w, status, code, provisioner.ErrorMessage(err), provisioner.RetryAfter(err), "provisioner")
}

// decode reads a JSON request body into v: bounded in size, strict about
// unknown fields and trailing data. The body is read as JSON whatever its
// Content-Type says: the SlideRule Python client sends none, and production's
// workflows post JSON with curl -d, which labels it a form. What is not JSON
// is still refused (400). An empty body decodes to v's zero value only when
// optional is set.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any, optional bool) error {
	body := http.MaxBytesReader(w, r.Body, s.maxBody)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if errors.Is(err, io.EOF) {
		if optional {
			return nil
		}
		return provisioner.Errorf(provisioner.EINVALID, "request body is required (JSON)")
	}
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			if errors.As(terr, new(*http.MaxBytesError)) {
				err = terr
			} else {
				return provisioner.Errorf(provisioner.EINVALID, "request body must hold exactly one JSON object")
			}
		}
	}
	if err == nil {
		return nil
	}
	var tooBig *http.MaxBytesError
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &tooBig):
		return provisioner.Errorf(provisioner.ETOOLARGE, "request body is larger than %d bytes", tooBig.Limit)
	case errors.As(err, &syn):
		return provisioner.Errorf(provisioner.EINVALID, "malformed JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return provisioner.Errorf(provisioner.EINVALID, "field %q must be %s", typ.Field, typ.Type)
		}
		return provisioner.Errorf(provisioner.EINVALID, "request body must be a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return provisioner.Errorf(provisioner.EINVALID, "truncated JSON body")
	default:
		// Unknown fields and invalid values (e.g. a bad level) land here.
		return provisioner.Errorf(provisioner.EINVALID, "invalid request body: %s", err.Error())
	}
}
