package app

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"provisioner"
	"provisioner/ratelimit"
)

// The OAuth 2.1 authorization server (docs/oauth.md): production's login
// service's authorization code flow with PKCE for the SlideRule web client,
// RFC 7591 registration for MCP clients, and the basic login of trusted
// internal services, with GitHub's web flow as the upstream identity; plus
// refresh tokens, which production lacks.

// The authorization server's paths, production's.
const (
	OAuthAuthorizePath = "/auth/github/login"
	OAuthBasicPath     = "/auth/github/basic/login"
	OAuthCallbackPath  = "/auth/github/callback"
	OAuthTokenPath     = "/auth/github/token"
	OAuthRegisterPath  = "/auth/github/register"
	OAuthRevokePath    = "/auth/revoke"
)

// Defaults and bounds of OAuthConfig.
const (
	// MaxCodeTTL bounds an authorization code's life (OAuth 2.1: short).
	MaxCodeTTL = time.Minute
	// DefaultRequestTTL is how long a login may take at GitHub.
	DefaultRequestTTL = 10 * time.Minute
	// DefaultRefreshTTL is how long a grant's refresh tokens work, however
	// often they rotate.
	DefaultRefreshTTL = 30 * 24 * time.Hour
	// DefaultClientUnusedTTL is how long a registered client that never
	// completed a login is kept (production keeps every client 12 hours).
	DefaultClientUnusedTTL = 24 * time.Hour
	// DefaultClientIdleTTL is how long a client is kept after its last use.
	DefaultClientIdleTTL = 30 * 24 * time.Hour
	// touchEvery bounds how often a client's use is written.
	touchEvery = time.Hour
)

// DefaultRegisterLimit bounds client registrations per source network.
var DefaultRegisterLimit = ratelimit.Limit{Rate: rate.Limit(20.0 / 3600), Burst: 10}

// Production's scope sets (github_oauth.py).
var (
	guestScopes      = []string{provisioner.ScopeSlideRule, provisioner.ScopeMonitor}
	memberScopes     = append(slices.Clone(guestScopes), provisioner.ScopeProvisioner, provisioner.ScopeRunner)
	thirdPartyScopes = []string{provisioner.ScopeMCPTools, provisioner.ScopeMCPRes, provisioner.ScopeMCPAccess}
	// registrableScopes are those a dynamically registered client may ask
	// for (and the metadata's scopes_supported): member and third-party.
	registrableScopes = append(slices.Clone(memberScopes), thirdPartyScopes...)
)

// OAuthConfig configures the authorization server; a nil Upstream turns
// it off (its paths answer 404).
type OAuthConfig struct {
	// Upstream is GitHub's web flow with the provisioner's OAuth app.
	Upstream provisioner.WebFlow
	// Issuer is the server's public base URL (the tokens' "iss"); GitHub
	// returns to Issuer + OAuthCallbackPath, the OAuth app's callback.
	Issuer string
	// Domain is the domain clusters live under: the basic login's token
	// cookie is set for it (Domain=.DOMAIN, host-only when it is
	// "localhost" or an address), a resource indicator must name a host
	// under it, and mcp.DOMAIN is the MCP server.
	Domain string
	// TrustedHosts are production's trusted redirect hosts (and their
	// subdomains): first-party web clients, the basic login's only
	// destinations; the provisioner's own pages (the issuer's origin) are
	// first-party too. ThirdPartyHosts are redirect hosts whose clients
	// get the MCP scopes only. A client redirecting elsewhere cannot log in.
	TrustedHosts, ThirdPartyHosts []string
	// CodeTTL (default and at most 60 s), RequestTTL (10 m), RefreshTTL
	// (30 d), ClientUnusedTTL (24 h), ClientIdleTTL (30 d): see the
	// defaults above.
	CodeTTL, RequestTTL, RefreshTTL, ClientUnusedTTL, ClientIdleTTL time.Duration
	// Register bounds registrations per source network (default 20/h,
	// burst 10; in memory, per process).
	Register ratelimit.Limit
	// DashboardCallback, when set, is the path of the provisioner's own
	// dashboard's redirect URI (web.CallbackPath): the dashboard is then a
	// built-in client, DashboardClientID, whose one redirect URI is
	// Issuer + DashboardCallback (oauth_dashboard.go).
	DashboardCallback string
}

