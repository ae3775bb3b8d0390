// Package files holds the file helpers the embedded backend's packages
// share: atomic replacement (a synced temporary file, then a rename) and
// bounded reads of small state files.
package files

import (
	"io"
	"os"
	"path/filepath"
	"strings"
)

// TmpPrefix marks temporary files; a crashed writer's leftovers are removed
// by the next writer.
const TmpPrefix = ".tmp-"

// WriteAtomic writes name in dir through a synced temporary file and a
// rename, so a reader sees the old content or the new, never a mix. The file
// is 0600: os.CreateTemp creates it so, before any byte is written.
func WriteAtomic(dir, name string, data []byte) (err error) {
	f, err := os.CreateTemp(dir, TmpPrefix+name+"-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err = f.Chmod(0o600); err != nil {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), filepath.Join(dir, name)); err != nil {
		return err
	}
	SyncDir(dir)
	return nil
}

// SyncDir makes a rename durable; not every platform can sync a directory,
// and the rename is already atomic, so failures are ignored.
func SyncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// ReadSmall reads at most limit bytes, refusing larger files.
func ReadSmall(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadLimited(f, limit)
}

// ReadLimited reads r to its end, refusing more than limit bytes
// (ErrTooLarge).
func ReadLimited(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, ErrTooLarge
	}
	return b, nil
}

type sentinel string

func (s sentinel) Error() string { return string(s) }

// ErrTooLarge is ReadSmall's and ReadLimited's error for a file over the
// limit.
const ErrTooLarge = sentinel("file too large")

// IsTemp tells temporary files apart from the files they replace.
func IsTemp(name string) bool { return strings.HasPrefix(name, TmpPrefix) }
