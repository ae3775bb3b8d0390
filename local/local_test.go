package local

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"provisioner"
	"provisioner/local/keyring"
)

// config is a Config on a fresh data directory with the example static
// identity: neither clusters nor jobs.
func config(t *testing.T) Config {
	t.Helper()
	return Config{Data: filepath.Join(t.TempDir(), "data"), Addr: "127.0.0.1:0",
		StaticIdentity: filepath.Join("..", "examples", "identity.json")}
}

func open(t *testing.T, c Config) *Backend {
	t.Helper()
	b, err := c.Open(context.Background())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// A first start makes the data directory and builds the parts: no Driver
// and no Runner without their settings, so DEPLOY, TEST and RELEASE are
// disabled.
func TestOpenFirstStart(t *testing.T) {
	c := config(t)
	b := open(t, c)
	if b.Store == nil || b.Signer == nil || b.Keys == nil || b.Scheduler == nil || b.Logs == nil || b.Identity == nil || b.Signatures == nil {
		t.Fatalf("missing parts: %+v", b)
	}
	if b.Driver != nil || b.Clusters != nil || b.Runner != nil || b.Device != nil || b.Actions != nil || b.Membership != nil || b.Affiliates != nil {
		t.Fatalf("parts that were not configured: %+v", b.Backend)
	}
	if want := "http://" + b.Listener.Addr().String(); b.Issuer != want {
		t.Errorf("issuer %q, want %q", b.Issuer, want)
	}
	if b.Signatures.Policy != provisioner.SignaturesOff {
		t.Errorf("signature policy %q", b.Signatures.Policy)
	}
	for _, name := range []string{dbName, keysDir, logsDir} {
		if _, err := os.Stat(filepath.Join(c.Data, name)); err != nil {
			t.Errorf("data directory lacks %s: %v", name, err)
		}
	}
	if fi, err := os.Stat(c.Data); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("data directory: %v %v", fi.Mode(), err)
	}
	c.Issuer = "https://provisioner.example.org"
	b.Close()
	if b2 := open(t, c); b2.Issuer != c.Issuer {
		t.Errorf("issuer %q, want %q", b2.Issuer, c.Issuer)
	}
}

// The data directory is one service's: a second Open is refused, naming
// the holder, until the first closes.
func TestOpenLocksData(t *testing.T) {
	c := config(t)
	b := open(t, c)
	_, err := c.Open(context.Background())
	if err == nil || !strings.Contains(err.Error(), "in use by process "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("second Open: %v", err)
	}
	if err := DestroyQuarantined(context.Background(), c.Data, "any"); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("DestroyQuarantined beside a backend: %v", err)
	}
	b.Close()
	open(t, c)
}

// A missing or empty database beside the keys of an earlier run is refused
// (and left as it is) unless RecreateDB says to begin anew.
func TestOpenRefusesLostDatabase(t *testing.T) {
	c := config(t)
	if _, err := keyring.Open(keyring.Config{Dir: filepath.Join(c.Data, keysDir)}); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(c.Data, dbName)
	_, err := c.Open(context.Background())
	if provisioner.ErrorCode(err) != provisioner.ESTORAGECORRUPT || !strings.Contains(err.Error(), "is missing") ||
		!strings.Contains(err.Error(), "signing keys") || !strings.Contains(err.Error(), "--recreate-db") {
		t.Fatalf("missing database: %v", err)
	}
	if _, err := os.Stat(db); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the refused Open created a database: %v", err)
	}
	if err := os.WriteFile(db, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Open(context.Background()); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Fatalf("empty database: %v", err)
	}
	c.RecreateDB = true
	open(t, c).Close()
	c.RecreateDB = false
	open(t, c) // the database is there now
}

