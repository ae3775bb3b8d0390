package http

import (
	"net/http"

	"provisioner/jwt"
)

// jwks publishes every key that may verify a live token, so gateways can
// follow a rotation without restart.
func (s *Server) jwks(w http.ResponseWriter, r *http.Request) {
	keys, err := s.keys.PublicKeys(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	b, err := jwt.MarshalJWKS(keys)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	// Short caching: rotation must show up within a minute.
	w.Header().Set("Cache-Control", "public, max-age=60")
	_, _ = w.Write(b)
}

func (s *Server) openidConfiguration(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=3600")
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                s.issuer,
		"jwks_uri":                              s.issuer + "/.well-known/jwks.json",
		"id_token_signing_alg_values_supported": []string{"ES256", "RS256"},
		"response_types_supported":              []string{"token"},
		"subject_types_supported":               []string{"public"},
		"claims_supported":                      []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "uid", "level", "org"},
	})
}
