package app

import (
	"context"

	"provisioner"
)

// Access is a successful ACCESS: the jwt_cluster for one cluster.
type Access struct {
	Token  string
	Claims provisioner.Claims
}

// Access is the seed's ACCESS(cluster, jwt_user): a public cluster needs a
// logged-in GitHub member, a private one an organization member (the
// identity provider already leaves members of no allowed team at member
// level), an administrator, or an affiliate it is granted to.
func (a *App) Access(ctx context.Context, c Caller, cluster string) (Access, error) {
	acc, err := a.access(ctx, c, cluster)
	if err = a.audit(ctx, c, "access", cluster, err, ""); err != nil {
		return Access{}, err // no token the audit log does not show
	}
	return acc, nil
}

func (a *App) access(ctx context.Context, c Caller, name string) (Access, error) {
	if err := requireLevel(c.User, provisioner.LevelMember, "ACCESS"); err != nil {
		return Access{}, err
	}
	if err := provisioner.ValidateClusterName(name); err != nil {
		return Access{}, err
	}
	notFound := provisioner.Errorf(provisioner.ENOTFOUND, "cluster %q does not exist", name)
	cl, err := a.store.GetCluster(ctx, name)
	if provisioner.ErrorCode(err) == provisioner.ENOTFOUND {
		return Access{}, notFound
	} else if err != nil {
		return Access{}, err
	}
	if !cl.IsPublic && !seesPrivate(c.User, name) {
		// Answered as a missing one: no telling it exists.
		return Access{}, notFound
	}
	if !cl.IsPublic && !mayReach(c.User, name) {
		if err := requireLevel(c.User, provisioner.LevelOrgMember, "access to private cluster "+name); err != nil {
			return Access{}, err
		}
	}
	tok, claims, err := a.tokens.IssueCluster(ctx, c.User, name)
	if err != nil {
		return Access{}, err
	}
	return Access{Token: tok, Claims: claims}, nil
}

// requireLevel answers EUNAUTHORIZED to the anonymous caller (a login would
// help) and EFORBIDDEN to a logged-in caller whose level is too low.
func requireLevel(u provisioner.User, min provisioner.Level, what string) error {
	if u.Level >= min {
		return nil
	}
	if u.Level == provisioner.LevelAnonymous {
		return provisioner.Errorf(provisioner.EUNAUTHORIZED, "%s requires a login", what)
	}
	return provisioner.Errorf(provisioner.EFORBIDDEN, "%s requires level %s; %s has level %s", what, min, u.Login, u.Level)
}
