package affiliates

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"provisioner"
)

// prodExample is an affiliates file in production's shape.
const prodExample = `{
  "Alice-Lab": {"active": true, "clusters": ["alice-lab", "shared"], "max_nodes": 4, "max_ttl": 240,
                "allowed_scopes": ["sliderule:access", "provisioner:access"]},
  "bob":       {"active": false, "clusters": ["bob"], "max_nodes": 1, "max_ttl": 60, "allowed_scopes": []}
}`

func TestParseProductionShape(t *testing.T) {
	l, err := Parse([]byte(prodExample))
	if err != nil {
		t.Fatal(err)
	}
	want := &provisioner.Affiliation{Clusters: []string{"alice-lab", "shared"}, MaxNodes: 4, MaxTTL: 4 * time.Hour,
		AllowedScopes: []string{"sliderule:access", "provisioner:access"}}
	for _, login := range []string{"Alice-Lab", "alice-lab", "ALICE-LAB"} {
		if got := l.Affiliation(login); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %+v, want %+v", login, got, want)
		}
	}
	if got := l.Affiliation("bob"); got != nil {
		t.Errorf("an inactive entry grants %+v", got)
	}
	if got := l.Affiliation("carol"); got != nil {
		t.Errorf("an unlisted login grants %+v", got)
	}
	// The answer is a copy: changing it does not change the list.
	l.Affiliation("alice-lab").Clusters[0] = "x"
	if l.Affiliation("alice-lab").Clusters[0] != "alice-lab" {
		t.Error("Affiliation shares the list's slices")
	}
	if l, err := Parse([]byte(" {} \n")); err != nil || len(l) != 0 {
		t.Errorf("empty object: %v, %v", l, err)
	}
}

func TestParseRefusesBadFiles(t *testing.T) {
	ok := `"clusters": ["c1"], "max_nodes": 2, "max_ttl": 60, "allowed_scopes": ["sliderule:access"]`
	for name, tc := range map[string]struct{ file, want string }{
		"not json":         {`nope`, "not a JSON object"},
		"array":            {`[]`, "not a JSON object"},
		"null":             {`null`, "not a JSON object"},
		"trailing":         {`{} {}`, "data after"},
		"bad login":        {`{"-x": {"active": true, ` + ok + `}}`, "not a GitHub login"},
		"same login twice": {`{"Al": {"active": true, ` + ok + `}, "al": {"active": true, ` + ok + `}}`, "the same GitHub login"},
		"unknown field":    {`{"al": {"active": true, "max_node": 3, ` + ok + `}}`, "unknown field"},
		"no active":        {`{"al": {` + ok + `}}`, "active is required"},
		"active string":    {`{"al": {"active": "yes", ` + ok + `}}`, "want an object"},
		"no clusters":      {`{"al": {"active": true, "max_nodes": 2, "max_ttl": 60, "allowed_scopes": []}}`, "clusters is required"},
		"reserved cluster": {`{"al": {"active": true, "clusters": ["monitor"], "max_nodes": 2, "max_ttl": 60, "allowed_scopes": []}}`, "clusters:"},
		"bad cluster":      {`{"al": {"active": true, "clusters": ["a b"], "max_nodes": 2, "max_ttl": 60, "allowed_scopes": []}}`, "clusters:"},
		"cluster twice":    {`{"al": {"active": true, "clusters": ["c1", "c1"], "max_nodes": 2, "max_ttl": 60, "allowed_scopes": []}}`, "listed twice"},
		"zero nodes":       {`{"al": {"active": true, "clusters": ["c1"], "max_nodes": 0, "max_ttl": 60, "allowed_scopes": []}}`, "max_nodes must be"},
		"no nodes":         {`{"al": {"active": true, "clusters": ["c1"], "max_ttl": 60, "allowed_scopes": []}}`, "max_nodes must be"},
		"negative ttl":     {`{"al": {"active": true, "clusters": ["c1"], "max_nodes": 1, "max_ttl": -5, "allowed_scopes": []}}`, "max_ttl must be"},
		"fractional ttl":   {`{"al": {"active": true, "clusters": ["c1"], "max_nodes": 1, "max_ttl": 1.5, "allowed_scopes": []}}`, "want an object"},
		"ttl too long":     {`{"al": {"active": true, "clusters": ["c1"], "max_nodes": 1, "max_ttl": 600000, "allowed_scopes": []}}`, "more than a year"},
		"no scopes":        {`{"al": {"active": true, "clusters": ["c1"], "max_nodes": 1, "max_ttl": 60}}`, "allowed_scopes is required"},
		"unknown scope":    {`{"al": {"active": true, "clusters": ["c1"], "max_nodes": 1, "max_ttl": 60, "allowed_scopes": ["root"]}}`, "unknown scope"},
		"scope twice":      {`{"al": {"active": true, "clusters": ["c1"], "max_nodes": 1, "max_ttl": 60, "allowed_scopes": ["mcp:tools", "mcp:tools"]}}`, "listed twice"},
		// Inactive entries are checked too: a typo never passes silently.
		"bad inactive": {`{"al": {"active": false, "clusters": ["c1"], "max_nodes": 0, "max_ttl": 60, "allowed_scopes": []}}`, "max_nodes must be"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(tc.file))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want an error with %q, got %v", tc.want, err)
			}
		})
	}
}

