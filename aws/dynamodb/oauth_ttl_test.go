package dynamodb

import (
	"strconv"
	"testing"
	"time"

	"provisioner"
)

// TestOAuthTTL: every OAuth record expires through the TTL attribute an
// hour after its own expiry (a used code outlives its expiry a little, to
// recognise a replay), and keeps doing so when taken, touched, rotated or
// revoked.
func TestOAuthTTL(t *testing.T) {
	c := newClient(t)
	table := newTable(t, c)
	s := New(c, table)
	ctx := t.Context()
	u := provisioner.User{Login: "ada", ID: 1, Level: provisioner.LevelAdmin}
	exp := base.Add(time.Minute)
	ok(t, s.CreateOAuthClient(ctx, provisioner.OAuthClient{ID: "c1", IssuedAt: base, Expires: exp}))
	ok(t, s.TouchOAuthClient(ctx, "c1", base, exp.Add(time.Hour)))
	ok(t, s.CreateOAuthRequest(ctx, provisioner.OAuthRequest{ID: "r1", Browser: "b", ClientID: "c1", Created: base, Expires: exp}))
	_, err := s.TakeOAuthRequest(ctx, "r1")
	ok(t, err)
	ok(t, s.CreateOAuthCode(ctx, provisioner.OAuthCode{Hash: "h1", ClientID: "c1", User: u, Created: base, Expires: exp}))
	_, err = s.TakeOAuthCode(ctx, "h1")
	ok(t, err)
	g := provisioner.OAuthGrant{ID: "g1", ClientID: "c1", User: u, Current: "x", Created: base, Expires: exp.Add(2 * time.Hour)}
	ok(t, s.CreateOAuthGrant(ctx, g))
	next := g
	next.Current, next.Generation = "y", 1
	ok(t, s.RotateOAuthGrant(ctx, next, "x"))
	_, _, err = s.RevokeOAuthGrant(ctx, "g1", base, "test")
	ok(t, err)

	items := rawItems(t, c, table)
	for key, want := range map[string]time.Time{
		"OAUTHCLIENT#c1|CLIENT": exp.Add(time.Hour),
		"OAUTHREQ#r1|REQ":       exp,
		"OAUTHCODE#h1|CODE":     exp,
		"OAUTHGRANT#g1|GRANT":   exp.Add(2 * time.Hour),
	} {
		it, found := items[key]
		if !found {
			t.Fatalf("no item %s", key)
		}
		d := decoder{it: it}
		if got := d.num(attrTTL); got != want.Add(time.Hour).Unix() {
			t.Errorf("%s ttl = %d, want %d (%s)", key, got, want.Add(time.Hour).Unix(), strconv.Quote(want.Add(time.Hour).String()))
		}
	}
}