// Check fills in the defaults and refuses what cannot work; the hosts are
// checked even when the server is off.
func (c OAuthConfig) Check() (OAuthConfig, error) {
	bad := func(format string, args ...any) (OAuthConfig, error) {
		return c, provisioner.Errorf(provisioner.EINVALID, format, args...)
	}
	c.TrustedHosts, c.ThirdPartyHosts = lower(c.TrustedHosts), lower(c.ThirdPartyHosts)
	for _, hosts := range [][]string{c.TrustedHosts, c.ThirdPartyHosts} {
		for _, h := range hosts {
			if h == "" || strings.ContainsAny(h, "/:@ \t") || strings.HasPrefix(h, ".") {
				return bad("invalid OAuth redirect host %q: want a host name like example.org", h)
			}
		}
	}
	if c.Upstream == nil {
		return c, nil
	}
	u, err := url.Parse(c.Issuer)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return bad("the OAuth server needs its public base URL (the issuer), not %q", c.Issuer)
	}
	c.Issuer = strings.TrimRight(c.Issuer, "/")
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.CodeTTL, MaxCodeTTL)
	def(&c.RequestTTL, DefaultRequestTTL)
	def(&c.RefreshTTL, DefaultRefreshTTL)
	def(&c.ClientUnusedTTL, DefaultClientUnusedTTL)
	def(&c.ClientIdleTTL, DefaultClientIdleTTL)
	if c.CodeTTL > MaxCodeTTL {
		return bad("OAuth codes live at most %s", MaxCodeTTL)
	}
	if c.Register.Rate == 0 && c.Register.Burst == 0 {
		c.Register = DefaultRegisterLimit
	}
	if c.Register, err = c.Register.Check("OAuth registration"); err != nil {
		return c, err
	}
	c.Domain = strings.Trim(strings.ToLower(c.Domain), ".")
	if d := c.DashboardCallback; d != "" && (!strings.HasPrefix(d, "/") || strings.HasPrefix(d, "//") || strings.ContainsAny(d, "?#\\ \t")) {
		return bad("the dashboard's callback must be a path like /ui/github/callback, not %q", d)
	}
	return c, nil
}

func lower(hosts []string) []string {
	out := make([]string, len(hosts))
	for i, h := range hosts {
		out[i] = strings.ToLower(h)
	}
	return out
}

// ParseHosts reads a list of redirect hosts separated by commas or
// spaces (production's variables separate them by spaces).
func ParseHosts(s string) []string {
	var out []string
	for h := range strings.FieldsFuncSeq(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' }) {
		out = append(out, strings.ToLower(h))
	}
	return out
}

// oauthServer is the authorization server's configuration and the
// registration limit's buckets.
type oauthServer struct {
	cfg     OAuthConfig
	buckets *ratelimit.Buckets
}

func newOAuthServer(c OAuthConfig) *oauthServer {
	c, err := c.Check()
	if err != nil {
		panic("app: " + err.Error()) // a wiring bug: the command line checks its settings
	}
	return &oauthServer{cfg: c, buckets: ratelimit.New(10000)}
}

// OAuthEnabled tells whether the authorization server runs.
func (a *App) OAuthEnabled() bool { return a.oauth.cfg.Upstream != nil }

// OAuthIssuer is the authorization server's issuer (its base URL).
func (a *App) OAuthIssuer() string { return a.oauth.cfg.Issuer }

// OAuthRequestTTL is how long a login may take at GitHub.
func (a *App) OAuthRequestTTL() time.Duration { return a.oauth.cfg.RequestTTL }

