package github

import (
	"context"
	"net/http"

	gh "github.com/google/go-github/v88/github"

	"provisioner"
)

var _ provisioner.Contacts = (*Provider)(nil)

// Email returns the email address login publishes on their GitHub profile
// (GET /users/{login}), for notices to a cluster's owner. Most people
// publish none: then, and for an unknown login, ENOTFOUND. It asks with
// the operator's MemberToken when there is one (a higher rate limit), else
// without a token.
func (p *Provider) Email(ctx context.Context, login string) (string, error) {
	if !loginRE.MatchString(login) {
		return "", provisioner.Errorf(provisioner.EINVALID, "invalid GitHub login %q", login)
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	opts := []gh.ClientOptionsFunc{gh.WithHTTPClient(p.client), gh.WithURLs(&p.cfg.APIURL, nil), gh.WithUserAgent("sliderule-provisioner")}
	if p.cfg.MemberToken != "" {
		opts = append(opts, gh.WithAuthToken(p.cfg.MemberToken))
	}
	c, err := gh.NewClient(opts...)
	if err != nil {
		return "", provisioner.Wrap(provisioner.EINTERNAL, err, "internal error")
	}
	u, _, err := c.Users.Get(ctx, login)
	if err != nil {
		status, mapped := apiError(err)
		switch {
		case mapped != nil:
			return "", mapped
		case status == http.StatusNotFound:
			return "", provisioner.Errorf(provisioner.ENOTFOUND, "GitHub has no user %s", login)
		case status != 0:
			return "", provisioner.Wrap(provisioner.EUNAVAILABLE, err, "GitHub answered unexpectedly (HTTP %d)", status)
		}
		return "", unreachable(err)
	}
	if u.GetEmail() == "" {
		return "", provisioner.Errorf(provisioner.ENOTFOUND, "%s publishes no email address on GitHub", login)
	}
	return u.GetEmail(), nil
}
