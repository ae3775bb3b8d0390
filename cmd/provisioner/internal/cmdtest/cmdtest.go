// Package cmdtest runs a command as the CLI runs it, for the commands'
// tests: under a root with the global flags, on buffers, with a stopped
// clock, against canned API answers when it needs a server at all.
package cmdtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"provisioner/client"
	"provisioner/cmd/provisioner/internal/cmdutil"
	"provisioner/cmd/provisioner/internal/creds"
	"provisioner/cmd/provisioner/internal/iostreams"
)

// Now is the time on the stopped clock of Factory.
var Now = time.Date(2026, 8, 1, 12, 0, 0, 0, time.UTC)

// Factory returns a Factory on buffers (no terminal until the test says
// so), its clock stopped at Now (Sleep returns at once), its token cache
// in a temporary directory, and a Client that fails the test: parsing
// arguments needs no server.
func Factory(t testing.TB) (f *cmdutil.Factory, out, errOut *bytes.Buffer) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	f = &cmdutil.Factory{
		IOStreams: ios,
		Now:       func() time.Time { return Now },
		Sleep:     func(context.Context, time.Duration) error { return nil },
		Creds:     &creds.Cache{Path: filepath.Join(t.TempDir(), "credentials.json")},
		DataDir:   filepath.Join(t.TempDir(), "data"),
		Client: func() (*client.Client, error) {
			t.Error("the command asked for an API client")
			return nil, errors.New("no API in this test")
		},
	}
	return f, out, errOut
}

// Stdin makes s the standard input of f's commands.
func Stdin(f *cmdutil.Factory, s string) { f.IOStreams.In = strings.NewReader(s) }

// Run runs cmd with args (split at spaces) under a root that has the
// global flags of f, as `provisioner ARGS` would.
func Run(f *cmdutil.Factory, cmd *cobra.Command, args string) error {
	root := &cobra.Command{Use: "provisioner"}
	cmdutil.InitRoot(root, f)
	root.AddCommand(cmd)
	root.SetArgs(strings.Fields(args))
	root.SetIn(f.IOStreams.In)
	root.SetOut(f.IOStreams.Out)
	root.SetErr(f.IOStreams.ErrOut)
	_, err := root.ExecuteContextC(context.Background())
	return err
}

// Answer is a canned answer: a status and a value sent as JSON.
type Answer struct {
	Status int
	Body   any
}

// API serves canned answers, points f.Client at them and returns their
// URL. answers maps "METHOD /path" (no query) to the answers given in
// turn, the last one again once they run out; anything else is a test
// error and a 404.
func API(t testing.TB, f *cmdutil.Factory, answers map[string][]Answer) string {
	t.Helper()
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		key := r.Method + " " + r.URL.Path
		as := answers[key]
		if len(as) == 0 {
			mu.Unlock()
			t.Errorf("unexpected request %s", key)
			http.NotFound(w, r)
			return
		}
		a := as[0]
		if len(as) > 1 {
			answers[key] = as[1:]
		}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.Status)
		_ = json.NewEncoder(w).Encode(a.Body)
	}))
	t.Cleanup(srv.Close)
	f.Client = func() (*client.Client, error) { return client.New(srv.URL, "test-token"), nil }
	return srv.URL
}

// OK is a 200 answer with body.
func OK(body any) []Answer { return []Answer{{Status: http.StatusOK, Body: body}} }
