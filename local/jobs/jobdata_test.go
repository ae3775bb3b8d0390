package jobs

import (
	"os"
	"path/filepath"
	"testing"

	"provisioner"
)

// --job-data: a step finds DIR/server/ and DIR/ams/ under DATA_DIR, the
// job's data directory, as an AWS job host has them under /data; the copy
// is gone once the job is final.
func TestJobDataCopied(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	for name, body := range map[string]string{
		"server/asset_directory.csv":   "assets",
		"server/nested/a.txt":          "nested",
		"ams/ams.h5":                   "ams",
		"ignored/not-copied.txt":       "no",
		"server/overridden-by-ams.txt": "server",
		"ams/overridden-by-ams.txt":    "ams wins",
	} {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e := newJobRunner(t, `
  - name: sees-data
    run: |
      case "$DATA_DIR" in "$WORK_DIR"/data) ;; *) echo "DATA_DIR=$DATA_DIR"; exit 1 ;; esac
      (cd "$DATA_DIR" && find . -type f | sort && cat asset_directory.csv nested/a.txt ams.h5 overridden-by-ams.txt) > "$WORK_DIR/seen-data"
`, func(c *Config) { c.Data = src })
	j := testJob("v1.0.0")
	wantState(t, e, j, e.run(t, j), provisioner.JobPassed)
	dir := filepath.Join(e.dir, j.ID)
	b, err := os.ReadFile(filepath.Join(dir, "seen-data"))
	if err != nil {
		t.Fatal(err)
	}
	want := "./ams.h5\n./asset_directory.csv\n./nested/a.txt\n./overridden-by-ams.txt\nassetsnestedamsams wins"
	if string(b) != want {
		t.Errorf("the step saw:\n%s\nwant:\n%s", b, want)
	}
	if _, err := os.Stat(filepath.Join(dir, jobDataDir)); !os.IsNotExist(err) {
		t.Errorf("the job's data outlives the job: %v", err)
	}
}

func TestNewJobRunnerRefusesMissingData(t *testing.T) {
	dir := t.TempDir()
	if _, err := New(Config{Dir: dir, RepoURL: "/repo", Data: filepath.Join(dir, "nope")}); err == nil {
		t.Error("a missing --job-data accepted")
	}
}