// syncBuffer is a log destination tests read while the source writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestFileReloadKeepsLastGood(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "affiliates.json")
	write := func(s string, at time.Time) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		// Distinct modification times, whatever the file system's resolution.
		if err := os.Chtimes(path, at, at); err != nil {
			t.Fatal(err)
		}
	}
	base := time.Now().Add(-time.Hour)
	write(prodExample, base)
	var logs syncBuffer
	now := time.Now()
	clock := func() time.Time { return now }
	s, err := New(ctx, path, FileLoader(path), Options{Logger: slog.New(slog.NewTextHandler(&logs, nil)), Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	get := func(login string) *provisioner.Affiliation {
		t.Helper()
		a, err := s.Affiliation(ctx, login)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	if get("alice-lab") == nil || get("carol") != nil {
		t.Fatal("first read")
	}

	// A good change is picked up once the interval has passed.
	write(`{"carol": {"active": true, "clusters": ["c1"], "max_nodes": 1, "max_ttl": 60, "allowed_scopes": []}}`, base.Add(time.Minute))
	if get("carol") != nil {
		t.Fatal("reread before the interval")
	}
	now = now.Add(time.Second)
	if get("carol") == nil || get("alice-lab") != nil {
		t.Fatal("change not picked up")
	}
	if !strings.Contains(logs.String(), "affiliates: reloaded") {
		t.Errorf("reload not logged: %s", logs.String())
	}

	// A bad change keeps the last good list and says why, once.
	write(`{"carol": {"active": true, "clusters": ["c1"], "max_nodes": 0, "max_ttl": 60, "allowed_scopes": []}}`, base.Add(2*time.Minute))
	for range 3 {
		now = now.Add(time.Second)
		if get("carol") == nil {
			t.Fatal("a bad reload dropped the last good list")
		}
	}
	if n := strings.Count(logs.String(), "keeping the last good list"); n != 1 || !strings.Contains(logs.String(), "max_nodes must be") {
		t.Errorf("bad reload logged %d times: %s", n, logs.String())
	}
	// So does a file that disappears.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Second)
	if get("carol") == nil {
		t.Fatal("a missing file dropped the last good list")
	}
	// Fixed: the new list applies.
	write(prodExample, base.Add(3*time.Minute))
	now = now.Add(time.Second)
	if get("carol") != nil || get("alice-lab") == nil {
		t.Fatal("fixed file not picked up")
	}
}

func TestBadFileRefusesToStart(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"al": {"active": true, "clusters": ["login"], "max_nodes": 1, "max_ttl": 60, "allowed_scopes": []}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{bad, filepath.Join(dir, "missing.json")} {
		_, err := NewFile(path, nil)
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: want an error naming the file, got %v", path, err)
		}
	}
}

func TestLazySource(t *testing.T) {
	ctx := context.Background()
	data, fail := []byte(prodExample), true
	load := func(context.Context, string) ([]byte, string, error) {
		if fail {
			return nil, "", os.ErrNotExist
		}
		return data, "v1", nil
	}
	now := time.Now()
	s := NewLazy("s3://bucket/affiliates.json", load, Options{Every: time.Minute, Now: func() time.Time { return now },
		Logger: slog.New(slog.NewTextHandler(&syncBuffer{}, nil))})
	if _, err := s.Affiliation(ctx, "alice-lab"); provisioner.ErrorCode(err) != provisioner.EUNAVAILABLE {
		t.Fatalf("no list yet: want unavailable, got %v", err)
	}
	fail = false
	now = now.Add(time.Minute)
	if a, err := s.Affiliation(ctx, "alice-lab"); err != nil || a == nil {
		t.Fatalf("after a good read: %v, %v", a, err)
	}
	fail = true
	now = now.Add(time.Minute)
	if a, err := s.Affiliation(ctx, "alice-lab"); err != nil || a == nil {
		t.Fatalf("a failed read dropped the list: %v, %v", a, err)
	}
}