// OAuthCookieDomain is the basic login's cookie domain, "" for a
// host-only cookie.
func (a *App) OAuthCookieDomain() string {
	d := a.oauth.cfg.Domain
	if d == "" || d == "localhost" || net.ParseIP(d) != nil {
		return ""
	}
	return d
}

// OAuthScopes are the scopes a registered client may ask for, the
// metadata's scopes_supported.
func OAuthScopes() []string { return slices.Clone(registrableScopes) }

func (a *App) oauthEnabled() error {
	if !a.OAuthEnabled() {
		return provisioner.Errorf(provisioner.ENOTFOUND, "OAuth login is not enabled on this provisioner: it needs the GitHub OAuth app's client id and secret")
	}
	return nil
}

// oauthBegin starts a step of the OAuth flow from src: refused when OAuth
// is off, then within the login limits (an attempt, whose release the
// caller defers). now is the step's time.
func (a *App) oauthBegin(src string) (now time.Time, release func(), err error) {
	if err := a.oauthEnabled(); err != nil {
		return time.Time{}, nil, err
	}
	now = a.now().UTC()
	release, err = a.login.admit(src, "", now)
	return now, release, err
}

// Registration is an RFC 7591 registration request; nil fields take
// production's defaults.
type Registration struct {
	RedirectURIs    []string
	Name            *string
	GrantTypes      []string
	ResponseTypes   []string
	AuthMethod      *string
	ChallengeMethod *string
	Scope           *string
}

// maxRedirectURIs bounds a client's redirect URIs, maxURI each one.
const (
	maxRedirectURIs = 10
	maxURI          = 2000
)

// RegisterClient registers a public client (RFC 7591), within the
// registration limit of src's network. It is kept ClientUnusedTTL unless
// it completes a login.
func (a *App) RegisterClient(ctx context.Context, src string, r Registration) (provisioner.OAuthClient, error) {
	c := Caller{Source: src}
	if err := a.oauthEnabled(); err != nil {
		return provisioner.OAuthClient{}, err
	}
	now := a.now().UTC()
	// Registrations that store a client count; refused ones cost nothing.
	key, lim := "reg|"+ratelimit.NetworkOf(src), a.oauth.cfg.Register
	if err := a.oauth.buckets.Peek(lim, key, "client registrations from your network", now); err != nil {
		return provisioner.OAuthClient{}, err
	}
	cl, err := checkRegistration(r)
	if err == nil {
		a.oauth.buckets.Take(lim, key, now)
		cl.ID = newUUID()
		cl.IssuedAt, cl.Expires = now, now.Add(a.oauth.cfg.ClientUnusedTTL)
		err = a.store.CreateOAuthClient(ctx, cl)
	}
	if err != nil {
		a.auditLogin(ctx, c, "oauth.register", err)
		return provisioner.OAuthClient{}, err
	}
	if err := a.audit(ctx, c, "oauth.register", cl.ID, nil, truncate(cl.Name+" "+strings.Join(cl.RedirectURIs, " "), 500)); err != nil {
		return provisioner.OAuthClient{}, err
	}
	return cl, nil
}

