package storetest

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"provisioner"
	"provisioner/testkit"
)

// testOAuth holds both stores to the authorization server's needs: records
// round-trip, codes and requests are taken once even by concurrent takers,
// and of concurrent rotations of a grant from the same token exactly one
// wins (the family is never forked).
func testOAuth(t *testing.T, open func(t *testing.T) provisioner.Store) {
	t.Run("Clients", func(t *testing.T) { testOAuthClients(t, fresh(t, open)) })
	t.Run("Requests", func(t *testing.T) { testOAuthRequests(t, fresh(t, open)) })
	t.Run("Codes", func(t *testing.T) { testOAuthCodes(t, fresh(t, open)) })
	t.Run("Grants", func(t *testing.T) { testOAuthGrants(t, fresh(t, open)) })
	t.Run("ConcurrentTakes", func(t *testing.T) { testOAuthConcurrent(t, fresh(t, open)) })
}

var oauthUser = provisioner.User{Login: "ada", ID: 3, Level: provisioner.LevelAdmin, Org: "sliderule", Teams: []string{"dev"}, Via: "oauth"}

func testOAuthClients(t *testing.T, s provisioner.Store) {
	ctx := context.Background()
	c := provisioner.OAuthClient{ID: "0b6f3c8e-6b1a-4d53-9a55-2b8f6a1c0d11", Name: "Claude", RedirectURIs: []string{"https://claude.ai/api/mcp/auth_callback", "http://127.0.0.1:33418/cb"},
		GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"}, AuthMethod: "none", ChallengeMethod: "S256",
		Scope: "mcp:tools mcp:resources", IssuedAt: base, Expires: base.Add(24 * time.Hour)}
	ok(t, s.CreateOAuthClient(ctx, c))
	testkit.WantCode(t, s.CreateOAuthClient(ctx, c), provisioner.ECONFLICT)
	testkit.WantCode(t, s.CreateOAuthClient(ctx, provisioner.OAuthClient{ID: "x", IssuedAt: base}), provisioner.EINVALID)
	testkit.WantCode(t, s.CreateOAuthClient(ctx, provisioner.OAuthClient{IssuedAt: base, Expires: base}), provisioner.EINVALID)
	got, err := s.GetOAuthClient(ctx, c.ID)
	ok(t, err)
	wantEqual(t, "client", got, c, func(c *provisioner.OAuthClient) []*time.Time { return []*time.Time{&c.IssuedAt, &c.UsedAt, &c.Expires} })
	_, err = s.GetOAuthClient(ctx, "nobody")
	testkit.WantCode(t, err, provisioner.ENOTFOUND)

	used := base.Add(time.Hour)
	ok(t, s.TouchOAuthClient(ctx, c.ID, used, used.Add(30*24*time.Hour)))
	c.UsedAt, c.Expires = used, used.Add(30*24*time.Hour)
	got, err = s.GetOAuthClient(ctx, c.ID)
	ok(t, err)
	wantEqual(t, "touched client", got, c, func(c *provisioner.OAuthClient) []*time.Time { return []*time.Time{&c.IssuedAt, &c.UsedAt, &c.Expires} })
	testkit.WantCode(t, s.TouchOAuthClient(ctx, "nobody", used, used), provisioner.ENOTFOUND)
}

func testOAuthRequests(t *testing.T, s provisioner.Store) {
	ctx := context.Background()
	r := provisioner.OAuthRequest{ID: "req-1", Browser: "b-hash", ClientID: "client-1", RedirectURI: "https://app.example.org/cb", State: "xyz",
		Scope: []string{"sliderule:access", "provisioner:access"}, CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		Resource: "https://mcp.example.org/sliderule", Created: base, Expires: base.Add(10 * time.Minute)}
	ok(t, s.CreateOAuthRequest(ctx, r))
	testkit.WantCode(t, s.CreateOAuthRequest(ctx, r), provisioner.ECONFLICT)
	testkit.WantCode(t, s.CreateOAuthRequest(ctx, provisioner.OAuthRequest{ID: "r2", ClientID: "c", Expires: base}), provisioner.EINVALID)
	got, err := s.TakeOAuthRequest(ctx, r.ID)
	ok(t, err)
	wantEqual(t, "request", got, r, func(r *provisioner.OAuthRequest) []*time.Time { return []*time.Time{&r.Created, &r.Expires} })
	_, err = s.TakeOAuthRequest(ctx, r.ID)
	testkit.WantCode(t, err, provisioner.ENOTFOUND)
	_, err = s.TakeOAuthRequest(ctx, "nothing")
	testkit.WantCode(t, err, provisioner.ENOTFOUND)
	// A basic login's request has no scope, challenge or state.
	b := provisioner.OAuthRequest{ID: "req-2", Browser: "b", ClientID: provisioner.BasicClientID, RedirectURI: "https://demo.example.org/grafana/", Created: base, Expires: base.Add(time.Minute)}
	ok(t, s.CreateOAuthRequest(ctx, b))
	got, err = s.TakeOAuthRequest(ctx, b.ID)
	ok(t, err)
	wantEqual(t, "basic request", got, b, func(r *provisioner.OAuthRequest) []*time.Time { return []*time.Time{&r.Created, &r.Expires} })
}

