package logs

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"provisioner"
)

func TestLogsPutOpen(t *testing.T) {
	l, err := Open(Config{Dir: filepath.Join(t.TempDir(), "logs")})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := l.Put(ctx, "jobs/abc/log", strings.NewReader("first")); err != nil {
		t.Fatal(err)
	}
	if err := l.Put(ctx, "jobs/abc/log", strings.NewReader("second")); err != nil {
		t.Fatal(err)
	}
	rc, err := l.Open(ctx, "jobs/abc/log")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "second" {
		t.Fatalf("read %q", b)
	}
	for _, p := range []string{"logs", "logs/jobs", "logs/jobs/abc"} {
		fi, err := os.Stat(filepath.Join(filepath.Dir(l.Dir()), p))
		if err != nil || fi.Mode().Perm() != 0o700 {
			t.Fatalf("%s: %v %v", p, fi.Mode(), err)
		}
	}
	fi, err := os.Stat(filepath.Join(l.Dir(), "jobs", "abc", "log"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("log file mode %v %v", fi.Mode(), err)
	}
	ents, _ := os.ReadDir(filepath.Join(l.Dir(), "jobs", "abc"))
	if len(ents) != 1 {
		t.Fatalf("temporary files left: %v", ents)
	}
	if _, err := l.Open(ctx, "jobs/none/log"); provisioner.ErrorCode(err) != provisioner.ENOTFOUND {
		t.Fatalf("Open of a missing key: %v", err)
	}
	if _, err := l.Open(ctx, "jobs/abc"); provisioner.ErrorCode(err) != provisioner.ENOTFOUND {
		t.Fatalf("Open of a directory: %v", err)
	}
}

// TestLogsFollow: a log written in place (Path) is read as it grows.
func TestLogsFollow(t *testing.T) {
	l, err := Open(Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	p, err := l.Path("jobs/x/log")
	if err != nil {
		t.Fatal(err)
	}
	if p != filepath.Join(l.Dir(), "jobs", "x", "log") {
		t.Fatalf("Path = %s", p)
	}
	w, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.WriteString("one\n")
	rc, err := l.Open(context.Background(), "jobs/x/log")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	w.WriteString("two\n")
	more, _ := io.ReadAll(rc)
	if string(b) != "one\n" || string(more) != "two\n" {
		t.Fatalf("read %q then %q", b, more)
	}
}

func TestLogKeysRefused(t *testing.T) {
	l, err := Open(Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, key := range []string{
		"", "/etc/passwd", "../x", "jobs/../../x", "jobs/./x", "jobs//x", "jobs/x/", ".hidden", "jobs/.tmp-x",
		"a b", "a\nb", "a\\b", "a\x00b", "jobs/x;rm", strings.Repeat("a", MaxKey+1), "ü",
	} {
		if err := l.Put(ctx, key, strings.NewReader("x")); provisioner.ErrorCode(err) != provisioner.EINVALID {
			t.Errorf("Put(%q): %v", key, err)
		}
		if _, err := l.Open(ctx, key); provisioner.ErrorCode(err) != provisioner.EINVALID {
			t.Errorf("Open(%q): %v", key, err)
		}
		if _, err := l.Path(key); provisioner.ErrorCode(err) != provisioner.EINVALID {
			t.Errorf("Path(%q): %v", key, err)
		}
	}
}

func TestLogsSymlinkEscape(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := Open(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "evil")); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Open(context.Background(), "evil/secret"); err == nil {
		t.Fatal("Open followed a symbolic link out of the directory")
	}
	if err := l.Put(context.Background(), "evil/new", strings.NewReader("x")); err == nil {
		t.Fatal("Put followed a symbolic link out of the directory")
	}
	if _, err := os.Stat(filepath.Join(outside, "new")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a file was written outside: %v", err)
	}
}

func TestLogsPutStopsWithContext(t *testing.T) {
	l, err := Open(Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Put(ctx, "k", strings.NewReader("x")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put with a cancelled context: %v", err)
	}
	if _, err := l.Open(context.Background(), "k"); provisioner.ErrorCode(err) != provisioner.ENOTFOUND {
		t.Fatalf("a cancelled Put left a file: %v", err)
	}
}
