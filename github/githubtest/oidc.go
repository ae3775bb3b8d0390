package githubtest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// issuerPath is where the fake serves its Actions OIDC issuer; GitHub
// Enterprise Server uses the same path.
const issuerPath = "/_services/token"

// KeyID is the "kid" of the issuer's signing key (and of forged tokens).
const KeyID = "githubtest-actions"

// The keys are shared by every Server of a test binary: RSA key generation
// is slow, and tests never need servers to distrust each other.
var keys = sync.OnceValue(func() [2]*rsa.PrivateKey {
	var k [2]*rsa.PrivateKey
	for i := range k {
		var err error
		if k[i], err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	}
	return k
})

// IssuerURL is the Actions OIDC issuer ("iss"), whose discovery document is
// at IssuerURL()+"/.well-known/openid-configuration".
func (s *Server) IssuerURL() string { return s.srv.URL + issuerPath }

// ActionsClaims returns the claims GitHub puts in an Actions ID token for a
// scheduled run of workflow file (e.g. "nightly.yml") of repository
// ("owner/name") at ref (e.g. "refs/heads/main"), requested for audience.
// Change or delete (set to nil) entries before passing them to
// IssueActionsToken.
func ActionsClaims(audience, repository, ref, workflow string) map[string]any {
	owner, _, _ := strings.Cut(repository, "/")
	wref := repository + "/.github/workflows/" + workflow + "@" + ref
	return map[string]any{
		"aud":                   audience,
		"sub":                   "repo:" + repository + ":ref:" + ref,
		"repository":            repository,
		"repository_id":         "123456789",
		"repository_owner":      owner,
		"repository_owner_id":   "987654",
		"repository_visibility": "public",
		"ref":                   ref,
		"ref_type":              "branch",
		"workflow":              workflow,
		"workflow_ref":          wref,
		"job_workflow_ref":      wref,
		"event_name":            "schedule",
		"actor":                 "github-actions[bot]",
		"run_id":                "1",
		"runner_environment":    "github-hosted",
	}
}

// IssueActionsToken returns an RS256 ID token signed by the issuer's key.
// "iss", "iat", "nbf", "exp" (in 5 minutes) and "jti" are filled in unless
// claims sets them; a claim set to nil is left out.
func (s *Server) IssueActionsToken(claims map[string]any) string {
	return s.sign(keys()[0], claims)
}

// ForgeActionsToken is IssueActionsToken with a key the issuer does not
// publish, under the issuer's key id: a forgery that must be refused.
func (s *Server) ForgeActionsToken(claims map[string]any) string {
	return s.sign(keys()[1], claims)
}

func (s *Server) sign(key *rsa.PrivateKey, claims map[string]any) string {
	now := time.Now()
	c := map[string]any{
		"iss": s.IssuerURL(),
		"iat": now.Unix(),
		"nbf": now.Add(-10 * time.Second).Unix(),
		"exp": now.Add(5 * time.Minute).Unix(),
		"jti": rand.Text(),
	}
	for k, v := range claims {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	payload, err := json.Marshal(c)
	if err != nil {
		panic(err)
	}
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: KeyID}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		panic(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		panic(err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		panic(err)
	}
	return tok
}

// serveIssuer answers the discovery document and the JWKS.
func (s *Server) serveIssuer(w http.ResponseWriter, r *http.Request, path string) {
	iss := s.IssuerURL()
	switch {
	case r.Method != http.MethodGet:
		notFound(w)
	case path == "/.well-known/openid-configuration":
		writeJSON(w, http.StatusOK, map[string]any{
			"issuer":                                iss,
			"jwks_uri":                              iss + "/.well-known/jwks",
			"subject_types_supported":               []string{"public", "pairwise"},
			"response_types_supported":              []string{"id_token"},
			"claims_supported":                      []string{"sub", "aud", "exp", "iat", "iss", "jti", "nbf", "ref", "repository", "repository_id", "repository_owner", "workflow_ref", "job_workflow_ref", "event_name"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
			"scopes_supported":                      []string{"openid"},
		})
	case path == "/.well-known/jwks":
		writeJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{
			Key: &keys()[0].PublicKey, KeyID: KeyID, Algorithm: string(jose.RS256), Use: "sig",
		}}})
	default:
		notFound(w)
	}
}
