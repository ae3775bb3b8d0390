package conformance

import (
	"context"
	"strings"
	"sync"
	"testing"

	"provisioner"
)

// Identity is an IdentityProvider with the users it knows.
type Identity struct {
	Provider provisioner.IdentityProvider
	// Users maps tokens to the users they must log in as (Login, ID,
	// Level and Org are compared); at least an admin, an organization
	// member and a member.
	Users map[string]provisioner.User
	// Revoke makes a token invalid; nil when the provider has no such thing.
	Revoke func(token string)
}

// IdentityProvider runs the IdentityProvider contract: every known token
// logs in as its user, at its level; anything else is EUNAUTHORIZED, never
// another user or a server error.
func IdentityProvider(t *testing.T, newIdentity func(t *testing.T) Identity) {
	ctx := context.Background()
	check := func(t *testing.T, id Identity, token string, want provisioner.User) {
		t.Helper()
		u, err := id.Provider.LoginToken(ctx, token)
		if err != nil {
			t.Errorf("LoginToken for %s: %v", want.Login, err)
			return
		}
		if u.Login != want.Login || u.ID != want.ID || u.Level != want.Level || u.Org != want.Org {
			t.Errorf("token of %s logged in as %+v, want login %s id %d level %s org %q", want.Login, u, want.Login, want.ID, want.Level, want.Org)
		}
	}
	t.Run("Known", func(t *testing.T) {
		id := newIdentity(t)
		levels := map[provisioner.Level]bool{}
		for token, want := range id.Users {
			check(t, id, token, want)
			levels[want.Level] = true
		}
		for _, l := range []provisioner.Level{provisioner.LevelAdmin, provisioner.LevelOrgMember, provisioner.LevelMember} {
			if !levels[l] {
				t.Errorf("the harness has no user at level %s", l)
			}
		}
	})
	t.Run("Refused", func(t *testing.T) {
		id := newIdentity(t)
		var some string
		for token := range id.Users {
			some = token
			break
		}
		for _, bad := range []string{"", "not-a-token-anyone-has", some + "x", strings.ToUpper(some) + "Z", some[:len(some)/2],
			some + "\r\nX-Evil: 1", "tök", strings.Repeat("a", 5000)} {
			u, err := id.Provider.LoginToken(ctx, bad)
			if provisioner.ErrorCode(err) != provisioner.EUNAUTHORIZED {
				t.Errorf("LoginToken(%.20q) = %+v, %v; want %s", bad, u, err, provisioner.EUNAUTHORIZED)
			}
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		id := newIdentity(t)
		var wg sync.WaitGroup
		for range 4 {
			for token, want := range id.Users {
				wg.Go(func() { check(t, id, token, want) })
			}
		}
		wg.Wait()
	})
	t.Run("Revoked", func(t *testing.T) {
		id := newIdentity(t)
		if id.Revoke == nil {
			t.Skip("the provider cannot revoke a token")
		}
		for token, want := range id.Users {
			check(t, id, token, want)
			id.Revoke(token)
			if _, err := id.Provider.LoginToken(ctx, token); provisioner.ErrorCode(err) != provisioner.EUNAUTHORIZED {
				t.Errorf("a revoked token: %v, want %s", err, provisioner.EUNAUTHORIZED)
			}
			break
		}
	})
}
