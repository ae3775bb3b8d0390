package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"provisioner"
	"provisioner/jwt"
	"provisioner/local/keyring"
)

// fullAudit is a store whose audit table cannot be written, as on a full disk.
type fullAudit struct {
	provisioner.Store
	writes int
}

func (s *fullAudit) AppendAudit(context.Context, provisioner.AuditEntry) error {
	s.writes++
	return provisioner.Wrap(provisioner.ESTORAGEFULL, errors.New("database or disk is full (13)"), "append audit entry: storage full")
}

// TestFaultAuditWriteFailsRequest: an ACCESS whose audit entry cannot be
// written fails with the storage's code and hands out no token; the
// store is left as it was.
func TestFaultAuditWriteFailsRequest(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.deployed(t, admin, "pub", true)
	keys, err := keyring.Open(keyring.Config{Dir: filepath.Join(t.TempDir(), "keys")})
	if err != nil {
		t.Fatal(err)
	}
	store := &fullAudit{Store: f.store}
	a := New(Config{Store: store, Tokens: jwt.New(jwt.Config{Issuer: "http://test", Signer: keys}),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: f.clock.Now,
		Driver: f.driver, Scheduler: f.sched, Poll: time.Millisecond})

	acc, err := a.Access(ctx, member, "pub")
	wantCode(t, err, provisioner.ESTORAGEFULL)
	if acc.Token != "" {
		t.Fatal("a token was handed out that the audit log does not show")
	}
	if store.writes != 1 {
		t.Fatalf("%d audit writes, want 1", store.writes)
	}
	// A refused request keeps its own answer.
	_, err = a.Access(ctx, member, "absent")
	wantCode(t, err, provisioner.ENOTFOUND)
	// The same request with a working audit log succeeds.
	if acc, err := f.app.Access(ctx, member, "pub"); err != nil || acc.Token == "" {
		t.Fatalf("access with a working audit log: %v", err)
	}
}
