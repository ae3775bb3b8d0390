package keyring

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"provisioner"
)

func TestRotateKeepsOldKey(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	k := open(t, Config{Dir: t.TempDir(), Now: clk.Now})
	msg := []byte("signed before rotation")
	sig, oldKid, _, _ := k.Sign(ctx, msg)

	clk.Add(time.Hour)
	newKid, err := k.Rotate()
	if err != nil {
		t.Fatal(err)
	}
	if newKid == oldKid {
		t.Fatal("rotation kept the same key")
	}
	if cur, _, _ := k.Current(ctx); cur != newKid {
		t.Errorf("current = %q, want the new key %q", cur, newKid)
	}
	if _, kid, _, _ := k.Sign(ctx, msg); kid != newKid {
		t.Errorf("Sign used %q, want %q", kid, newKid)
	}
	old, err := k.PublicKey(ctx, oldKid)
	if err != nil {
		t.Fatalf("old key gone after rotation: %v", err)
	}
	verify(t, old, msg, sig)
	info := k.Keys()[0]
	if !info.RetiredAt.Equal(clk.Now()) {
		t.Errorf("retired_at = %v, want %v", info.RetiredAt, clk.Now())
	}
}

func TestPruneAfterLifetime(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	dir := t.TempDir()
	k := open(t, Config{Dir: dir, Now: clk.Now, MaxTokenLifetime: 2 * time.Hour})
	oldKid, _, _ := k.Current(ctx)
	if _, err := k.Rotate(); err != nil {
		t.Fatal(err)
	}
	oldFile := filepath.Join(dir, keyFileName(oldKid))

	clk.Add(2 * time.Hour) // lifetime over, grace not yet
	if _, err := k.PublicKey(ctx, oldKid); err != nil {
		t.Fatalf("old key pruned before the grace period: %v", err)
	}
	clk.Add(pruneGrace)
	if _, err := k.PublicKey(ctx, oldKid); provisioner.ErrorCode(err) != provisioner.ENOTFOUND {
		t.Fatalf("old key still served after its lifetime: %v", err)
	}
	if keys, _ := k.PublicKeys(ctx); len(keys) != 1 || keys[0].ID == oldKid {
		t.Errorf("PublicKeys = %v, want only the current key", kids(keys))
	}
	if _, err := os.Stat(oldFile); err != nil {
		t.Fatalf("file removed before Prune: %v", err)
	}
	if err := k.Prune(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(oldFile); !os.IsNotExist(err) {
		t.Errorf("old key file still there after Prune: %v", err)
	}
	if n := len(k.Keys()); n != 1 {
		t.Errorf("manifest lists %d keys after Prune, want 1", n)
	}
}

func TestOpenPrunes(t *testing.T) {
	clk := newClock()
	dir := t.TempDir()
	k := open(t, Config{Dir: dir, Now: clk.Now})
	oldKid, _, _ := k.Current(context.Background())
	if _, err := k.Rotate(); err != nil {
		t.Fatal(err)
	}
	clk.Add(DefaultMaxTokenLifetime + pruneGrace)
	open(t, Config{Dir: dir, Now: clk.Now})
	if _, err := os.Stat(filepath.Join(dir, keyFileName(oldKid))); !os.IsNotExist(err) {
		t.Errorf("Open did not prune the expired key: %v", err)
	}
}

func TestSecondInstanceSeesRotation(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	server := open(t, Config{Dir: dir, CheckInterval: -1})
	oldKid, _, _ := server.Current(ctx)

	newKid, err := Rotate(Config{Dir: dir}) // as `provisioner keys rotate` would
	if err != nil {
		t.Fatal(err)
	}
	if cur, _, _ := server.Current(ctx); cur != newKid {
		t.Errorf("server current = %q, want %q", cur, newKid)
	}
	if keys, _ := server.PublicKeys(ctx); !slices.Equal(kids(keys), []string{newKid, oldKid}) {
		t.Errorf("server PublicKeys = %v", kids(keys))
	}
}

func TestUnknownKidForcesReload(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	server := open(t, Config{Dir: dir, CheckInterval: time.Hour})
	server.Current(ctx) // uses up the periodic check
	newKid, err := Rotate(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := server.PublicKey(ctx, newKid); err != nil {
		t.Fatalf("new key not found by a running keyring: %v", err)
	}
	// The periodic check has not run, but the reload made the key current.
	if cur, _, _ := server.Current(ctx); cur != newKid {
		t.Errorf("current = %q, want %q", cur, newKid)
	}
	// A second unknown kid within the second does not stat again.
	if server.refresh(true) {
		t.Error("forced refresh not rate-limited")
	}
}

// TestRotateFromAnotherProcess runs `Rotate` in a child process, as the CLI
// does while `serve` runs.
func TestRotateFromAnotherProcess(t *testing.T) {
	if os.Getenv("LOCAL_TEST_ROTATE_DIR") != "" {
		t.Skip("in the child")
	}
	ctx := context.Background()
	dir := t.TempDir()
	server := open(t, Config{Dir: dir, CheckInterval: -1})
	oldKid, _, _ := server.Current(ctx)

	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperRotate$", "-test.v")
	cmd.Env = append(os.Environ(), "LOCAL_TEST_ROTATE_DIR="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	_, after, ok := strings.Cut(string(out), "NEWKID=")
	newKid, _, _ := strings.Cut(after, "\n")
	if !ok || newKid == "" {
		t.Fatalf("child printed no kid:\n%s", out)
	}
	if cur, _, _ := server.Current(ctx); cur != newKid || cur == oldKid {
		t.Errorf("server current = %q, want %q", cur, newKid)
	}
}

func TestHelperRotate(t *testing.T) {
	dir := os.Getenv("LOCAL_TEST_ROTATE_DIR")
	if dir == "" {
		t.Skip("helper for TestRotateFromAnotherProcess")
	}
	kid, err := Rotate(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("NEWKID=" + kid + "\n")
}

// TestConcurrentRotation signs and verifies from many goroutines while two
// keyrings on the same directory rotate; every signature must verify with
// the key its kid names.
func TestConcurrentRotation(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	server := open(t, Config{Dir: dir, CheckInterval: -1})
	other := open(t, Config{Dir: dir, CheckInterval: -1})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			msg := []byte("msg")
			for {
				select {
				case <-stop:
					return
				default:
				}
				sig, kid, _, err := server.Sign(ctx, msg)
				if err != nil {
					t.Error(err)
					return
				}
				pk, err := server.PublicKey(ctx, kid)
				if err != nil {
					t.Errorf("PublicKey(%s): %v", kid, err)
					return
				}
				verify(t, pk, msg, sig)
			}
		})
	}
	for i := range 10 {
		rot := server
		if i%2 == 1 {
			rot = other
		}
		if _, err := rot.Rotate(); err != nil {
			t.Error(err)
		}
	}
	close(stop)
	wg.Wait()
	if n := len(other.Keys()); n != 11 {
		t.Errorf("%d keys after 10 rotations, want 11", n)
	}
}

func TestRevokeWithdrawsAtOnce(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	k := open(t, Config{Dir: dir})
	first, _, _ := k.Current(ctx)
	second, err := k.Rotate()
	if err != nil {
		t.Fatal(err)
	}
	// Revoking a retired key: gone from the key set and the directory.
	cur, err := k.Revoke(first)
	if err != nil || cur != second {
		t.Fatalf("Revoke(retired) = %q, %v; want current %q", cur, err, second)
	}
	if _, err := k.PublicKey(ctx, first); provisioner.ErrorCode(err) != provisioner.ENOTFOUND {
		t.Errorf("revoked key still verifies: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, keyFileName(first))); !os.IsNotExist(err) {
		t.Errorf("revoked key file still there: %v", err)
	}
	// Revoking the current key makes a new one current.
	cur, err = k.Revoke(second)
	if err != nil || cur == second || cur == "" {
		t.Fatalf("Revoke(current) = %q, %v", cur, err)
	}
	if kid, _, _ := k.Current(ctx); kid != cur {
		t.Errorf("current = %q, want %q", kid, cur)
	}
	if keys, _ := k.PublicKeys(ctx); len(keys) != 1 || keys[0].ID != cur {
		t.Errorf("PublicKeys = %v, want only %q", kids(keys), cur)
	}
	if _, err := k.Revoke("no-such-key-at-all"); provisioner.ErrorCode(err) != provisioner.ENOTFOUND {
		t.Errorf("Revoke(unknown) = %v, want ENOTFOUND", err)
	}
}

func TestLegacyES256KeysArePruned(t *testing.T) {
	dir := t.TempDir()
	legacy := `{"version":1,"keys":[{"kid":"legacyLegacyLegacyLegacy","alg":"ES256","created_at":"2025-01-01T00:00:00Z"}]}`
	if err := os.WriteFile(filepath.Join(dir, manifestName), []byte(legacy), 0o600); err != nil {
		t.Fatal(err)
	}
	k := open(t, Config{Dir: dir})
	kid, alg, err := k.Current(context.Background())
	if err != nil || alg != AlgRS256 || kid == "legacyLegacyLegacyLegacy" {
		t.Fatalf("Current = %q, %q, %v; want a new RS256 key", kid, alg, err)
	}
	if n := len(k.Keys()); n != 1 {
		t.Errorf("%d keys after upgrade, want 1", n)
	}
}

// TestSecondInstanceSeesRevocation: a key revoked by another process (as
// `provisioner keys revoke` would) stops verifying in a running keyring at
// its next manifest check, and revoking it again finds nothing.
func TestSecondInstanceSeesRevocation(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	server := open(t, Config{Dir: dir, CheckInterval: -1})
	oldKid, _, _ := server.Current(ctx)
	newKid, err := Rotate(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if keys, _ := server.PublicKeys(ctx); !slices.Equal(kids(keys), []string{newKid, oldKid}) {
		t.Fatalf("PublicKeys before revocation = %v", kids(keys))
	}
	cur, err := Revoke(Config{Dir: dir}, oldKid)
	if err != nil || cur != newKid {
		t.Fatalf("Revoke = %q, %v; want current %q", cur, err, newKid)
	}
	if _, err := server.PublicKey(ctx, oldKid); provisioner.ErrorCode(err) != provisioner.ENOTFOUND {
		t.Errorf("revoked key still verifies in the running keyring: %v", err)
	}
	if keys, _ := server.PublicKeys(ctx); !slices.Equal(kids(keys), []string{newKid}) {
		t.Errorf("PublicKeys after revocation = %v", kids(keys))
	}
	if _, err := Revoke(Config{Dir: dir}, oldKid); provisioner.ErrorCode(err) != provisioner.ENOTFOUND {
		t.Errorf("revoking twice: %v, want ENOTFOUND", err)
	}

	// Revoking the only key: a new one signs, RS256 like every key.
	only, err := Revoke(Config{Dir: dir}, newKid)
	if err != nil || only == newKid {
		t.Fatalf("Revoke(only key) = %q, %v", only, err)
	}
	kid, alg, _ := server.Current(ctx)
	if kid != only || alg != AlgRS256 {
		t.Errorf("Current = %q, %q; want %q, RS256", kid, alg, only)
	}
	msg := []byte("header.payload")
	sig, skid, _, err := server.Sign(ctx, msg)
	if err != nil || skid != only {
		t.Fatalf("Sign = %q, %v", skid, err)
	}
	pk, err := server.PublicKey(ctx, only)
	if err != nil {
		t.Fatal(err)
	}
	verify(t, pk, msg, sig)
	entries, _ := os.ReadDir(dir)
	var files []string
	for _, e := range entries {
		files = append(files, e.Name())
	}
	if !slices.Contains(files, keyFileName(only)) || slices.Contains(files, keyFileName(oldKid)) || slices.Contains(files, keyFileName(newKid)) {
		t.Errorf("key files after revocations: %v", files)
	}
}
