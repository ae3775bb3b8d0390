package app

import (
	"context"
	"slices"
	"strings"
	"time"

	"provisioner"
)

// Login is a successful LOGIN: the jwt_user and what it says.
type Login struct {
	Token  string
	Claims provisioner.Claims
}

// maxCredential bounds what we forward to GitHub; real tokens are far shorter.
const maxCredential = 4096

// LoginToken is LOGIN with a GitHub personal access token (or a static
// identity's token). The login limits apply first; a token GitHub refused
// lately is refused again from memory.
func (a *App) LoginToken(ctx context.Context, src, token string) (Login, error) {
	c := Caller{Source: src}
	if a.identity == nil {
		err := provisioner.Errorf(provisioner.ENOTFOUND, "token login is not enabled on this provisioner")
		a.auditLogin(ctx, c, "login.pat", err)
		return Login{}, err
	}
	token = strings.TrimSpace(token)
	id := hashOf("pat", token)
	now := a.now()
	release, err := a.login.admit(src, id, now)
	if err != nil {
		return Login{}, err
	}
	defer release()
	l, err := a.loginToken(ctx, &c, id, token)
	return a.endLogin(ctx, c, src, "login.pat", now, l, err)
}

func (a *App) loginToken(ctx context.Context, c *Caller, id, token string) (Login, error) {
	if err := checkCredential("pat", token); err != nil {
		return Login{}, err
	}
	if err := a.login.refusedBefore(id, a.now()); err != nil {
		return Login{}, err
	}
	if l, ok := a.reused(ctx, id); ok {
		c.User = l.Claims.User()
		return l, nil
	}
	u, err := a.identity.LoginToken(ctx, token)
	if provisioner.ErrorCode(err) == provisioner.EUNAUTHORIZED {
		a.login.remember(id, err, a.now())
	}
	if err != nil {
		return Login{}, err
	}
	c.User = u
	l, err := a.issue(ctx, u)
	if err == nil {
		a.keep(id, l)
	}
	return l, err
}

// StartDevice begins a GitHub device flow login, within the login limits
// of the source; the device code's interval is then enforced on its polls.
func (a *App) StartDevice(ctx context.Context, src string) (provisioner.DeviceCode, error) {
	if a.device == nil {
		return provisioner.DeviceCode{}, provisioner.Errorf(provisioner.ENOTFOUND, "device flow login is not enabled on this provisioner")
	}
	now := a.now()
	release, err := a.login.admit(src, "", now)
	if err != nil {
		return provisioner.DeviceCode{}, err
	}
	defer release()
	d, err := a.device.StartDevice(ctx)
	if err != nil {
		a.login.charge(src, err, now)
		a.auditLogin(ctx, Caller{Source: src}, "login.device.start", err)
		return d, err
	}
	a.login.started(d, now)
	return d, nil
}

// PollDevice completes a device flow login once the user has approved it.
// A poll sooner than the code's interval after the previous one is
// ESLOWDOWN with a longer interval, answered without asking GitHub; the
// source's login limits are ERATELIMITED (the HTTP layer answers both as
// "pending" with the interval to wait). Pending polls are not audited:
// they are noise, not decisions.
func (a *App) PollDevice(ctx context.Context, src, deviceCode string) (Login, error) {
	if a.device == nil {
		return Login{}, provisioner.Errorf(provisioner.ENOTFOUND, "device flow login is not enabled on this provisioner")
	}
	if err := checkCredential("device_code", deviceCode); err != nil {
		return Login{}, err
	}
	now := a.now()
	id := hashOf("device", deviceCode)
	release, err := a.login.admit(src, "", now)
	if err != nil {
		return Login{}, err
	}
	defer release()
	if err := a.login.pace(id, now); err != nil {
		return Login{}, err
	}
	c := Caller{Source: src}
	u, err := a.device.PollDevice(ctx, deviceCode)
	a.login.polled(id, err)
	if code := provisioner.ErrorCode(err); code == provisioner.EPENDING || code == provisioner.ESLOWDOWN {
		return Login{}, err
	}
	var l Login
	if err == nil {
		c.User = u
		l, err = a.issue(ctx, u)
	}
	return a.endLogin(ctx, c, src, "login.device", now, l, err)
}

// LoginActions is LOGIN with a GitHub Actions OIDC ID token: the nightly
// use case. The login limits apply, per source and per token; a token
// refused lately is refused again from memory.
func (a *App) LoginActions(ctx context.Context, src, idToken string) (Login, error) {
	c := Caller{Source: src}
	if a.actions == nil {
		err := provisioner.Errorf(provisioner.ENOTFOUND, "GitHub Actions login is not enabled on this provisioner")
		a.auditLogin(ctx, c, "login.actions", err)
		return Login{}, err
	}
	id := hashOf("actions", idToken)
	now := a.now()
	release, err := a.login.admit(src, id, now)
	if err != nil {
		return Login{}, err
	}
	defer release()
	var l Login
	err = checkCredential("token", idToken)
	if err == nil {
		err = a.login.refusedBefore(id, now)
	}
	if err == nil {
		var u provisioner.User
		u, err = a.actions.LoginActions(ctx, idToken)
		if code := provisioner.ErrorCode(err); code == provisioner.EUNAUTHORIZED || code == provisioner.EFORBIDDEN {
			a.login.remember(id, err, now)
		}
		if err == nil {
			c.User = u
			l, err = a.issue(ctx, u)
		}
	}
	return a.endLogin(ctx, c, src, "login.actions", now, l, err)
}

