package github

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	gh "github.com/google/go-github/v88/github"

	"provisioner"
)

// maxTokenLen is far above any GitHub token format; longer input is junk
// and is refused before it reaches GitHub.
const maxTokenLen = 512

// loginRE accepts GitHub logins, and the "_" and "." some Enterprise
// Server identity providers put in them, and nothing that alters a URL path.
var loginRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

// LoginToken resolves a GitHub personal access token (classic or
// fine-grained) to a user; see the package documentation for the levels.
func (p *Provider) LoginToken(ctx context.Context, token string) (provisioner.User, error) {
	token, err := checkToken(token)
	if err != nil {
		return provisioner.User{}, err
	}
	if p.cfg.LoginCache > 0 {
		if u, ok := p.logins.get(token, time.Now()); ok {
			return u, nil
		}
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	u, err := p.resolve(ctx, token, "pat")
	if err == nil && p.cfg.LoginCache > 0 {
		p.logins.put(token, u, time.Now().Add(p.cfg.LoginCache))
	}
	return u, err
}

// checkToken refuses what cannot be a token, so junk (or a header injection
// attempt) never travels to GitHub and is reported as a bad credential
// rather than as GitHub trouble.
func checkToken(token string) (string, error) {
	token = strings.TrimSpace(token)
	if token == "" {
		return "", provisioner.Errorf(provisioner.EUNAUTHORIZED, "a GitHub token is required")
	}
	if len(token) > maxTokenLen {
		return "", provisioner.Errorf(provisioner.EUNAUTHORIZED, "malformed GitHub token")
	}
	for i := 0; i < len(token); i++ {
		if token[i] < 0x21 || token[i] > 0x7e {
			return "", provisioner.Errorf(provisioner.EUNAUTHORIZED, "malformed GitHub token")
		}
	}
	return token, nil
}

// resolve finds who token belongs to and at which level; ctx carries the
// login's deadline.
func (p *Provider) resolve(ctx context.Context, token, via string) (provisioner.User, error) {
	token, err := checkToken(token)
	if err != nil {
		return provisioner.User{}, err
	}
	c, err := gh.NewClient(
		gh.WithHTTPClient(p.client),
		gh.WithAuthToken(token),
		gh.WithURLs(&p.cfg.APIURL, nil),
		gh.WithUserAgent("sliderule-provisioner"),
	)
	if err != nil {
		return provisioner.User{}, provisioner.Wrap(provisioner.EINTERNAL, err, "internal error")
	}

	// Who the token is and its organization membership are independent:
	// ask both at once (/user/memberships/orgs/ORG answers for the token's
	// own user), so a login costs one round trip to GitHub, two with teams.
	var (
		ghu    *gh.User
		uerr   error
		m      *gh.Membership
		merr   error
		wg     sync.WaitGroup
		hasOrg = p.cfg.Org != ""
	)
	if hasOrg {
		wg.Go(func() { m, merr = member(c.Organizations.GetOrgMembership(ctx, "", p.cfg.Org)) })
	}
	ghu, _, uerr = c.Users.Get(ctx, "")
	wg.Wait()
	if uerr != nil {
		status, mapped := apiError(uerr)
		if provisioner.ErrorCode(merr) == provisioner.ERATELIMITED && provisioner.ErrorCode(mapped) != provisioner.ERATELIMITED {
			// GitHub limits us: say so, with when to come back, whatever
			// the other lookup ran into.
			return provisioner.User{}, merr
		}
		switch {
		case mapped != nil:
			return provisioner.User{}, mapped
		case status == http.StatusForbidden:
			// Not a rate limit (handled above): GitHub refuses this token.
			return provisioner.User{}, rejected(uerr)
		default:
			return provisioner.User{}, provisioner.Wrap(provisioner.EUNAVAILABLE, uerr, "GitHub answered unexpectedly (HTTP %d)", status)
		}
	}
	if !loginRE.MatchString(ghu.GetLogin()) || ghu.GetID() <= 0 {
		return provisioner.User{}, provisioner.Errorf(provisioner.EUNAVAILABLE, "GitHub answered with an invalid user")
	}
	u := provisioner.User{Login: ghu.GetLogin(), ID: ghu.GetID(), Level: provisioner.LevelMember, Via: via}
	if merr != nil {
		return provisioner.User{}, merr
	}
	return p.levelFrom(ctx, c, u, m)
}

// levelOf sets u's level, org and teams from its memberships, as c's
// token sees them; who is "" when c's token is u's own (it reads
// /user/memberships), else u's login (an operator's token reading
// /orgs/ORG/memberships/LOGIN).
func (p *Provider) levelOf(ctx context.Context, c *gh.Client, u provisioner.User, who string) (provisioner.User, error) {
	if p.cfg.Org == "" {
		return p.levelFrom(ctx, c, u, nil)
	}
	m, err := member(c.Organizations.GetOrgMembership(ctx, who, p.cfg.Org))
	if err != nil {
		return provisioner.User{}, err
	}
	return p.levelFrom(ctx, c, u, m)
}

// levelFrom sets u's level, org and teams from its organization membership
// m (nil: none), looking up its teams, all at once, when they matter.
func (p *Provider) levelFrom(ctx context.Context, c *gh.Client, u provisioner.User, m *gh.Membership) (provisioner.User, error) {
	u.Level, u.Org, u.Teams = provisioner.LevelMember, "", nil
	if p.cfg.Org == "" {
		return u, nil
	}
	if m.GetState() != "active" { // nil-safe: not a member at all
		return u, nil
	}
	u.Org = p.cfg.Org
	if m.GetRole() == "admin" {
		u.Level = provisioner.LevelAdmin
		return u, nil
	}
	// Escape the login even though loginRE already keeps it path-safe.
	login := url.PathEscape(u.Login)
	teams := p.cfg.AllowedTeams
	if p.cfg.AdminTeam != "" {
		teams = append([]string{p.cfg.AdminTeam}, teams...)
	}
	in := make([]bool, len(teams))
	errs := make([]error, len(teams))
	var wg sync.WaitGroup
	for i, team := range teams {
		wg.Go(func() { in[i], errs[i] = p.inTeam(ctx, c, team, login) })
	}
	wg.Wait()
	if p.cfg.AdminTeam != "" {
		// The admin team decides alone when it can: an admin's login does
		// not fail because an allowed team could not be looked up.
		if errs[0] != nil {
			return provisioner.User{}, errs[0]
		}
		if in[0] {
			u.Level = provisioner.LevelAdmin
			return u, nil
		}
		in, teams, errs = in[1:], teams[1:], errs[1:]
	}
	for _, err := range errs {
		if err != nil {
			return provisioner.User{}, err
		}
	}
	if len(p.cfg.AllowedTeams) == 0 {
		u.Level = provisioner.LevelOrgMember
		return u, nil
	}
	for i, team := range teams {
		if in[i] {
			u.Teams = append(u.Teams, team)
		}
	}
	if len(u.Teams) > 0 {
		u.Level = provisioner.LevelOrgMember
	}
	return u, nil
}

func (p *Provider) inTeam(ctx context.Context, c *gh.Client, team, login string) (bool, error) {
	m, err := member(c.Teams.GetTeamMembershipBySlug(ctx, p.cfg.Org, team, login))
	if err != nil {
		return false, err
	}
	return m.GetState() == "active", nil
}

// member interprets a membership lookup: GitHub answers 404 (and 403 when the
// token may not see the org) for "not a member", which is a nil membership.
func member(m *gh.Membership, _ *gh.Response, err error) (*gh.Membership, error) {
	if err == nil {
		return m, nil
	}
	status, mapped := apiError(err)
	switch {
	case mapped != nil:
		return nil, mapped
	case status == http.StatusNotFound || status == http.StatusForbidden:
		return nil, nil
	default:
		return nil, provisioner.Wrap(provisioner.EUNAVAILABLE, err, "GitHub answered unexpectedly (HTTP %d)", status)
	}
}