// checkRegistration applies production's registration rules, with
// redirect URIs parsed rather than matched by prefix.
func checkRegistration(r Registration) (provisioner.OAuthClient, error) {
	meta := func(format string, args ...any) (provisioner.OAuthClient, error) {
		return provisioner.OAuthClient{}, provisioner.Errorf(provisioner.EINVALIDMETADATA, format, args...)
	}
	if len(r.RedirectURIs) == 0 || len(r.RedirectURIs) > maxRedirectURIs {
		return provisioner.OAuthClient{}, provisioner.Errorf(provisioner.EINVALIDREDIRECT, "redirect_uris must be a non-empty array of at most %d URIs", maxRedirectURIs)
	}
	for _, u := range r.RedirectURIs {
		if err := checkRedirectURI(u); err != nil {
			return provisioner.OAuthClient{}, err
		}
	}
	c := provisioner.OAuthClient{RedirectURIs: slices.Clone(r.RedirectURIs), Name: "Unknown Client",
		GrantTypes: []string{"authorization_code"}, ResponseTypes: []string{"code"}, AuthMethod: "none",
		ChallengeMethod: "S256", Scope: strings.Join(guestScopes, " ")}
	if r.Name != nil {
		c.Name = *r.Name
	}
	if len(c.Name) > 200 || strings.IndexFunc(c.Name, func(r rune) bool { return r < ' ' || r == 0x7f }) >= 0 {
		return meta("client_name must be a string under 200 chars")
	}
	if r.GrantTypes != nil {
		c.GrantTypes = slices.Clone(r.GrantTypes)
	}
	for _, g := range c.GrantTypes {
		if g != "authorization_code" && g != "refresh_token" {
			return meta("invalid grant types: %q (authorization_code and refresh_token are supported)", c.GrantTypes)
		}
	}
	if !slices.Contains(c.GrantTypes, "authorization_code") {
		return meta("grant_types must include authorization_code")
	}
	if r.ResponseTypes != nil {
		c.ResponseTypes = slices.Clone(r.ResponseTypes)
	}
	for _, t := range c.ResponseTypes {
		if t != "code" {
			return meta("invalid response types: %q (only code)", c.ResponseTypes)
		}
	}
	if r.AuthMethod != nil && *r.AuthMethod != "none" {
		return meta("unsupported token_endpoint_auth_method: %q (public clients only: none)", *r.AuthMethod)
	}
	if r.ChallengeMethod != nil && *r.ChallengeMethod != "S256" {
		return meta("unsupported code_challenge_method: %q, only S256 is supported", *r.ChallengeMethod)
	}
	if r.Scope != nil {
		c.Scope = strings.Join(strings.Fields(*r.Scope), " ")
	}
	for _, s := range strings.Fields(c.Scope) {
		if !slices.Contains(registrableScopes, s) {
			return meta("invalid scope %q: supported are %s", s, strings.Join(registrableScopes, " "))
		}
	}
	return c, nil
}

// checkRedirectURI accepts an absolute https URI, or http on a loopback
// host for native apps (RFC 8252), without fragment or user info.
func checkRedirectURI(s string) error {
	bad := provisioner.Errorf(provisioner.EINVALIDREDIRECT, "redirect_uri %q must be https, or http on a loopback address (localhost, 127.0.0.1, [::1]), without a fragment", truncate(s, 200))
	if len(s) > maxURI || strings.IndexFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
		return bad
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Hostname() == "" || u.User != nil || u.Fragment != "" || strings.Contains(s, "#") {
		return bad
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if loopback(u.Hostname()) {
			return nil
		}
	}
	return bad
}

func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// hostIn is production's contains_redirect: the URI's host is one of
// hosts or under one of them.
func hostIn(uri string, hosts []string) bool {
	u, err := url.Parse(uri)
	if err != nil {
		return false
	}
	h := strings.ToLower(u.Hostname())
	for _, allowed := range hosts {
		if h != "" && (h == allowed || strings.HasSuffix(h, "."+allowed)) {
			return true
		}
	}
	return false
}

// firstParty tells whether uri is on a trusted host or one of the
// provisioner's own pages (the issuer's scheme, host and port), such as a
// dashboard it serves.
func (a *App) firstParty(uri string) bool {
	if hostIn(uri, a.oauth.cfg.TrustedHosts) {
		return true
	}
	u, err := url.Parse(uri)
	iss, ierr := url.Parse(a.oauth.cfg.Issuer)
	return err == nil && ierr == nil && u.Scheme == iss.Scheme && strings.EqualFold(u.Host, iss.Host)
}

// secretHash is how a code or refresh token secret is stored and
// compared: SHA-256, as the secrets are 256 random bits.
func secretHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// randomToken returns n random bytes, base64url.
func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

