package github

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/coreos/go-oidc/v3/oidc"

	"provisioner"
)

// maxIDTokenLen bounds what is parsed; GitHub's ID tokens are about 2 kB.
const maxIDTokenLen = 16 << 10

// actionsState caches the verifier built from the issuer's discovery
// document. Discovery happens on first use, not in New, so a provisioner
// starts while the issuer is unreachable and retries on the next login.
type actionsState struct {
	sem      chan struct{} // held while discovering; a lock that honours ctx
	verifier atomic.Pointer[oidc.IDTokenVerifier]
}

// actionsClaims are the GitHub Actions claims the provisioner uses.
type actionsClaims struct {
	Repository      string  `json:"repository"`
	RepositoryID    flexInt `json:"repository_id"`
	RepositoryOwner string  `json:"repository_owner"`
	Ref             string  `json:"ref"`
	WorkflowRef     string  `json:"workflow_ref"`
	JobWorkflowRef  string  `json:"job_workflow_ref"`
	EventName       string  `json:"event_name"`
}

// LoginActions verifies a GitHub Actions OIDC ID token (signature by the
// issuer's JWKS, "iss", "aud" = ActionsAudience, "exp", "nbf") from a
// workflow of Config.Org and maps it to a user named "actions:OWNER/REPO",
// with ID the repository id and the level of the first matching rule.
func (p *Provider) LoginActions(ctx context.Context, idToken string) (provisioner.User, error) {
	if p.cfg.ActionsAudience == "" {
		return provisioner.User{}, provisioner.Errorf(provisioner.EINVALID, "GitHub Actions login is not configured: set --actions-audience")
	}
	idToken = strings.TrimSpace(idToken)
	if idToken == "" {
		return provisioner.User{}, provisioner.Errorf(provisioner.EUNAUTHORIZED, "a GitHub Actions ID token is required")
	}
	if len(idToken) > maxIDTokenLen {
		return provisioner.User{}, provisioner.Errorf(provisioner.EUNAUTHORIZED, "malformed GitHub Actions token")
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	v, err := p.actionsVerifier(ctx)
	if err != nil {
		return provisioner.User{}, err
	}
	var fetchErr error
	tok, err := v.Verify(context.WithValue(ctx, fetchErrKey{}, &fetchErr), idToken)
	if err != nil {
		if fetchErr != nil {
			return provisioner.User{}, issuerUnreachable(fetchErr)
		}
		return provisioner.User{}, badActionsToken(err)
	}
	var c actionsClaims
	if err := tok.Claims(&c); err != nil {
		return provisioner.User{}, provisioner.Wrap(provisioner.EUNAUTHORIZED, err, "invalid GitHub Actions token")
	}
	if !strings.EqualFold(c.RepositoryOwner, p.cfg.Org) {
		return provisioner.User{}, provisioner.Errorf(provisioner.EFORBIDDEN,
			"GitHub Actions token of a workflow owned by %q; only workflows of %q may log in", truncate(c.RepositoryOwner, 100), p.cfg.Org)
	}
	// The repository must belong to the owner just checked: rules and the
	// login are keyed by it.
	if owner, name, ok := strings.Cut(c.Repository, "/"); !ok || !strings.EqualFold(owner, c.RepositoryOwner) || !slugRE.MatchString(name) {
		return provisioner.User{}, provisioner.Errorf(provisioner.EUNAUTHORIZED, "GitHub Actions token without a valid repository claim")
	}
	level := levelFor(p.cfg.ActionsRules, workflowClaims{
		Repository:     c.Repository,
		Ref:            c.Ref,
		WorkflowRef:    c.WorkflowRef,
		JobWorkflowRef: c.JobWorkflowRef,
		EventName:      c.EventName,
	})
	return provisioner.User{
		Login: "actions:" + c.Repository,
		ID:    int64(c.RepositoryID),
		Level: level,
		Org:   p.cfg.Org,
		Via:   "actions",
	}, nil
}

func issuerUnreachable(err error) error {
	return provisioner.Wrap(provisioner.EUNAVAILABLE, err, "the GitHub Actions OIDC issuer is unreachable")
}

// badActionsToken explains a failed verification. The messages are chosen
// from go-oidc's error text, but every failure is EUNAUTHORIZED whatever
// that text says.
func badActionsToken(err error) error {
	var expired *oidc.TokenExpiredError
	msg := err.Error()
	switch {
	case errors.As(err, &expired):
		return provisioner.Wrap(provisioner.EUNAUTHORIZED, err, "the GitHub Actions token has expired")
	case strings.Contains(msg, "expected audience"):
		return provisioner.Wrap(provisioner.EUNAUTHORIZED, err, "the GitHub Actions token was requested for another audience")
	case strings.Contains(msg, "issued by a different provider"):
		return provisioner.Wrap(provisioner.EUNAUTHORIZED, err, "the GitHub Actions token comes from another issuer")
	default:
		return provisioner.Wrap(provisioner.EUNAUTHORIZED, err, "invalid GitHub Actions token")
	}
}

// flexInt decodes an integer sent as a JSON number or string; GitHub sends
// repository_id as a string. Anything else decodes as 0.
type flexInt int64

func (f *flexInt) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil
	}
	switch v := v.(type) {
	case string:
		n, _ := strconv.ParseInt(v, 10, 64)
		*f = flexInt(n)
	case float64:
		n, _ := strconv.ParseInt(string(b), 10, 64)
		*f = flexInt(n)
	}
	return nil
}
