package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// serveRefused runs serve on data expecting it to refuse to start, and
// returns its stderr.
func serveRefused(t *testing.T, data string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, append([]string{"serve", "--addr", "127.0.0.1:0", "--data", data,
		"--identity", "static:" + writeIdentity(t)}, args...)...)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ctx.Err() != nil {
		t.Fatalf("serve did not refuse to start (%v):\n%s", err, errb.String())
	}
	return errb.String()
}

func wantAlive(t *testing.T, cluster string, pids []string) {
	t.Helper()
	if got := clusterPids(t, cluster); len(got) == 0 || strings.Join(got, " ") != strings.Join(pids, " ") {
		t.Fatalf("cluster %s processes %v, want %v still running", cluster, got, pids)
	}
}

// TestFaultDatabaseLostWithLiveClusters: with a cluster running, an empty
// and then a deleted database are refused at start (the cluster runs on);
// --recreate-db starts, quarantines the cluster (running, listed, its name
// refused to DEPLOY, never destroyed), and only `quarantine destroy`,
// with serve stopped, stops it.
func TestFaultDatabaseLostWithLiveClusters(t *testing.T) {
	t.Setenv("PROVISIONER_CONFIG_DIR", t.TempDir())
	t.Setenv("PROVISIONER_TOKEN", "")
	data, addr := t.TempDir(), freeAddr(t)
	srv := clusterServe(t, data, addr)
	t.Setenv("PROVISIONER_URL", srv.URL)
	mustCLI(t, "login", "--pat", "member-token-1")
	mustCLI(t, "deploy", "lost", "--ttl", "30m", "--wait")
	pids := clusterPids(t, "lost")
	if len(pids) == 0 {
		t.Fatal("no cluster processes")
	}
	srv.stop(t)
	db := filepath.Join(data, "provisioner.db")

	if err := os.Truncate(db, 0); err != nil {
		t.Fatal(err)
	}
	os.Remove(db + "-wal")
	out := serveRefused(t, data)
	for _, want := range []string{"is empty", "1 local clusters (lost)", "--recreate-db", "restore the database"} {
		if !strings.Contains(out, want) {
			t.Errorf("refusal lacks %q:\n%s", want, out)
		}
	}
	if fi, err := os.Stat(db); err != nil || fi.Size() != 0 {
		t.Fatalf("the refused start changed the database: %v %v", fi, err)
	}
	wantAlive(t, "lost", pids)

	if err := os.Remove(db); err != nil {
		t.Fatal(err)
	}
	if out := serveRefused(t, data); !strings.Contains(out, "is missing") || !strings.Contains(out, "--recreate-db") {
		t.Errorf("refusal of a missing database:\n%s", out)
	}
	if _, err := os.Stat(db); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the refused start created a database: %v", err)
	}
	wantAlive(t, "lost", pids)

	srv2 := clusterServe(t, data, addr, "PROVISIONER_RECREATE_DB=true")
	waitFor(t, "the quarantine", 15*time.Second, func() bool {
		return strings.Contains(srv2.stderr.String(), "quarantined local clusters")
	})
	wantAlive(t, "lost", pids)
	mustCLI(t, "login", "--pat", "member-token-1")
	if code, _, errs := cli(t, "", "deploy", "lost", "--ttl", "30m"); code == 0 || !strings.Contains(errs, "quarantined") {
		t.Errorf("DEPLOY of a quarantined name: exit %d, %s", code, errs)
	}
	wantAlive(t, "lost", pids)
	if code, out, errs := cli(t, "", "quarantine", "--data", data); code != 0 || strings.TrimSpace(out) != "lost" {
		t.Errorf("quarantine list: %d %q %s", code, out, errs)
	}
	// While serve runs, the data directory is its own.
	if code, _, errs := cli(t, "", "quarantine", "destroy", "lost", "--data", data); code == 0 || !strings.Contains(errs, "in use") {
		t.Errorf("quarantine destroy beside a running serve: %d %s", code, errs)
	}
	wantAlive(t, "lost", pids)
	srv2.stop(t)
	if code, _, errs := cli(t, "", "quarantine", "destroy", "lost", "--data", data); code != 0 {
		t.Fatalf("quarantine destroy: %d %s", code, errs)
	}
	waitFor(t, "the quarantined cluster's processes to end", 10*time.Second, func() bool { return len(clusterPids(t, "lost")) == 0 })
	if names, err := os.ReadDir(filepath.Join(data, "clusters")); err != nil || len(names) != 0 && strings.HasSuffix(names[0].Name(), ".json") {
		t.Errorf("state left: %v %v", names, err)
	}
}

// serveOnce starts serve without clusters on data, logs in once (an audit
// record) and stops it, leaving a populated database.
func serveOnce(t *testing.T, data string) {
	t.Helper()
	srv := startServeAt(t, data, "127.0.0.1:0", nil, "--identity", "static:"+writeIdentity(t))
	t.Setenv("PROVISIONER_URL", srv.URL)
	mustCLI(t, "login", "--pat", "member-token-1")
	srv.stop(t)
}

