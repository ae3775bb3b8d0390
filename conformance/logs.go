package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"provisioner"
)

// LogStore runs the LogStore contract (and LogStoreAt's, when the store
// has it) on stores newStore makes, each empty.
func LogStore(t *testing.T, newStore func(t *testing.T) provisioner.LogStore) {
	ctx := context.Background()
	read := func(t *testing.T, l provisioner.LogStore, key string) []byte {
		t.Helper()
		rc, err := l.Open(ctx, key)
		if err != nil {
			t.Fatalf("Open(%q): %v", key, err)
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if err != nil {
			t.Fatalf("read %q: %v", key, err)
		}
		return b
	}
	put := func(t *testing.T, l provisioner.LogStore, key string, data []byte) {
		t.Helper()
		if err := l.Put(ctx, key, bytes.NewReader(data)); err != nil {
			t.Fatalf("Put(%q): %v", key, err)
		}
	}

	t.Run("RoundTrip", func(t *testing.T) {
		l := newStore(t)
		// The keys the app writes: a job's log and results, an audit export.
		for key, data := range map[string][]byte{
			"jobs/0123456789abcdef0123456789abcdef/log":          []byte("==> step 1\nok\n"),
			"jobs/0123456789abcdef0123456789abcdef/results.json": []byte(`{"steps":[]}`),
			"audit/20260102T150405Z-20260103T000000Z.jsonl":      []byte("{}\n{}\n"),
			"jobs/empty/log":  {},
			"jobs/binary/log": {0, 1, 2, 0xff, '\n', 0xfe},
		} {
			put(t, l, key, data)
			if got := read(t, l, key); !bytes.Equal(got, data) {
				t.Errorf("%q read back %q, want %q", key, got, data)
			}
		}
	})
	t.Run("PutReplaces", func(t *testing.T) {
		l := newStore(t)
		put(t, l, "jobs/x/log", []byte("a long first version\n"))
		put(t, l, "jobs/x/log", []byte("short\n"))
		if got := read(t, l, "jobs/x/log"); string(got) != "short\n" {
			t.Errorf("after a replace: %q", got)
		}
	})
	t.Run("Missing", func(t *testing.T) {
		l := newStore(t)
		if _, err := l.Open(ctx, "jobs/none/log"); provisioner.ErrorCode(err) != provisioner.ENOTFOUND {
			t.Errorf("Open of a missing log: %v, want %s", err, provisioner.ENOTFOUND)
		}
		if at, ok := l.(provisioner.LogStoreAt); ok {
			if _, err := at.OpenAt(ctx, "jobs/none/log", 5); provisioner.ErrorCode(err) != provisioner.ENOTFOUND {
				t.Errorf("OpenAt of a missing log: %v, want %s", err, provisioner.ENOTFOUND)
			}
		}
	})
	t.Run("BadKeysRefused", func(t *testing.T) {
		// Keys that could leave the store's place, or mean two things.
		l := newStore(t)
		for _, key := range []string{"", "/etc/passwd", "../x", "jobs/../../x", "jobs/./x", "jobs//x", "jobs/x/", ".", "..",
			"a b", "a\nb", `a\b`, "a\x00b", "jobs/x;rm", "ü", "jobs/%2e%2e", "jobs/x?y", strings.Repeat("a", 2000)} {
			if err := l.Put(ctx, key, strings.NewReader("x")); provisioner.ErrorCode(err) != provisioner.EINVALID {
				t.Errorf("Put(%q): %v, want %s", key, err, provisioner.EINVALID)
			}
			if _, err := l.Open(ctx, key); provisioner.ErrorCode(err) != provisioner.EINVALID {
				t.Errorf("Open(%q): %v, want %s", key, err, provisioner.EINVALID)
			}
		}
	})
	t.Run("Large", func(t *testing.T) {
		// Larger than one S3 part (5 MiB): a log of a long build.
		l := newStore(t)
		data := bytes.Repeat([]byte("0123456789abcdef"), 6<<20/16+123)
		put(t, l, "jobs/large/log", data)
		if got := read(t, l, "jobs/large/log"); !bytes.Equal(got, data) {
			t.Errorf("read back %d bytes, want %d", len(got), len(data))
		}
	})
	t.Run("FailedPutKeepsOld", func(t *testing.T) {
		// A Put whose reader fails leaves what was there.
		l := newStore(t)
		put(t, l, "jobs/keep/log", []byte("old\n"))
		bad := io.MultiReader(strings.NewReader("new, half"), errReader{})
		if err := l.Put(ctx, "jobs/keep/log", bad); err == nil {
			t.Fatal("a Put whose reader failed succeeded")
		}
		if got := read(t, l, "jobs/keep/log"); string(got) != "old\n" {
			t.Errorf("after a failed Put: %q", got)
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		l := newStore(t)
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				key := fmt.Sprintf("jobs/c%d/log", i)
				if err := l.Put(ctx, key, strings.NewReader(strings.Repeat(key, 100))); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		for i := range 8 {
			key := fmt.Sprintf("jobs/c%d/log", i)
			if got := read(t, l, key); string(got) != strings.Repeat(key, 100) {
				t.Errorf("%s: %d bytes", key, len(got))
			}
		}
	})
	t.Run("OpenAt", func(t *testing.T) {
		l := newStore(t)
		at, ok := l.(provisioner.LogStoreAt)
		if !ok {
			t.Skip("not a LogStoreAt")
		}
		// A follower reading a growing log sees every byte once.
		key := "jobs/growing/log"
		var seen bytes.Buffer
		var offset int64
		content := ""
		for i := range 4 {
			content += fmt.Sprintf("line %d\n", i)
			put(t, l, key, []byte(content))
			for range 2 { // a second look finds nothing new
				rc, err := at.OpenAt(ctx, key, offset)
				if err != nil {
					t.Fatal(err)
				}
				n, err := io.Copy(&seen, rc)
				rc.Close()
				if err != nil {
					t.Fatal(err)
				}
				offset += n
			}
		}
		if seen.String() != content {
			t.Fatalf("follower saw %q, want %q", seen.String(), content)
		}
		rc, err := at.OpenAt(ctx, key, offset+100)
		if err != nil {
			t.Fatalf("offset past the end: %v", err)
		}
		if b, _ := io.ReadAll(rc); len(b) != 0 {
			t.Errorf("offset past the end read %q", b)
		}
		rc.Close()
		if _, err := at.OpenAt(ctx, key, -1); provisioner.ErrorCode(err) != provisioner.EINVALID {
			t.Errorf("negative offset: %v, want %s", err, provisioner.EINVALID)
		}
		for _, bad := range []string{"../x", ""} {
			if _, err := at.OpenAt(ctx, bad, 0); provisioner.ErrorCode(err) != provisioner.EINVALID {
				t.Errorf("OpenAt(%q): %v, want %s", bad, err, provisioner.EINVALID)
			}
		}
	})
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("the source failed") }
