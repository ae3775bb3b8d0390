package jwt

import (
	"context"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"provisioner"
	"provisioner/testkit"
)

// revocable is a signer whose key can be withdrawn.
type revocable struct {
	*keySigner
	gone atomic.Bool
}

func (r *revocable) PublicKey(ctx context.Context, kid string) (provisioner.PublicKey, error) {
	if r.gone.Load() {
		return provisioner.PublicKey{}, provisioner.Errorf(provisioner.ENOTFOUND, "no key %s", kid)
	}
	return r.keySigner.PublicKey(ctx, kid)
}

// TestVerifiedCache: a remembered verification answers as the full one
// does, ends at the token's expiry, and ends at once when its key is
// withdrawn; what a caller does to the answer does not reach the cache.
func TestVerifiedCache(t *testing.T) {
	t0 := time.Now().Truncate(time.Second)
	clk := testkit.NewClock(t0)
	r := &revocable{keySigner: rsSigner(t)}
	toks := New(Config{Issuer: issuer, Signer: r, Now: clk.Now, UserTTL: 5 * time.Second})
	tok, _, err := toks.IssueUser(context.Background(), alice, []string{"runner"})
	if err != nil {
		t.Fatal(err)
	}
	first, err := toks.VerifyUser(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	first.Audience[0] = "tampered"
	again, err := toks.VerifyUser(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := New(Config{Issuer: issuer, Signer: r, Now: clk.Now}).VerifyUser(context.Background(), tok)
	if err != nil || !reflect.DeepEqual(again, fresh) {
		t.Fatalf("remembered %+v, verified afresh %+v (%v)", again, fresh, err)
	}
	// A member has no org roles: remembered, still a list ("org_roles": []).
	guest := provisioner.User{Login: "gus", ID: 7, Level: provisioner.LevelMember}
	gtok, _, err := toks.IssueUser(context.Background(), guest, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		got, err := toks.VerifyUser(context.Background(), gtok)
		want, ferr := New(Config{Issuer: issuer, Signer: r, Now: clk.Now}).VerifyUser(context.Background(), gtok)
		if err != nil || ferr != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("member: remembered %#v, afresh %#v (%v, %v)", got.OrgRoles, want.OrgRoles, err, ferr)
		}
	}
	// Past the expiry (and the leeway), refused though remembered.
	clk.Add(5*time.Second + DefaultLeeway + time.Second)
	if _, err := toks.VerifyUser(context.Background(), tok); provisioner.ErrorCode(err) != provisioner.EUNAUTHORIZED {
		t.Fatalf("an expired token: %v", err)
	}
	// A withdrawn key ends the entries of its tokens at once.
	clk.Set(t0)
	if _, err := toks.VerifyUser(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	r.gone.Store(true)
	if _, err := toks.VerifyUser(context.Background(), tok); provisioner.ErrorCode(err) != provisioner.EUNAUTHORIZED {
		t.Fatalf("a token of a withdrawn key: %v", err)
	}
}