// endLogin ends a login attempt: charged to the source's limits and
// audited; no login the audit log does not show.
func (a *App) endLogin(ctx context.Context, c Caller, src, action string, now time.Time, l Login, err error) (Login, error) {
	a.login.charge(src, err, now)
	if err = a.auditLogin(ctx, c, action, err); err != nil {
		return Login{}, err
	}
	return l, nil
}

// issue makes u's jwt_user. A user the signature policy requires to sign
// gets the "developer" org role, which is what makes the released Python
// client sign its provisioner requests; a user in the affiliates list the
// "affiliate" role, and its clusters in the audience.
func (a *App) issue(ctx context.Context, u provisioner.User) (Login, error) {
	u.Signs = a.signing.Requires(u)
	u.Affiliation = a.affiliation(ctx, u.Login)
	aud, err := a.userAudience(ctx, u)
	if err != nil {
		return Login{}, err
	}
	tok, claims, err := a.tokens.IssueUser(ctx, u, aud)
	if err != nil {
		return Login{}, err
	}
	if err := a.startSession(ctx, u, claims); err != nil {
		return Login{}, err
	}
	return Login{Token: tok, Claims: claims}, nil
}

func checkCredential(field, v string) error {
	if v == "" {
		return provisioner.Errorf(provisioner.EINVALID, "%s is required", field)
	}
	if len(v) > maxCredential {
		return provisioner.Errorf(provisioner.EINVALID, "%s is too long", field)
	}
	for _, r := range v {
		if r <= ' ' || r == 0x7f {
			return provisioner.Errorf(provisioner.EINVALID, "%s contains whitespace or control characters", field)
		}
	}
	return nil
}

// Authenticate turns a bearer jwt_user into the caller's user. An empty
// token is the anonymous user; a bad one is EUNAUTHORIZED, never anonymous.
func (a *App) Authenticate(ctx context.Context, bearer string) (provisioner.User, error) {
	if bearer == "" {
		return provisioner.Anonymous, nil
	}
	claims, err := a.tokens.VerifyUser(ctx, bearer)
	if err != nil {
		return provisioner.User{}, err
	}
	if err := a.checkSession(ctx, claims); err != nil {
		return provisioner.User{}, err
	}
	u := claims.User()
	u.Session = claims.ID
	// As production, an affiliate's rights need both the role in its token
	// and the operator's list; the grant is read from the list now, so a
	// change there takes effect at once.
	if slices.Contains(claims.OrgRoles, provisioner.RoleAffiliate) {
		u.Affiliation = a.affiliation(ctx, u.Login)
	}
	return u, nil
}

// Whoami returns the verified claims of a jwt_user.
func (a *App) Whoami(ctx context.Context, token string) (provisioner.Claims, error) {
	c, err := a.tokens.VerifyUser(ctx, token)
	if err != nil {
		return provisioner.Claims{}, err
	}
	if err := a.checkSession(ctx, c); err != nil {
		return provisioner.Claims{}, err
	}
	return c, nil
}

// userAudience is the "aud" of u's jwt_user beside "provisioner", as
// production's generate_audience_list makes it: organization members and
// admins get the runner and monitor services and "*", since our rules let
// them reach every cluster of the organization, including clusters deployed
// after this login (the released client logs in, deploys, then calls the
// cluster with the same token). Other GitHub users may reach public
// clusters only: the ones that exist now are named, as the load balancer of
// a public cluster refuses a token that does not name it. An affiliate's
// clusters are appended, as production does; an affiliate outside the
// organization gets the runner and monitor only if its allowed scopes keep
// them (affiliateAudience).
func (a *App) userAudience(ctx context.Context, u provisioner.User) ([]string, error) {
	if u.Level >= provisioner.LevelOrgMember {
		aud := []string{provisioner.AudienceRunner, provisioner.AudienceMonitor}
		if u.Affiliation != nil {
			aud = append(aud, u.Affiliation.Clusters...)
		}
		return append(aud, provisioner.AudienceAll), nil
	}
	all, err := a.store.ListClusters(ctx)
	if err != nil {
		return nil, err
	}
	aud := affiliateAudience(u.Affiliation)
	for _, cl := range all {
		if cl.IsPublic {
			aud = append(aud, cl.Name)
		}
	}
	return aud, nil
}
