package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"
)

// asymmetricAlgs are the algorithms an Actions token may use; HS* and
// "none" never verify, whatever the discovery document claims.
var asymmetricAlgs = map[string]bool{
	oidc.RS256: true, oidc.RS384: true, oidc.RS512: true,
	oidc.ES256: true, oidc.ES384: true, oidc.ES512: true,
	oidc.PS256: true, oidc.PS384: true, oidc.PS512: true,
	oidc.EdDSA: true,
}

// actionsVerifier returns the cached verifier, discovering the issuer first
// if needed. A failed discovery is not cached.
func (p *Provider) actionsVerifier(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	if v := p.actions.verifier.Load(); v != nil {
		return v, nil
	}
	select {
	case p.actions.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, issuerUnreachable(ctx.Err())
	}
	defer func() { <-p.actions.sem }()
	if v := p.actions.verifier.Load(); v != nil {
		return v, nil
	}

	hc := p.oidcClient()
	prov, err := oidc.NewProvider(oidc.ClientContext(ctx, hc), p.cfg.ActionsIssuer)
	if err != nil {
		return nil, issuerUnreachable(err)
	}
	var meta struct {
		JWKSURL string   `json:"jwks_uri"`
		Algs    []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := prov.Claims(&meta); err != nil || meta.JWKSURL == "" {
		return nil, issuerUnreachable(fmt.Errorf("discovery document without jwks_uri: %v", err))
	}
	var algs []string
	for _, a := range meta.Algs {
		if asymmetricAlgs[a] {
			algs = append(algs, a)
		}
	}
	if len(algs) == 0 {
		algs = []string{oidc.RS256} // what GitHub uses
	}
	// The key set outlives this login, so it gets a context of its own.
	keys := keySet{oidc.NewRemoteKeySet(oidc.ClientContext(context.Background(), hc), meta.JWKSURL)}
	v := oidc.NewVerifier(p.cfg.ActionsIssuer, keys, &oidc.Config{
		ClientID:             p.cfg.ActionsAudience,
		SupportedSigningAlgs: algs,
	})
	p.actions.verifier.Store(v)
	return v, nil
}

// oidcClient bounds every request with Timeout, because go-oidc refreshes
// the JWKS in a goroutine that no login's context cancels.
func (p *Provider) oidcClient() *http.Client {
	c := *p.client
	if c.Timeout == 0 || c.Timeout > p.cfg.Timeout {
		c.Timeout = p.cfg.Timeout
	}
	return &c
}

// fetchErrKey carries a *error through go-oidc's Verify, so that keySet can
// report that the JWKS could not be fetched: go-oidc flattens the cause into
// text, and "issuer down" must not read as "forged token".
type fetchErrKey struct{}

type keySet struct{ remote *oidc.RemoteKeySet }

func (k keySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	payload, err := k.remote.VerifySignature(ctx, jwt)
	if err != nil && keyFetchFailed(ctx, err) {
		if p, ok := ctx.Value(fetchErrKey{}).(*error); ok {
			*p = err
		}
	}
	return payload, err
}

func keyFetchFailed(ctx context.Context, err error) bool {
	var ue *url.Error
	if ctx.Err() != nil || errors.As(err, &ue) {
		return true
	}
	// Non-200 and undecodable JWKS answers carry no type, only this text.
	msg := err.Error()
	return strings.Contains(msg, "get keys failed") || strings.Contains(msg, "failed to decode keys")
}
