package http

import (
	"crypto/x509"
	"encoding/pem"
	"net/http"

	"provisioner"
	"provisioner/api"
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
	api.WriteJSON(w, http.StatusOK, map[string]any{
		"issuer":                                s.issuer,
		"jwks_uri":                              s.issuer + "/.well-known/jwks.json",
		"id_token_signing_alg_values_supported": []string{jwt.AlgRS256},
		"response_types_supported":              []string{"token"},
		"subject_types_supported":               []string{"public"},
		"claims_supported":                      []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "uid", "level", "org", "org_roles"},
	})
}

// pem serves the public key that signs new tokens as a bare PEM body, as
// production's login service does: a cluster's load balancer downloads it at
// boot (and, in our clusters, again on a timer) to check tokens itself. The
// key set lists the signing key first.
func (s *Server) pem(w http.ResponseWriter, r *http.Request) {
	keys, err := s.keys.PublicKeys(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if len(keys) == 0 {
		s.fail(w, r, provisioner.Errorf(provisioner.EUNAVAILABLE, "no signing key"))
		return
	}
	der, err := x509.MarshalPKIXPublicKey(keys[0].Key)
	if err != nil {
		s.fail(w, r, provisioner.Wrap(provisioner.EINTERNAL, err, "cannot encode the signing key"))
		return
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Header().Set("Cache-Control", "public, max-age=60")
	w.Header().Set("X-Key-Id", keys[0].ID)
	_, _ = w.Write(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}
