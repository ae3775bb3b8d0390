package jwt

import (
	"context"
	"testing"

	"provisioner"
)

// A jwt_cluster names the session that asked for it ("sid"), so revoking
// the session stops it at gateways; tokens are never reused across
// sessions, and a jwt_user carries no sid.
func TestClusterTokenSession(t *testing.T) {
	ctx := context.Background()
	tk := newTokens(rsSigner(t), fixed(t0))
	u := provisioner.User{Login: "alice", ID: 42, Level: provisioner.LevelOrgMember, Session: "s1"}
	tok1, c1, err := tk.IssueCluster(ctx, u, "demo")
	if err != nil {
		t.Fatal(err)
	}
	v, err := tk.VerifyCluster(ctx, tok1, "demo")
	if err != nil || v.Session != "s1" || v.SessionID() != "s1" || c1.Session != "s1" {
		t.Fatalf("jwt_cluster sid = %q (%v), want s1", v.Session, err)
	}
	u2 := u
	u2.Session = "s2"
	tok2, c2, err := tk.IssueCluster(ctx, u2, "demo")
	if err != nil || tok2 == tok1 || c2.Session != "s2" {
		t.Fatalf("another session reused %v's token (%v)", c1.ID, err)
	}
	ut, uc, err := tk.IssueUser(ctx, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	vu, err := tk.VerifyUser(ctx, ut)
	if err != nil || vu.Session != "" || vu.SessionID() != uc.ID {
		t.Fatalf("jwt_user: sid %q, session %q, want none and its jti %q (%v)", vu.Session, vu.SessionID(), uc.ID, err)
	}
}
