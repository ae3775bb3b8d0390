package auth

import (
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"

	"provisioner"
	"provisioner/api"
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

func TestNewCmdLogin(t *testing.T) {
	for _, tt := range []struct {
		args    string
		want    LoginOptions
		wantErr string
	}{
		{args: "login", want: LoginOptions{Server: "http://127.0.0.1:8080", Audience: "sliderule-provisioner"}},
		{args: "login --pat p1 --server http://h:1 --json", want: LoginOptions{Server: "http://h:1", JSON: true, PAT: "p1", Audience: "sliderule-provisioner"}},
		{args: "login --with-token", want: LoginOptions{Server: "http://127.0.0.1:8080", WithToken: true, Audience: "sliderule-provisioner"}},
		{args: "login --device", want: LoginOptions{Server: "http://127.0.0.1:8080", Device: true, Audience: "sliderule-provisioner"}},
		{args: "login --github-actions --audience other",
			want: LoginOptions{Server: "http://127.0.0.1:8080", GitHubActions: true, Audience: "other"}},
		{args: "login --pat x --device", wantErr: "none of the others can be"},
		{args: "login extra", wantErr: `unknown command "extra" for "provisioner login"`},
		{args: "login --pat", wantErr: "flag needs an argument: --pat"},
	} {
		t.Run(tt.args, func(t *testing.T) {
			f, _, _ := cmdtest.Factory(t)
			var got *LoginOptions
			err := cmdtest.Run(f, NewCmdLogin(f, func(o *LoginOptions) error { got = o; return nil }), tt.args)
			if tt.wantErr != "" {
				usage(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Server != tt.want.Server || got.JSON != tt.want.JSON || got.PAT != tt.want.PAT || got.WithToken != tt.want.WithToken ||
				got.Device != tt.want.Device || got.GitHubActions != tt.want.GitHubActions || got.Audience != tt.want.Audience {
				t.Errorf("got %+v\nwant %+v", *got, tt.want)
			}
		})
	}
}

func TestNewCmdLogoutWhoami(t *testing.T) {
	f, _, _ := cmdtest.Factory(t)
	var lo *LogoutOptions
	if err := cmdtest.Run(f, NewCmdLogout(f, func(o *LogoutOptions) error { lo = o; return nil }), "logout --server http://h:2"); err != nil || lo.Server != "http://h:2" {
		t.Errorf("logout: %+v %v", lo, err)
	}
	usage(t, cmdtest.Run(f, NewCmdLogout(f, nil), "logout now"), `unknown command "now"`)
	var w *WhoamiOptions
	if err := cmdtest.Run(f, NewCmdWhoami(f, func(o *WhoamiOptions) error { w = o; return nil }), "whoami --json"); err != nil || !w.JSON {
		t.Errorf("whoami: %+v %v", w, err)
	}
}

var ada = api.Login{Status: "success", Token: "tok-ada",
	Metadata: api.Metadata{Subject: "ada", Level: "admin", Org: "sliderule", ExpiresAt: cmdtest.Now.Unix() + 3600}}

// TestLoginWithToken: a PAT on standard input logs in, and the token is
// cached for the server.
func TestLoginWithToken(t *testing.T) {
	f, _, errb := cmdtest.Factory(t)
	url := cmdtest.API(t, f, map[string][]cmdtest.Answer{"POST /auth/github/pat": cmdtest.OK(ada)})
	cmdtest.Stdin(f, "ghp_secret\n")
	if err := cmdtest.Run(f, NewCmdLogin(f, nil), "login --with-token --server "+url); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errb.String(), "Logged in to "+url+" as ada (admin)") {
		t.Errorf("stderr: %q", errb.String())
	}
	if tok, err := f.Creds.Get(url, cmdtest.Now); err != nil || tok != "tok-ada" {
		t.Errorf("cached token %q %v", tok, err)
	}
	if fi, err := os.Stat(f.Creds.Path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("cache file: %v %v", fi, err)
	}
	usage(t, cmdtest.Run(f, NewCmdLogin(f, nil), "login --with-token --server "+url), "--with-token: no token on standard input")
}

// TestLoginWithoutCredentials: with no credentials, a terminal (stdin and
// stderr) gets the device flow; a script gets a usage error.
func TestLoginWithoutCredentials(t *testing.T) {
	t.Setenv("GITHUB_TOKEN", "")
	t.Setenv("SLIDERULE_GITHUB_TOKEN", "")
	f, _, _ := cmdtest.Factory(t)
	usage(t, cmdtest.Run(f, NewCmdLogin(f, nil), "login --server http://127.0.0.1:1"), "no credentials")

	f, _, errb := cmdtest.Factory(t)
	f.IOStreams.SetStdinTTY(true)
	f.IOStreams.SetStderrTTY(true)
	url := cmdtest.API(t, f, map[string][]cmdtest.Answer{
		"POST /auth/github/device": cmdtest.OK(provisioner.DeviceCode{DeviceCode: "dc", UserCode: "ABCD-1234",
			VerificationURI: "https://github.com/login/device", Interval: 1, ExpiresIn: 60}),
		"POST /auth/github/device/poll": {{Status: http.StatusAccepted, Body: map[string]any{"status": "pending", "interval": 1}},
			{Status: http.StatusOK, Body: ada}},
	})
	if err := cmdtest.Run(f, NewCmdLogin(f, nil), "login --server "+url); err != nil {
		t.Fatal(err)
	}
	if s := errb.String(); !strings.Contains(s, "open https://github.com/login/device and enter the code: ABCD-1234") || !strings.Contains(s, "as ada (admin)") {
		t.Errorf("stderr: %q", s)
	}
}

// TestWhoamiOutput: a table with a header on a terminal, one bare row otherwise.
func TestWhoamiOutput(t *testing.T) {
	for _, tty := range []bool{false, true} {
		f, out, _ := cmdtest.Factory(t)
		f.IOStreams.SetStdoutTTY(tty)
		cmdtest.API(t, f, map[string][]cmdtest.Answer{"GET /auth/whoami": cmdtest.OK(api.Whoami{Metadata: ada.Metadata})})
		if err := cmdtest.Run(f, NewCmdWhoami(f, nil), "whoami"); err != nil {
			t.Fatal(err)
		}
		want := "ada\tadmin\tsliderule\t2026-08-01T13:00:00Z\n"
		if tty {
			want = "LOGIN  LEVEL  ORG        EXPIRES\nada    admin  sliderule  2026-08-01T13:00:00Z\n"
		}
		if out.String() != want {
			t.Errorf("tty=%v: %q, want %q", tty, out.String(), want)
		}
	}
}

// TestLogout: the session ends at the server and the token is forgotten.
func TestLogout(t *testing.T) {
	f, _, _ := cmdtest.Factory(t)
	url := cmdtest.API(t, f, map[string][]cmdtest.Answer{"POST /auth/logout": cmdtest.OK(map[string]string{"status": "success"})})
	if err := f.Creds.Put(url, ada); err != nil {
		t.Fatal(err)
	}
	if err := cmdtest.Run(f, NewCmdLogout(f, nil), "logout --server "+url); err != nil {
		t.Fatal(err)
	}
	if tok, err := f.Creds.Get(url, cmdtest.Now); err != nil || tok != "" {
		t.Errorf("after logout: %q %v", tok, err)
	}
}
