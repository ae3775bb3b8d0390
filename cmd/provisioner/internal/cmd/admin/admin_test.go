package admin

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"provisioner"
	"provisioner/cmd/provisioner/internal/cmdtest"
	"provisioner/cmd/provisioner/internal/cmdutil"
)

func usage(t *testing.T, err error, want string) {
	t.Helper()
	var fe *cmdutil.FlagError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v, want a usage error with %q", err, want)
	}
}

func TestNewCmdAudit(t *testing.T) {
	for _, tt := range []struct {
		args    string
		want    provisioner.AuditFilter
		json    bool
		wantErr string
	}{
		{args: "audit", want: provisioner.AuditFilter{Limit: 100}},
		{args: "audit --actor ada --action access --since 24h --limit 5 --json",
			want: provisioner.AuditFilter{Actor: "ada", Action: "access", Since: cmdtest.Now.Add(-24 * time.Hour), Limit: 5}, json: true},
		{args: "audit --since -1h", wantErr: "--since must be positive"},
		{args: "audit --limit abc", wantErr: `invalid argument "abc" for "--limit"`},
		{args: "audit x", wantErr: `unknown command "x" for "provisioner audit"`},
	} {
		t.Run(tt.args, func(t *testing.T) {
			f, _, _ := cmdtest.Factory(t)
			var got *AuditOptions
			err := cmdtest.Run(f, NewCmdAudit(f, func(o *AuditOptions) error { got = o; return nil }), tt.args)
			if tt.wantErr != "" {
				usage(t, err, tt.wantErr)
				return
			}
			if err != nil || got.Filter != tt.want || got.JSON != tt.json {
				t.Errorf("got %+v %v, want %+v", got, err, tt.want)
			}
		})
	}
}

func TestNewCmdAuditExport(t *testing.T) {
	f, _, _ := cmdtest.Factory(t)
	var got *AuditExportOptions
	if err := cmdtest.Run(f, NewCmdAuditExport(f, func(o *AuditExportOptions) error { got = o; return nil }), "export"); err != nil ||
		!got.Since.Equal(cmdtest.Now.Add(-24*time.Hour)) {
		t.Errorf("default window: %+v %v", got, err)
	}
	if err := cmdtest.Run(f, NewCmdAuditExport(f, func(o *AuditExportOptions) error { got = o; return nil }), "export --since 1h"); err != nil ||
		!got.Since.Equal(cmdtest.Now.Add(-time.Hour)) {
		t.Errorf("--since 1h: %+v %v", got, err)
	}
	usage(t, cmdtest.Run(f, NewCmdAuditExport(f, nil), "export --since 0s"), "--since must be positive")
}

func TestNewCmdUsersRevoke(t *testing.T) {
	f, out, _ := cmdtest.Factory(t)
	var got *UsersRevokeOptions
	users := NewCmdUsers(f)
	users.RemoveCommand(users.Commands()...)
	users.AddCommand(NewCmdUsersRevoke(f, func(o *UsersRevokeOptions) error { got = o; return nil }))
	if err := cmdtest.Run(f, users, "users revoke otto --json"); err != nil || got.Login != "otto" || !got.JSON {
		t.Errorf("got %+v %v", got, err)
	}
	usage(t, cmdtest.Run(f, users, "users revoke"), "accepts 1 arg(s), received 0")
	usage(t, cmdtest.Run(f, users, "users forget otto"), `unknown command "forget" for "provisioner users"`)
	if err := cmdtest.Run(f, users, "users"); err != nil || !strings.Contains(out.String(), "Available Commands:") {
		t.Errorf("users alone shows its help: %v %q", err, out.String())
	}
}

func TestNewCmdKeys(t *testing.T) {
	for _, tt := range []struct {
		args    string
		want    KeysOptions
		wantErr string
	}{
		{args: "keys rotate --data d", want: KeysOptions{Action: "rotate", Data: "d", MaxLifetime: 24 * time.Hour}},
		{args: "keys --data d list --max-token-lifetime 1h", want: KeysOptions{Action: "list", Data: "d", MaxLifetime: time.Hour}},
		{args: "keys revoke k1 --data d --json", want: KeysOptions{Action: "revoke", Data: "d", MaxLifetime: 24 * time.Hour, KID: "k1", JSON: true}},
		{args: "keys revoke --data d", wantErr: "accepts 1 arg(s), received 0"},
		{args: "keys rotate now", wantErr: `unknown command "now" for "provisioner keys rotate"`},
		{args: "keys bogus", wantErr: `unknown command "bogus" for "provisioner keys"`},
	} {
		t.Run(tt.args, func(t *testing.T) {
			f, _, _ := cmdtest.Factory(t)
			var got KeysOptions
			err := cmdtest.Run(f, NewCmdKeys(f, func(o *KeysOptions) error { got = *o; got.IO = nil; return nil }), tt.args)
			if tt.wantErr != "" {
				usage(t, err, tt.wantErr)
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %+v %v\nwant %+v", got, err, tt.want)
			}
		})
	}
}

// TestKeysRun: rotate, list and revoke on a data directory; list is a
// table with a header on a terminal.
func TestKeysRun(t *testing.T) {
	f, out, errb := cmdtest.Factory(t)
	data := filepath.Join(t.TempDir(), "data")
	if err := cmdtest.Run(f, NewCmdKeys(f, nil), "keys rotate --data "+data); err != nil || !strings.Contains(errb.String(), "is current") {
		t.Fatalf("rotate: %v %q", err, errb.String())
	}
	if err := cmdtest.Run(f, NewCmdKeys(f, nil), "keys rotate --data "+data); err != nil {
		t.Fatal(err)
	}
	if err := cmdtest.Run(f, NewCmdKeys(f, nil), "keys list --data "+data); err != nil {
		t.Fatal(err)
	}
	rows := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(rows) != 2 || strings.Count(rows[0], "\t") != 3 || (!strings.HasSuffix(rows[1], "\tcurrent") && !strings.HasSuffix(rows[0], "\tcurrent")) {
		t.Fatalf("list, plain: %q", out.String())
	}
	out.Reset()
	f.IOStreams.SetStdoutTTY(true)
	if err := cmdtest.Run(f, NewCmdKeys(f, nil), "keys list --data "+data); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "KID ") || strings.Contains(out.String(), "\t") {
		t.Errorf("list, terminal: %q", out.String())
	}
	kid := strings.Fields(rows[0])[0]
	errb.Reset()
	if err := cmdtest.Run(f, NewCmdKeys(f, nil), "keys revoke "+kid+" --data "+data); err != nil || !strings.Contains(errb.String(), "Signing key "+kid+" revoked") {
		t.Errorf("revoke: %v %q", err, errb.String())
	}
}
