// Package cmdutil is what the CLI's commands share: the Factory that hands
// them their streams, clock and API client, usage errors, the root's global
// flags, the skeleton of a command on the API (options, arguments, the call
// and its JSON or text), and output helpers (JSON, tables, progress).
package cmdutil

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/adrg/xdg"

	"provisioner"
	"provisioner/client"
	"provisioner/cmd/provisioner/internal/creds"
	"provisioner/cmd/provisioner/internal/iostreams"
)

// Factory is what a command gets to do its work. Commands copy what they
// need into their options when they run, so tests can replace any of it.
type Factory struct {
	IOStreams *iostreams.IOStreams

	// Now and Sleep are the clock; tests stop it.
	Now   func() time.Time
	Sleep func(context.Context, time.Duration) error

	// Creds is the token cache.
	Creds *creds.Cache
	// DataDir is the embedded service's default --data.
	DataDir string

	// The global flags, bound by InitRoot: read them when a command runs,
	// not when it is built.
	Server     string
	JSON       bool
	SigningKey string

	// Client returns an API client for --server carrying the login
	// (PROVISIONER_TOKEN, else the cached token) and the signing key, if
	// any; not being logged in is an EUNAUTHORIZED error.
	Client func() (*client.Client, error)

	signedWith string // the key file the last client signs with, if any
}

// New returns the Factory of a real run on ios.
func New(ios *iostreams.IOStreams) *Factory {
	f := &Factory{
		IOStreams: ios,
		Now:       time.Now,
		Sleep:     sleep,
		Creds:     &creds.Cache{Path: creds.DefaultPath()},
		DataDir:   filepath.Join(xdg.DataHome, "sliderule-provisioner"),
	}
	f.Client = f.loggedInClient
	return f
}

func (f *Factory) loggedInClient() (*client.Client, error) {
	tok, err := f.token()
	if err != nil {
		return nil, err
	}
	s, path, err := f.signer()
	if err != nil {
		return nil, err
	}
	c := client.New(f.Server, tok)
	c.Signer, f.signedWith = s, path
	if c.Token == "" {
		return nil, provisioner.Errorf(provisioner.EUNAUTHORIZED, "not logged in to %s; run 'provisioner login'", f.Server)
	}
	return c, nil
}

// token returns the jwt_user to use: PROVISIONER_TOKEN wins (CI), then the
// cache.
func (f *Factory) token() (string, error) {
	if t := os.Getenv("PROVISIONER_TOKEN"); t != "" {
		return t, nil
	}
	return f.Creds.Get(f.Server, f.Now())
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
