// Package logs is the embedded backend's log store (Store, a
// provisioner.LogStore): job logs as files under a directory of their own.
package logs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"provisioner"
)

// Store is a provisioner.LogStore on a directory: the content of a key is
// the file of that name under the directory (0600, in 0700 directories).
// Keys are relative slash-separated paths of letters, digits, '.', '_' and
// '-' ("jobs/<id>/log"); no component is empty or starts with '.', so no
// key leaves the directory, and every access goes through an os.Root, so
// no symbolic link leads out of it either.
//
// Put replaces a file atomically. A job runner on this machine writes a
// job's log in place instead (Path), so readers can follow it while the
// job runs: Open returns the file as it is, and reading again later
// returns what was appended since.
type Store struct {
	dir string
}

var _ provisioner.LogStore = (*Store)(nil)

// MaxKey is the longest key.
const MaxKey = 512

// Config configures Open.
type Config struct {
	// Dir holds the logs; it is created 0700 if missing.
	Dir string
}

// Open uses cfg.Dir for logs.
func Open(cfg Config) (*Store, error) {
	dir := cfg.Dir
	if dir == "" {
		return nil, errors.New("logs: no directory")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("logs: %w", err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("logs: %w", err)
	}
	return &Store{dir: abs}, nil
}

// Dir is the logs' directory.
func (l *Store) Dir() string { return l.dir }

// ValidKey checks a key.
func ValidKey(key string) error {
	bad := func(why string) error {
		k := key
		if len(k) > 64 {
			k = k[:64] + "..."
		}
		return provisioner.Errorf(provisioner.EINVALID, "invalid log key %q: %s", strings.ToValidUTF8(k, "?"), why)
	}
	if key == "" {
		return bad("empty")
	}
	if len(key) > MaxKey {
		return bad(fmt.Sprintf("longer than %d bytes", MaxKey))
	}
	for _, r := range key {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-' || r == '/') {
			return bad("only letters, digits, '.', '_', '-' and '/' are allowed")
		}
	}
	if strings.HasPrefix(key, "/") {
		return bad("absolute")
	}
	for _, part := range strings.Split(key, "/") {
		if part == "" || strings.HasPrefix(part, ".") {
			return bad("a path component is empty or starts with '.' (no '..')")
		}
	}
	return nil
}

// Path returns the file of key, creating its parent directories: a runner
// writes a job's log there directly.
func (l *Store) Path(key string) (string, error) {
	if err := ValidKey(key); err != nil {
		return "", err
	}
	root, err := os.OpenRoot(l.dir)
	if err != nil {
		return "", err
	}
	defer root.Close()
	if dir := path.Dir(key); dir != "." {
		if err := root.MkdirAll(dir, 0o700); err != nil {
			return "", err
		}
	}
	return filepath.Join(l.dir, filepath.FromSlash(key)), nil
}

// Put stores r's content under key, replacing what was there at once.
func (l *Store) Put(ctx context.Context, key string, r io.Reader) (err error) {
	if err := ValidKey(key); err != nil {
		return err
	}
	root, err := os.OpenRoot(l.dir)
	if err != nil {
		return err
	}
	defer root.Close()
	dir := path.Dir(key)
	if dir != "." {
		if err := root.MkdirAll(dir, 0o700); err != nil {
			return err
		}
	}
	var rnd [8]byte
	rand.Read(rnd[:])
	tmp := path.Join(dir, ".tmp-"+path.Base(key)+"-"+hex.EncodeToString(rnd[:]))
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			root.Remove(tmp)
		}
	}()
	if _, err = io.Copy(f, ctxReader{ctx, r}); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return root.Rename(tmp, key)
}

// Open reads what is under key, or ENOTFOUND.
func (l *Store) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := ValidKey(key); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(l.dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	f, err := root.Open(key)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, provisioner.Errorf(provisioner.ENOTFOUND, "no log %q", key)
	}
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, provisioner.Errorf(provisioner.ENOTFOUND, "no log %q", key)
	}
	return f, nil
}

// ctxReader stops a copy when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
