package app

import (
	"bufio"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"provisioner"
	"provisioner/local/logs"
)

func TestExportAudit(t *testing.T) {
	f := newFixture(t)
	store, err := logs.Open(logs.Config{Dir: filepath.Join(t.TempDir(), "logs")})
	if err != nil {
		t.Fatal(err)
	}
	f.app.jobs.logs = store
	since := f.clock.Now().Add(-time.Minute)
	f.deployed(t, orgMem, "c1", false)
	_, err = f.app.Access(bg, member, "c1")
	wantCode(t, err, provisioner.ENOTFOUND)

	_, _, err = f.app.ExportAudit(bg, orgMem, since)
	wantCode(t, err, provisioner.EFORBIDDEN)
	_, _, err = f.app.ExportAudit(bg, admin, f.clock.Now().Add(time.Hour))
	wantCode(t, err, provisioner.EINVALID)

	key, n, err := f.app.ExportAudit(bg, admin, since)
	if err != nil || n < 3 {
		t.Fatalf("%q %d %v", key, n, err)
	}
	r, err := store.Open(bg, key)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var lines []provisioner.AuditEntry
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		var e provisioner.AuditEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		lines = append(lines, e)
	}
	if len(lines) != n {
		t.Fatalf("%d lines, want %d", len(lines), n)
	}
	for i := 1; i < len(lines); i++ {
		if lines[i].Time.Before(lines[i-1].Time) {
			t.Fatal("export is not oldest first")
		}
	}
	found := false
	for _, e := range lines {
		found = found || (e.Action == "access" && e.Actor == "mia" && e.Result == provisioner.ENOTFOUND)
	}
	if !found {
		t.Error("the refused access is not in the export")
	}
}
