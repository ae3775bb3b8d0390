package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"provisioner/cmd/provisioner/internal/cmdutil"
	"provisioner/cmd/provisioner/internal/iostreams"

	"provisioner/github/githubtest"
)

// githubServe runs serve against a fake GitHub. Its clients' sleeps are
// fake, so serve does not pace device polls (the http tests prove pacing).
func githubServe(t *testing.T) (*server, *githubtest.Server) {
	t.Helper()
	gh := githubtest.New(t)
	gh.AddUser("gh-admin", "ada", 1)
	gh.SetOrgMembership("ada", "sliderule", "active", "admin")
	srv := startServe(t, nil, "--identity", "github", "--github-api-url", gh.APIURL(), "--github-url", gh.WebURL(),
		"--github-org", "sliderule", "--github-client-id", "client-1",
		"--actions-issuer", gh.IssuerURL(), "--actions-audience", "sliderule-provisioner",
		"--actions-rules", `[{"repository":"sliderule/sliderule","ref":"refs/heads/main","level":"admin"}]`, "--no-device-pacing")
	t.Setenv("PROVISIONER_CONFIG_DIR", t.TempDir())
	t.Setenv("PROVISIONER_TOKEN", "")
	return srv, gh
}

func TestLoginDeviceFlow(t *testing.T) {
	srv, gh := githubServe(t)
	gh.AddDevice("dev-1", "WXYZ-0001")
	// login --device on the real command tree, its sleeps faked.
	var errb *bytes.Buffer
	login := func(sleep func(context.Context, time.Duration) error) error {
		var ios *iostreams.IOStreams
		ios, _, _, errb = iostreams.Test()
		f := cmdutil.New(ios)
		f.Sleep = sleep
		root := newRoot(f)
		root.SetArgs([]string{"login", "--device", "--server", srv.URL})
		_, err := root.ExecuteC()
		return err
	}
	polls := 0
	var waited []time.Duration
	err := login(func(_ context.Context, d time.Duration) error {
		waited = append(waited, d)
		polls++
		switch polls {
		case 2:
			gh.SlowDownDevice("dev-1")
		case 4:
			gh.ApproveDevice("dev-1", "gh-admin")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("device login: %v\n%s", err, errb.String())
	}
	if !strings.Contains(errb.String(), "WXYZ-0001") || !strings.Contains(errb.String(), "as ada (admin)") {
		t.Errorf("output: %q", errb.String())
	}
	// The client waits the announced interval, longer after slow_down.
	if waited[0] != 5*time.Second || waited[len(waited)-1] <= 5*time.Second {
		t.Errorf("poll intervals %v", waited)
	}
	if _, err := cachedToken(srv.URL); err != nil {
		t.Fatal(err)
	}

	gh.AddDevice("dev-2", "WXYZ-0002")
	if err := login(func(context.Context, time.Duration) error { gh.DenyDevice("dev-2"); return nil }); exitCode(err) != exitAuth {
		t.Errorf("denied: %v (exit %d)", err, exitCode(err))
	}
	gh.AddDevice("dev-3", "WXYZ-0003")
	if err := login(func(context.Context, time.Duration) error { gh.ExpireDevice("dev-3"); return nil }); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("expired: %v", err)
	}
}

func TestLoginGitHubActions(t *testing.T) {
	srv, gh := githubServe(t)
	var gotAudience, gotAuth string
	runtime := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAudience, gotAuth = r.URL.Query().Get("audience"), r.Header.Get("Authorization")
		claims := githubtest.ActionsClaims(gotAudience, "sliderule/sliderule", "refs/heads/main", "nightly.yml")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"value":"` + gh.IssueActionsToken(claims) + `"}`))
	}))
	defer runtime.Close()
	t.Setenv("PROVISIONER_URL", srv.URL)

	t.Setenv("ACTIONS_ID_TOKEN_REQUEST_URL", "")
	if code, _, errs := cli(t, "", "login", "--github-actions"); code != exitUsage || !strings.Contains(errs, "id-token: write") {
		t.Errorf("outside Actions: exit %d %s", code, errs)
	}
	t.Setenv("ACTIONS_ID_TOKEN_REQUEST_URL", runtime.URL+"/token?api-version=2.0")
	t.Setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "runtime-secret")
	code, _, errs := cli(t, "", "login", "--github-actions")
	if code != 0 || !strings.Contains(errs, "actions:sliderule/sliderule (admin)") {
		t.Fatalf("actions login: exit %d %s", code, errs)
	}
	if gotAudience != "sliderule-provisioner" || gotAuth != "Bearer runtime-secret" {
		t.Errorf("runtime request: audience %q auth %q", gotAudience, gotAuth)
	}
	if code, _, _ := cli(t, "", "login", "--github-actions", "--audience", "other"); code != exitAuth {
		t.Errorf("wrong audience: exit %d", code)
	}
}
