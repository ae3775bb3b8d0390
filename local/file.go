package local

import (
	"io"
	"os"
	"path/filepath"
	"strings"
)

// tmpPrefix marks temporary files; a crashed writer's leftovers are removed
// by the next writer.
const tmpPrefix = ".tmp-"

// writeFileAtomic writes name in dir through a synced temporary file and a
// rename, so a reader sees the old content or the new, never a mix. The file
// is 0600: os.CreateTemp creates it so, before any byte is written.
func writeFileAtomic(dir, name string, data []byte) (err error) {
	f, err := os.CreateTemp(dir, tmpPrefix+name+"-*")
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
	syncDir(dir)
	return nil
}

// syncDir makes a rename durable; not every platform can sync a directory,
// and the rename is already atomic, so failures are ignored.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// readSmallFile reads at most limit bytes, refusing larger files.
func readSmallFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readLimited(f, limit)
}

func readLimited(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, errTooLarge
	}
	return b, nil
}

type sentinel string

func (s sentinel) Error() string { return string(s) }

const errTooLarge = sentinel("file too large")

// isTemp tells temporary files apart from keys and the manifest.
func isTemp(name string) bool { return strings.HasPrefix(name, tmpPrefix) }