func testOAuthCodes(t *testing.T, s provisioner.Store) {
	ctx := context.Background()
	c := provisioner.OAuthCode{Hash: "3f1a", ClientID: "client-1", RedirectURI: "https://app.example.org/cb", CodeChallenge: "chal",
		Scope: []string{"sliderule:access"}, User: oauthUser, Created: base, Expires: base.Add(time.Minute)}
	ok(t, s.CreateOAuthCode(ctx, c))
	testkit.WantCode(t, s.CreateOAuthCode(ctx, c), provisioner.ECONFLICT)
	testkit.WantCode(t, s.CreateOAuthCode(ctx, provisioner.OAuthCode{Hash: "h", Expires: base}), provisioner.EINVALID)
	times := func(c *provisioner.OAuthCode) []*time.Time { return []*time.Time{&c.Created, &c.Expires} }
	got, err := s.TakeOAuthCode(ctx, c.Hash)
	ok(t, err)
	wantEqual(t, "code", got, c, times)
	// A second take is a replay: refused, with the code, so its grant can be revoked.
	got, err = s.TakeOAuthCode(ctx, c.Hash)
	testkit.WantCode(t, err, provisioner.ECONFLICT)
	wantEqual(t, "replayed code", got, c, times)
	_, err = s.TakeOAuthCode(ctx, "unknown")
	testkit.WantCode(t, err, provisioner.ENOTFOUND)
}

func testOAuthGrants(t *testing.T, s provisioner.Store) {
	ctx := context.Background()
	times := func(g *provisioner.OAuthGrant) []*time.Time {
		return []*time.Time{&g.Created, &g.Expires, &g.RevokedAt}
	}
	g1 := provisioner.OAuthGrant{ID: "g1", ClientID: "client-1", Scope: []string{"sliderule:access", "provisioner:access"}, User: oauthUser,
		Current: "h0", Session: "s0", Created: base, Expires: base.Add(30 * 24 * time.Hour)}
	g2 := g1
	g2.ID, g2.Created, g2.Current = "g2", base.Add(time.Minute), ""
	other := g1
	other.ID, other.User = "g3", provisioner.User{Login: "bob", ID: 9, Level: provisioner.LevelMember, Via: "oauth"}
	for _, g := range []provisioner.OAuthGrant{g1, g2, other} {
		ok(t, s.CreateOAuthGrant(ctx, g))
	}
	testkit.WantCode(t, s.CreateOAuthGrant(ctx, g1), provisioner.ECONFLICT)
	testkit.WantCode(t, s.CreateOAuthGrant(ctx, provisioner.OAuthGrant{ID: "x", ClientID: "c", Created: base, Expires: base}), provisioner.EINVALID)

	got, err := s.GetOAuthGrant(ctx, "g1")
	ok(t, err)
	wantEqual(t, "grant", got, g1, times)
	_, err = s.GetOAuthGrant(ctx, "none")
	testkit.WantCode(t, err, provisioner.ENOTFOUND)

	list, err := s.ListOAuthGrants(ctx, "ada")
	ok(t, err)
	if len(list) != 2 || list[0].ID != "g2" || list[1].ID != "g1" {
		t.Fatalf("ListOAuthGrants(ada) = %v, want g2, g1", grantIDs(list))
	}
	if list, err := s.ListOAuthGrants(ctx, "nobody"); err != nil || len(list) != 0 {
		t.Fatalf("ListOAuthGrants(nobody) = %v, %v", grantIDs(list), err)
	}

	// Rotation is a compare-and-swap on the current token.
	next := g1
	next.Current, next.Generation, next.Session = "h1", 1, "s1"
	ok(t, s.RotateOAuthGrant(ctx, next, "h0"))
	stale := g1
	stale.Current, stale.Generation = "forked", 1
	testkit.WantCode(t, s.RotateOAuthGrant(ctx, stale, "h0"), provisioner.ECONFLICT)
	got, _ = s.GetOAuthGrant(ctx, "g1")
	wantEqual(t, "rotated grant", got, next, times)
	missing := g1
	missing.ID = "none"
	testkit.WantCode(t, s.RotateOAuthGrant(ctx, missing, "h0"), provisioner.ENOTFOUND)

	at := base.Add(2 * time.Hour)
	rev, revoked, err := s.RevokeOAuthGrant(ctx, "g1", at, "logout")
	ok(t, err)
	want := next
	want.RevokedAt, want.Reason = at, "logout"
	if !revoked {
		t.Fatal("RevokeOAuthGrant: ok = false on a live grant")
	}
	wantEqual(t, "revoked grant", rev, want, times)
	got, _ = s.GetOAuthGrant(ctx, "g1")
	wantEqual(t, "stored revoked grant", got, want, times)
	if _, again, err := s.RevokeOAuthGrant(ctx, "g1", at.Add(time.Hour), "again"); err != nil || again {
		t.Fatalf("second revoke: ok %v, err %v; want false, nil", again, err)
	}
	got, _ = s.GetOAuthGrant(ctx, "g1")
	wantEqual(t, "grant revoked twice", got, want, times)
	after := want
	after.Current, after.Generation = "h2", 2
	testkit.WantCode(t, s.RotateOAuthGrant(ctx, after, "h1"), provisioner.ECONFLICT)
	_, _, err = s.RevokeOAuthGrant(ctx, "none", at, "x")
	testkit.WantCode(t, err, provisioner.ENOTFOUND)
}