// newUUID returns a random (version 4) UUID: production's client ids.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// scopeAudience is production's generate_audience_list for u (its level
// already capped by the scope, its affiliation set) and scope: the
// provisioner, runner and monitor for members and affiliates asking for
// them, the clusters (the affiliation's, the teams', the public ones; "*"
// for owners) for those asking for sliderule, and only "mcp" for a token
// asking for an MCP scope. Unlike production, a user without membership
// asking for sliderule gets the public clusters (as our LOGIN gives
// them), so a basic login's cookie does not lock its holder out of them.
func (a *App) scopeAudience(ctx context.Context, u provisioner.User, scope []string) ([]string, error) {
	wants := map[string]bool{}
	for _, s := range scope {
		service, _, _ := strings.Cut(s, ":")
		wants[service] = true
	}
	if wants["mcp"] {
		return []string{"mcp"}, nil
	}
	var aud []string
	member := u.Level >= provisioner.LevelOrgMember || u.Affiliation != nil
	if member {
		for _, s := range []string{provisioner.AudienceProvisioner, provisioner.AudienceRunner, provisioner.AudienceMonitor} {
			if wants[s] {
				aud = append(aud, s)
			}
		}
	}
	if !wants["sliderule"] {
		return aud, nil
	}
	if member {
		if u.Affiliation != nil {
			aud = append(aud, u.Affiliation.Clusters...)
		}
		if u.Level >= provisioner.LevelOrgMember {
			aud = append(aud, u.Teams...)
		}
	}
	public, err := a.publicClusters(ctx)
	if err != nil {
		return nil, err
	}
	aud = append(aud, public...)
	if u.Level >= provisioner.LevelAdmin {
		aud = append(aud, provisioner.AudienceAll)
	}
	return aud, nil
}

// publicClusters are the public clusters that exist now, and the
// configured public cluster (production's PUBLIC_CLUSTER).
func (a *App) publicClusters(ctx context.Context) ([]string, error) {
	all, err := a.store.ListClusters(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	if a.publicCluster != "" {
		out = append(out, a.publicCluster)
	}
	for _, c := range all {
		if c.IsPublic && c.Name != a.publicCluster {
			out = append(out, c.Name)
		}
	}
	return out, nil
}

// scoped is production's authorize_user for u and scope: an affiliate
// keeps the scopes its allowed_scopes list, an owner is an owner (admin)
// only when asking for sliderule:admin (an org member otherwise), and the
// scope decides the audience. It returns u so adjusted, the scope granted
// and the audience; a scope that gives no audience is access_denied.
func (a *App) scoped(ctx context.Context, u provisioner.User, scope []string) (provisioner.User, []string, []string, error) {
	u.Affiliation = a.affiliation(ctx, u.Login)
	if u.Affiliation != nil {
		scope = slices.DeleteFunc(slices.Clone(scope), func(s string) bool { return !u.Affiliation.Allows(s) })
	}
	if u.Level >= provisioner.LevelAdmin && !slices.Contains(scope, provisioner.ScopeAdmin) {
		u.Level = provisioner.LevelOrgMember
	}
	aud, err := a.scopeAudience(ctx, u, scope)
	if err != nil {
		return u, nil, nil, err
	}
	if len(aud) == 0 {
		return u, nil, nil, provisioner.Errorf(provisioner.EDENIED, "%s has no access with scope %q", u.Login, strings.Join(scope, " "))
	}
	return u, scope, aud, nil
}

// oauthToken issues the access token of an OAuth login (a jwt_user with
// the audience its scope gives, and its session) and returns the scope
// granted.
func (a *App) oauthToken(ctx context.Context, u provisioner.User, scope []string) (Login, []string, error) {
	u, scope, aud, err := a.scoped(ctx, u, scope)
	if err != nil {
		return Login{}, nil, err
	}
	u.Signs = a.signing.Requires(u)
	tok, claims, err := a.tokens.IssueUserAudience(ctx, u, aud)
	if err != nil {
		return Login{}, nil, err
	}
	if err := a.startSession(ctx, u, claims); err != nil {
		return Login{}, nil, err
	}
	return Login{Token: tok, Claims: claims}, scope, nil
}
