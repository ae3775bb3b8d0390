// Package github is the GitHub identity backend of the provisioner: it turns
// a personal access token, a finished OAuth device flow, or a GitHub Actions
// OIDC ID token into a provisioner.User with a level.
//
// Levels for people (PAT and device flow):
//
//   - member: any valid GitHub user.
//   - org_member: an active member of Config.Org; when Config.AllowedTeams is
//     set, only if also an active member of at least one of those teams.
//   - admin: an org owner (membership role "admin") or an active member of
//     Config.AdminTeam. Admins need no allowed team.
//
// User.Org is set whenever the user is an active member of the org (even one
// held at member level by AllowedTeams); the level alone decides access.
// User.Teams lists the allowed teams the user is an active member of; they
// are looked up only for org members who are not already admins.
//
// Pending memberships (an invitation not yet accepted) count for nothing.
// A 403 or 404 on a membership lookup means "not a member": GitHub answers so
// for non-members, for tokens without the read:org scope and for orgs that
// enforce SAML SSO the token is not authorized for.
//
// Workflows log in with GitHub Actions OIDC ID tokens: see LoginActions and
// ActionsRule.
package github

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"provisioner/secretcache"

	"provisioner"
)

// Defaults for Config fields left empty.
const (
	DefaultAPIURL        = "https://api.github.com"
	DefaultWebURL        = "https://github.com"
	DefaultActionsIssuer = "https://token.actions.githubusercontent.com"
	DefaultTimeout       = 10 * time.Second
)

// Config configures a Provider. Only Org-related and Actions settings change
// levels; everything else has a working default.
type Config struct {
	// APIURL is the REST API root, used as is: https://api.github.com, or
	// https://HOST/api/v3 for GitHub Enterprise Server.
	APIURL string
	// WebURL is where the device flow endpoints live: https://github.com or
	// https://HOST for GitHub Enterprise Server.
	WebURL string
	// Org is the organization whose members get org_member; empty means
	// everybody is a member and nobody an admin.
	Org string
	// AdminTeam is the slug of a team of Org whose members are admins.
	AdminTeam string
	// AllowedTeams, when set, restricts org_member to members of these team
	// slugs of Org.
	AllowedTeams []string
	// ClientID is the OAuth app's client id for the device flow; empty
	// disables the device flow.
	ClientID string
	// ClientSecret is the OAuth app's secret; with ClientID it enables the
	// web application flow, the OAuth authorization server's upstream.
	ClientSecret string
	// ActionsIssuer is the OIDC issuer of GitHub Actions ID tokens (GitHub
	// Enterprise Server: https://HOST/_services/token).
	ActionsIssuer string
	// ActionsAudience is the "aud" a workflow must request; empty disables
	// Actions logins, since a token for any audience must never be accepted.
	ActionsAudience string
	// ActionsRules map workflows to levels; the first match wins, no match
	// gives member.
	ActionsRules []ActionsRule
	// MemberToken is the operator's GitHub token (read:org) that re-checks
	// the organization and team memberships of logged-in users
	// (CheckMembership); empty disables the re-check.
	MemberToken string
	// LoginCache is how long a PAT login's answer (who the token is and
	// its level) is reused for the same token, so that a client logging in
	// again and again (a CI job per step) costs GitHub nothing; 0 asks
	// GitHub every time. A revoked token, or a changed membership, is seen
	// at most this late; keep it short (seconds).
	LoginCache time.Duration
	// HTTPClient makes every request; nil means a client of its own.
	HTTPClient *http.Client
	// Timeout bounds each login, whatever the caller's context allows.
	Timeout time.Duration
}

// Provider implements provisioner.IdentityProvider, provisioner.DeviceFlow
// and provisioner.ActionsVerifier against one GitHub (or GHE) instance.
type Provider struct {
	cfg    Config
	client *http.Client

	devices deviceFlows
	actions actionsState
	logins  loginCache
}

var (
	_ provisioner.IdentityProvider = (*Provider)(nil)
	_ provisioner.DeviceFlow       = (*Provider)(nil)
	_ provisioner.ActionsVerifier  = (*Provider)(nil)
)