// TestFaultCorruptDatabase: a database with a garbage header or a damaged
// inner page is refused at start with storage_corrupt, the cause and the
// way out; the file is left as it was for the operator.
func TestFaultCorruptDatabase(t *testing.T) {
	t.Setenv("PROVISIONER_CONFIG_DIR", t.TempDir())
	t.Setenv("PROVISIONER_TOKEN", "")
	for _, tc := range []struct {
		name string
		at   func(size int64) int64
		want string
	}{
		{"header", func(int64) int64 { return 0 }, "not a database"},
		// Page 4 is the root of the audit table, which the login of
		// serveOnce has written to: in use whatever later migrations add
		// at the end of the file.
		{"inner page", func(int64) int64 { return 3*4096 + 8 }, "malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := t.TempDir()
			serveOnce(t, data)
			db := filepath.Join(data, "provisioner.db")
			checkpoint(t, db)
			fi, err := os.Stat(db)
			if err != nil || fi.Size() < 8*4096 {
				t.Fatalf("database %v %v", fi, err)
			}
			f, err := os.OpenFile(db, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			n := int64(100)
			if tc.at(fi.Size()) > 0 {
				n = 4096 - 8
			}
			f.WriteAt(bytes.Repeat([]byte{0xa5}, int(n)), tc.at(fi.Size()))
			f.Close()
			before, _ := os.ReadFile(db)
			out := serveRefused(t, data)
			for _, want := range []string{tc.want, "restore it from a backup", "--recreate-db"} {
				if !strings.Contains(out, want) {
					t.Errorf("refusal lacks %q:\n%s", want, out)
				}
			}
			if after, _ := os.ReadFile(db); !bytes.Equal(before, after) {
				t.Error("the refused start changed the corrupt database")
			}
		})
	}
}

// TestFaultTwoServes: a second serve on the data directory of a running
// one is refused, naming the holder; the first serves on undisturbed.
func TestFaultTwoServes(t *testing.T) {
	data := t.TempDir()
	srv := startServeAt(t, data, "127.0.0.1:0", nil, "--identity", "static:"+writeIdentity(t))
	out := serveRefused(t, data)
	want := "in use by process " + itoa(srv.cmd.Process.Pid)
	if !strings.Contains(out, want) {
		t.Errorf("refusal lacks %q:\n%s", want, out)
	}
	resp, err := http.Get(srv.URL + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("the first serve after the refusal: %v %v", resp, err)
	}
	resp.Body.Close()
	srv.stop(t)
	// Its lock ends with it.
	startServeAt(t, data, "127.0.0.1:0", nil, "--identity", "static:"+writeIdentity(t)).stop(t)
}

// TestFaultStorageFull: on a full file system (a 4 MiB tmpfs filled up),
// a login fails with storage_full (507) and no token, the log keeps the
// cause, and with room again logins work.
func TestFaultStorageFull(t *testing.T) {
	t.Setenv("PROVISIONER_CONFIG_DIR", t.TempDir())
	t.Setenv("PROVISIONER_TOKEN", "")
	data := t.TempDir()
	if err := syscall.Mount("tmpfs", data, "tmpfs", 0, "size=4m"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("cannot mount a tmpfs (tests run as root under CI): %v", err)
		}
		t.Skipf("cannot mount a tmpfs (not root?): %v; sqlite TestFaultFullStorage covers the store", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(data, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount: %v", err)
		}
	})
	srv := startServeAt(t, data, "127.0.0.1:0", nil, "--identity", "static:"+writeIdentity(t))
	t.Setenv("PROVISIONER_URL", srv.URL)
	mustCLI(t, "login", "--pat", "member-token-1")
	// Fill the file system.
	filler := filepath.Join(data, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			break
		}
	}
	f.Close()
	login := func() (int, map[string]any) {
		resp, err := http.Post(srv.URL+"/auth/github/pat", "application/json", strings.NewReader(`{"pat":"member-token-1"}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body
	}
	// The audit table may have a free page or two left: a few logins fill it.
	var code int
	var body map[string]any
	for range 200 {
		if code, body = login(); code != 200 {
			break
		}
	}
	if code != 507 || body["error"] != "storage_full" {
		t.Fatalf("login on a full disk: %d %v", code, body)
	}
	if _, ok := body["access_token"]; ok {
		t.Error("a token was handed out unrecorded")
	}
	// The log line travels through a pipe: give it a moment under load.
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(srv.stderr.String(), "database or disk is full"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Errorf("the log lacks the cause:\n%s", srv.stderr.String())
			break
		}
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if code, body := login(); code != 200 {
		t.Fatalf("login with room again: %d %v", code, body)
	}
	srv.stop(t)
}

// checkpoint moves everything in the database's write-ahead log into the
// file itself, so that damage made to the file is what SQLite reads.
func checkpoint(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		t.Fatal(err)
	}
}