// testOAuthConcurrent: of n concurrent takes of a code (or request), one
// gets it; of n concurrent rotations from one token, one wins.
func testOAuthConcurrent(t *testing.T, s provisioner.Store) {
	ctx := context.Background()
	const n = 8
	ok(t, s.CreateOAuthCode(ctx, provisioner.OAuthCode{Hash: "race", ClientID: "c", User: oauthUser, Created: base, Expires: base.Add(time.Minute)}))
	ok(t, s.CreateOAuthRequest(ctx, provisioner.OAuthRequest{ID: "race", Browser: "b", ClientID: "c", Created: base, Expires: base.Add(time.Minute)}))
	ok(t, s.CreateOAuthGrant(ctx, provisioner.OAuthGrant{ID: "race", ClientID: "c", User: oauthUser, Current: "h0", Created: base, Expires: base.Add(time.Hour)}))
	var mu sync.Mutex
	wins := map[string]int{}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, cerr := s.TakeOAuthCode(ctx, "race")
			_, rerr := s.TakeOAuthRequest(ctx, "race")
			g := provisioner.OAuthGrant{ID: "race", ClientID: "c", User: oauthUser, Current: fmt.Sprintf("h1-%d", i), Generation: 1, Created: base, Expires: base.Add(time.Hour)}
			gerr := s.RotateOAuthGrant(ctx, g, "h0")
			mu.Lock()
			defer mu.Unlock()
			for what, err := range map[string]error{"code": cerr, "request": rerr, "rotate": gerr} {
				switch provisioner.ErrorCode(err) {
				case "":
					wins[what]++
				case provisioner.ECONFLICT, provisioner.ENOTFOUND:
				default:
					t.Errorf("%s: %v", what, err)
				}
			}
		})
	}
	wg.Wait()
	for _, what := range []string{"code", "request", "rotate"} {
		if wins[what] != 1 {
			t.Errorf("%d concurrent %s calls: %d succeeded, want exactly 1", n, what, wins[what])
		}
	}
	g, err := s.GetOAuthGrant(ctx, "race")
	ok(t, err)
	if g.Generation != 1 || len(g.Current) < 4 || g.Current[:3] != "h1-" {
		t.Fatalf("grant after the race = %+v", g)
	}
}

func grantIDs(gs []provisioner.OAuthGrant) []string {
	return ids(gs, func(g provisioner.OAuthGrant) string { return g.ID })
}

// wantEqual is wantSame for records with slices: times UTC and equal,
// everything else deeply equal, empty and nil slices alike.
func wantEqual[T any](t testing.TB, what string, got, want T, times func(*T) []*time.Time) {
	t.Helper()
	g, w := got, want
	gt, wt := times(&g), times(&w)
	for i := range gt {
		if !gt[i].IsZero() {
			wantUTC(t, *gt[i])
		}
		if !gt[i].Equal(*wt[i]) {
			t.Fatalf("%s = %+v, want %+v", what, got, want)
		}
		*gt[i], *wt[i] = time.Time{}, time.Time{}
	}
	if !reflect.DeepEqual(normalize(reflect.ValueOf(&g).Elem()), normalize(reflect.ValueOf(&w).Elem())) {
		t.Fatalf("%s = %+v, want %+v", what, got, want)
	}
}

// normalize returns v's fields with empty slices as nil, for DeepEqual.
func normalize(v reflect.Value) any {
	switch v.Kind() {
	case reflect.Struct:
		out := make([]any, v.NumField())
		for i := range out {
			if v.Type().Field(i).IsExported() {
				out[i] = normalize(v.Field(i))
			}
		}
		return out
	case reflect.Slice:
		if v.Len() == 0 {
			return nil
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = normalize(v.Index(i))
		}
		return out
	case reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		return normalize(v.Elem())
	}
	return v.Interface()
}