// Errors in the configuration are ConfigErrors (serve's usage errors) that
// name the flag; others are not.
func TestOpenConfigErrors(t *testing.T) {
	badAffiliates := filepath.Join(t.TempDir(), "affiliates.json")
	if err := os.WriteFile(badAffiliates, []byte(`{"gus": {"active": true, "max_nodes": 0}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		change func(*Config)
		want   string
		config bool
	}{
		"policy without keys":  {func(c *Config) { c.SignaturePolicy = provisioner.SignaturesEveryone }, "--signing-keys", true},
		"missing signing keys": {func(c *Config) { c.SigningKeys = filepath.Join(t.TempDir(), "none") }, "--signing-keys", true},
		"bad affiliates":       {func(c *Config) { c.Affiliates = badAffiliates }, "--affiliates", true},
		"actions without org":  {func(c *Config) { c.GitHub.ActionsAudience = "x" }, "--github-org", true},
		"bad upstream":         {func(c *Config) { c.ClusterUpstream = "ftp://x" }, "--cluster-upstream", true},
		"bad ILB directory":    {func(c *Config) { c.ClusterCommand, c.ILBDir = "true", t.TempDir() }, "--ilb-dir", true},
		"bad plans":            {func(c *Config) { c.SlideruleRepo, c.Plans = "/repo", filepath.Join(t.TempDir(), "none") }, "--plans", true},
		"missing identity":     {func(c *Config) { c.StaticIdentity = filepath.Join(t.TempDir(), "none") }, "none", false},
	} {
		t.Run(name, func(t *testing.T) {
			c := config(t)
			tc.change(&c)
			_, err := c.Open(context.Background())
			_, isConfig := errors.AsType[*ConfigError](err)
			if err == nil || !strings.Contains(err.Error(), tc.want) || isConfig != tc.config {
				t.Fatalf("Open: %v (a ConfigError: %t), want one naming %s (a ConfigError: %t)", err, isConfig, tc.want, tc.config)
			}
			// A refused Open leaves the directory free.
			c = config(t)
			open(t, c)
		})
	}
}

// Start runs the scheduler, which fires the destroys that fall due through
// the function Start was given; Wait returns once the context ends.
func TestStartFires(t *testing.T) {
	b := open(t, config(t))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fired := make(chan string, 1)
	b.Start(ctx, func(_ context.Context, cluster string, _ time.Time) error {
		fired <- cluster
		return nil
	})
	if err := b.Scheduler.SetDestroy(ctx, "due", time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-fired:
		if got != "due" {
			t.Fatalf("fired %q", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the due destroy did not fire")
	}
	cancel()
	if err := b.Wait(); err != nil {
		t.Fatalf("Wait: %v", err)
	}
}

// The clusters with local state and no record are the quarantined ones;
// only those can be destroyed by DestroyQuarantined.
func TestQuarantined(t *testing.T) {
	c := config(t)
	clusters := filepath.Join(c.Data, clustersDir)
	if err := os.MkdirAll(clusters, 0o700); err != nil {
		t.Fatal(err)
	}
	// Unreadable state: destroying it removes the file, and starts nothing.
	for _, name := range []string{"lost", "other"} {
		if err := os.WriteFile(filepath.Join(clusters, name+".json"), []byte("{}"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	names, err := Quarantined(ctx, c.Data)
	if err != nil || strings.Join(names, " ") != "lost other" {
		t.Fatalf("Quarantined without a database: %v %v", names, err)
	}
	if _, err := os.Stat(filepath.Join(c.Data, dbName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Quarantined created a database: %v", err)
	}
	if err := DestroyQuarantined(ctx, c.Data, "nope"); provisioner.ErrorCode(err) != provisioner.ENOTFOUND {
		t.Fatalf("DestroyQuarantined of an unknown cluster: %v", err)
	}
	if err := DestroyQuarantined(ctx, c.Data, "lost"); err != nil {
		t.Fatal(err)
	}
	if names, err := Quarantined(ctx, c.Data); err != nil || strings.Join(names, " ") != "other" {
		t.Fatalf("Quarantined after the destroy: %v %v", names, err)
	}
}
