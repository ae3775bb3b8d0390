package cluster

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"provisioner"
)

// Names are validated before anything touches the file system or a process.
func TestInvalidClusterNames(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t, "")
	ctx := context.Background()
	for _, name := range []string{"", "A", "Alpha", "../etc/passwd", "a/b", "x;rm -rf ~", "$(id)", "a b",
		"-lead", "trail-", "a--b", "test", "gateway", ".tmp-x", strings.Repeat("a", 41)} {
		s := spec(name)
		wantCode(t, d.Deploy(ctx, s), provisioner.EINVALID)
		_, err := d.Status(ctx, name)
		wantCode(t, err, provisioner.EINVALID)
		wantCode(t, d.Destroy(ctx, name), provisioner.EINVALID)
	}
	for _, bad := range []provisioner.ClusterSpec{
		{Name: "alpha", NodeCapacity: 0},
		{Name: "alpha", NodeCapacity: 1, Version: "$(reboot)"},
		{Name: "alpha", NodeCapacity: 1, Version: "--upload-pack=x"},
	} {
		wantCode(t, d.Deploy(ctx, bad), provisioner.EINVALID)
	}
	if ents, _ := os.ReadDir(d.Dir()); len(ents) != 0 {
		t.Fatalf("invalid requests left files: %v", ents)
	}
}

// Files in the directory that are not named like clusters are ignored.
func TestStrayFilesIgnored(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t, "")
	for _, f := range []string{"UPPER.json", ".tmp-alpha.json-123", "notes.txt", "alpha.gateway.log"} {
		os.WriteFile(filepath.Join(d.Dir(), f), []byte("{}"), 0o600)
	}
	list, err := d.List(context.Background())
	if err != nil || len(list) != 0 {
		t.Fatalf("list = %+v, %v", list, err)
	}
	if adopted, err := d.Adopt(context.Background()); err != nil || len(adopted) != 0 {
		t.Fatalf("adopt = %v, %v", adopted, err)
	}
	if _, err := os.Stat(filepath.Join(d.Dir(), "UPPER.json")); err != nil {
		t.Error("a stray file was removed")
	}
}

func TestDriverConfig(t *testing.T) {
	t.Parallel()
	exe := fakeBin(t)
	dir := t.TempDir()
	for name, cfg := range map[string]Config{
		"no dir":        {Executable: exe, Issuer: testIssuer, Upstream: "http://x"},
		"no upstream":   {Dir: dir, Executable: exe, Issuer: testIssuer},
		"both":          {Dir: dir, Executable: exe, Issuer: testIssuer, Upstream: "http://x", Command: "true"},
		"blank command": {Dir: dir, Executable: exe, Issuer: testIssuer, Command: "  "},
		"no issuer":     {Dir: dir, Executable: exe, Upstream: "http://x"},
		"bad upstream":  {Dir: dir, Executable: exe, Issuer: testIssuer, Upstream: "x:y"},
		"bad env":       {Dir: dir, Executable: exe, Issuer: testIssuer, Upstream: "http://x", Env: []string{"NOEQUALS"}},
		"bad health":    {Dir: dir, Executable: exe, Issuer: testIssuer, Command: "true", UpstreamHealth: "health"},
		"no executable": {Dir: dir, Executable: filepath.Join(dir, "missing"), Issuer: testIssuer, Upstream: "http://x"},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New accepted %+v", name, cfg)
		}
	}
}

// Concurrent deploys and destroys of one cluster end in one clear state,
// with no process left behind by any of them.
func TestConcurrentDeployDestroy(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t, `exec "$FAKE_BIN" upstream`)
	ctx := context.Background()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		started = map[int]bool{}
		collect = func() {
			if s, err := d.readState("alpha"); err == nil {
				mu.Lock()
				started[s.Gateway.PID], started[upstreamPID(s)] = true, true
				mu.Unlock()
			}
		}
	)
	for i := range 12 {
		wg.Go(func() {
			if i%3 == 2 {
				if err := d.Destroy(ctx, "alpha"); err != nil {
					t.Error(err)
				}
			} else if err := d.Deploy(ctx, spec("alpha")); err != nil {
				t.Error(err)
			}
			collect()
			d.Status(ctx, "alpha")
		})
	}
	wg.Wait()
	if st, _ := d.Status(ctx, "alpha"); st.State != provisioner.StateAbsent {
		waitState(t, d, "alpha", provisioner.StateRunning)
		collect()
	}
	if err := d.Destroy(ctx, "alpha"); err != nil {
		t.Fatal(err)
	}
	for pid := range started {
		if pid > 0 && running(pid) {
			t.Errorf("process %d survived", pid)
		}
	}
}

func TestTailLog(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "log")
	var b strings.Builder
	for i := range 100 {
		b.WriteString("line ")
		b.WriteString(strings.Repeat("x", i))
		b.WriteString("\n")
	}
	b.WriteString("\x1b[31mred\x1b[0m\tend\r\n")
	os.WriteFile(path, []byte(b.String()), 0o600)

	got := tailLog(path, 3, 1000)
	lines := strings.Split(got, "\n")
	if len(lines) != 3 || lines[2] != "?[31mred?[0m\tend" || !strings.HasPrefix(lines[0], "line xxx") {
		t.Fatalf("tail = %q", got)
	}
	if got := tailLog(path, 100, 50); len(got) > 53 || !strings.HasPrefix(got, "...") {
		t.Fatalf("bounded tail = %q (%d bytes)", got, len(got))
	}
	if got := tailLog(filepath.Join(t.TempDir(), "missing"), 3, 100); got != "" {
		t.Fatalf("missing log: %q", got)
	}
}