// slugRE accepts GitHub org names and team slugs; they end up in URL paths,
// so nothing that could change the path is allowed.
var slugRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

// New checks cfg, fills in defaults and returns a Provider. It makes no
// network call: GitHub and the Actions issuer are contacted on first use.
func New(cfg Config) (*Provider, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	client := cfg.HTTPClient
	if client == nil {
		// Keep connections to GitHub open for concurrent logins: the
		// default keeps two idle per host, so a burst would reconnect.
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 32
		client = &http.Client{Transport: tr}
	}
	p := &Provider{cfg: cfg, client: client}
	p.devices.m = make(map[string]deviceFlow)
	p.logins = loginCache{secretcache.New[provisioner.User](maxCachedLogins)}
	p.actions.sem = make(chan struct{}, 1)
	return p, nil
}

func (c *Config) setDefaults() error {
	var err error
	if c.APIURL, err = normURL("API URL", c.APIURL, DefaultAPIURL); err != nil {
		return err
	}
	if c.WebURL, err = normURL("web URL", c.WebURL, DefaultWebURL); err != nil {
		return err
	}
	// The issuer is compared byte for byte with "iss", so keep it as given
	// apart from a trailing slash GitHub never puts there.
	if c.ActionsIssuer, err = normURL("Actions issuer", c.ActionsIssuer, DefaultActionsIssuer); err != nil {
		return err
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	c.AllowedTeams = append([]string(nil), c.AllowedTeams...)
	c.ActionsRules = append([]ActionsRule(nil), c.ActionsRules...)
	return nil
}

func normURL(what, s, def string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		s = def
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", provisioner.Errorf(provisioner.EINVALID, "invalid GitHub %s %q: want an absolute http(s) URL", what, s)
	}
	return strings.TrimRight(s, "/"), nil
}

func (c *Config) validate() error {
	bad := func(format string, args ...any) error {
		return provisioner.Errorf(provisioner.EINVALID, format, args...)
	}
	if c.Timeout < 0 {
		return bad("GitHub timeout must not be negative")
	}
	if c.LoginCache < 0 || c.LoginCache > 5*time.Minute {
		return bad("the GitHub login cache must be between 0 and 5m")
	}
	if c.Org != "" && !slugRE.MatchString(c.Org) {
		return bad("invalid GitHub organization %q", c.Org)
	}
	if c.Org == "" && (c.AdminTeam != "" || len(c.AllowedTeams) > 0) {
		return bad("admin and allowed teams need a GitHub organization: set --github-org")
	}
	if c.AdminTeam != "" && !slugRE.MatchString(c.AdminTeam) {
		return bad("invalid admin team %q: want a team slug", c.AdminTeam)
	}
	for _, t := range c.AllowedTeams {
		if !slugRE.MatchString(t) {
			return bad("invalid allowed team %q: want a team slug", t)
		}
	}
	if strings.ContainsAny(c.ClientID, " \t\r\n") {
		return bad("invalid GitHub client id %q", c.ClientID)
	}
	if c.ClientSecret != "" && (c.ClientID == "" || strings.ContainsAny(c.ClientSecret, " \t\r\n")) {
		return bad("invalid GitHub client secret: it needs a client id and has no whitespace")
	}
	if c.ActionsAudience == "" && len(c.ActionsRules) > 0 {
		return bad("GitHub Actions rules need an audience: set --actions-audience")
	}
	if c.ActionsAudience != "" && c.Org == "" {
		return bad("GitHub Actions logins need a GitHub organization: set --github-org")
	}
	for i, r := range c.ActionsRules {
		if err := r.validate(); err != nil {
			return bad("GitHub Actions rule %d: %s", i+1, provisioner.ErrorMessage(err))
		}
		if owner, _, _ := strings.Cut(r.Repository, "/"); r.Repository != "" && !strings.EqualFold(owner, c.Org) {
			return bad("GitHub Actions rule %d names repository %q outside organization %q; it could never match", i+1, r.Repository, c.Org)
		}
	}
	return nil
}
