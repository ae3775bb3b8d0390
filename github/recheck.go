package github

import (
	"context"
	"net/url"

	gh "github.com/google/go-github/v88/github"

	"provisioner"
)

var _ provisioner.MembershipChecker = (*Provider)(nil)

// CheckMembership looks up u's level now, with the operator's MemberToken
// rather than the user's own credential (a PAT login keeps no PAT, and a
// device flow login no OAuth token): the organization membership of
// u.Login and its admin and allowed teams, as at login. It returns
// ENOTFOUND when no MemberToken is configured or u is not a person's
// login. A 403 or 404 is "not a member", as at login: the operator's token
// must be able to read the organization's memberships (read:org, held by
// an organization member), or every re-check demotes.
func (p *Provider) CheckMembership(ctx context.Context, u provisioner.User) (provisioner.User, error) {
	if p.cfg.MemberToken == "" {
		return provisioner.User{}, provisioner.Errorf(provisioner.ENOTFOUND, "membership re-check is not configured")
	}
	if !loginRE.MatchString(u.Login) {
		return provisioner.User{}, provisioner.Errorf(provisioner.EINVALID, "invalid GitHub login %q", u.Login)
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	c, err := gh.NewClient(
		gh.WithHTTPClient(p.client),
		gh.WithAuthToken(p.cfg.MemberToken),
		gh.WithURLs(&p.cfg.APIURL, nil),
		gh.WithUserAgent("sliderule-provisioner"),
	)
	if err != nil {
		return provisioner.User{}, provisioner.Wrap(provisioner.EINTERNAL, err, "internal error")
	}
	return p.levelOf(ctx, c, u, url.PathEscape(u.Login))
}
