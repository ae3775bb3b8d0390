package jobs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// copyJobData fills dst (made here) from src/server/ and then src/ams/, as
// the AWS host setup syncs PREFIX/server/ and PREFIX/ams/ into /data: both
// into dst, ams's files over server's. A missing part is skipped. Regular
// files and directories are copied (a symbolic link as what it points to,
// when that is a regular file); anything else is skipped. Files keep their
// permission bits, without set-id, sticky or write for others.
func copyJobData(src, dst string) error {
	if err := os.Mkdir(dst, 0o755); err != nil {
		return err
	}
	for _, part := range []string{"server", "ams"} {
		root, err := filepath.EvalSymlinks(filepath.Join(src, part))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return err
		}
		if fi, err := os.Stat(root); err != nil {
			return err
		} else if !fi.IsDir() {
			return fmt.Errorf("%s is not a directory", filepath.Join(src, part))
		}
		err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(root, path)
			if err != nil {
				return err
			}
			to := filepath.Join(dst, rel)
			if d.IsDir() {
				if err := os.Mkdir(to, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
					return err
				}
				return nil
			}
			fi, err := os.Stat(path) // a link: what it points to
			if err != nil || !fi.Mode().IsRegular() {
				return nil
			}
			return copyDataFile(path, to, fi.Mode().Perm()&0o755)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func copyDataFile(from, to string, perm fs.FileMode) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	// A file of server/ that ams/ has too: replaced.
	if err := os.Remove(to); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
