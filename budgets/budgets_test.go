package budgets

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"provisioner"
)

func TestParse(t *testing.T) {
	got, err := Parse([]byte(`{"budgets": [
		{"scope": "org", "monthly": 2000, "carry_over_cap": 500, "policy": "refuse", "admins_exempt": true, "grace": "2h", "warn_at": [50, 80]},
		{"scope": "team:Science", "monthly": 400.5, "policy": "shrink"},
		{"scope": "user:*", "monthly": 0, "policy": "shrink", "grace": "30m", "warn_at": []},
		{"scope": " User:Ada ", "monthly": 10, "policy": "refuse"}
	]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := []provisioner.Budget{
		{Scope: "org", Monthly: 2000, CarryOverCap: 500, Policy: provisioner.BudgetRefuse, AdminsExempt: true, Grace: 2 * time.Hour, WarnAt: []int{50, 80}},
		{Scope: "team:science", Monthly: 400.5, Policy: provisioner.BudgetShrink, Grace: time.Hour, WarnAt: []int{80}},
		{Scope: "user:*", Policy: provisioner.BudgetShrink, Grace: 30 * time.Minute, WarnAt: []int{}},
		{Scope: "user:ada", Monthly: 10, Policy: provisioner.BudgetRefuse, Grace: time.Hour, WarnAt: []int{80}},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d budgets, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Scope != w.Scope || g.Monthly != w.Monthly || g.CarryOverCap != w.CarryOverCap || g.Policy != w.Policy ||
			g.AdminsExempt != w.AdminsExempt || g.Grace != w.Grace || !slices.Equal(g.WarnAt, w.WarnAt) {
			t.Errorf("budget %d = %+v, want %+v", i+1, g, w)
		}
	}
	// No budgets at all is a valid file.
	if got, err := Parse([]byte(`{"budgets": []}`)); err != nil || len(got) != 0 {
		t.Fatalf("empty list: %v, %v", got, err)
	}
}

func TestParseRefusesBadFiles(t *testing.T) {
	for name, tc := range map[string]struct{ file, want string }{
		"not JSON":          {`budgets: []`, "not a budgets file"},
		"a list":            {`[]`, "not a budgets file"},
		"no budgets":        {`{}`, `"budgets" is missing`},
		"unknown top field": {`{"budgets": [], "budget": []}`, "unknown field"},
		"unknown field":     {`{"budgets": [{"scope": "org", "monthly": 1, "policy": "refuse", "monthy": 2}]}`, "unknown field"},
		"trailing data":     {`{"budgets": []} {}`, "data after"},
		"no monthly":        {`{"budgets": [{"scope": "org", "policy": "refuse"}]}`, "monthly"},
		"negative monthly":  {`{"budgets": [{"scope": "org", "monthly": -1, "policy": "refuse"}]}`, "monthly -1"},
		"huge monthly":      {`{"budgets": [{"scope": "org", "monthly": 1e12, "policy": "refuse"}]}`, "monthly"},
		"negative carry":    {`{"budgets": [{"scope": "org", "monthly": 1, "carry_over_cap": -5, "policy": "refuse"}]}`, "carry_over_cap"},
		"no policy":         {`{"budgets": [{"scope": "org", "monthly": 1}]}`, "policy"},
		"bad policy":        {`{"budgets": [{"scope": "org", "monthly": 1, "policy": "warn"}]}`, `policy "warn"`},
		"no scope":          {`{"budgets": [{"monthly": 1, "policy": "refuse"}]}`, "scope"},
		"bad scope":         {`{"budgets": [{"scope": "group:x", "monthly": 1, "policy": "refuse"}]}`, "want org"},
		"bad user":          {`{"budgets": [{"scope": "user:-x", "monthly": 1, "policy": "refuse"}]}`, "GitHub login"},
		"bad team":          {`{"budgets": [{"scope": "team:a b", "monthly": 1, "policy": "refuse"}]}`, "team slug"},
		"org with a name":   {`{"budgets": [{"scope": "org:sliderule", "monthly": 1, "policy": "refuse"}]}`, "want org"},
		"twice":             {`{"budgets": [{"scope": "user:ada", "monthly": 1, "policy": "refuse"}, {"scope": "user:ADA", "monthly": 2, "policy": "shrink"}]}`, "budget 1's already"},
		"bad grace":         {`{"budgets": [{"scope": "org", "monthly": 1, "policy": "refuse", "grace": "soon"}]}`, "not a duration"},
		"short grace":       {`{"budgets": [{"scope": "org", "monthly": 1, "policy": "refuse", "grace": "1m"}]}`, "grace 1m0s"},
		"long grace":        {`{"budgets": [{"scope": "org", "monthly": 1, "policy": "refuse", "grace": "200h"}]}`, "grace"},
		"warn over 100":     {`{"budgets": [{"scope": "org", "monthly": 1, "policy": "refuse", "warn_at": [150]}]}`, "warn_at 150"},
		"warn at 0":         {`{"budgets": [{"scope": "org", "monthly": 1, "policy": "refuse", "warn_at": [0]}]}`, "warn_at 0"},
		"warn unordered":    {`{"budgets": [{"scope": "org", "monthly": 1, "policy": "refuse", "warn_at": [80, 50]}]}`, "ascending"},
	} {
		_, err := Parse([]byte(tc.file))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error saying %q", name, err, tc.want)
		}
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "budgets.json")
	if err := os.WriteFile(good, []byte(`{"budgets": [{"scope": "org", "monthly": 5, "policy": "shrink"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := Load(good); err != nil || len(b) != 1 || b[0].Monthly != 5 {
		t.Fatalf("Load: %v, %v", b, err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"budgets": [{"scope": "org"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(bad); err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "monthly") {
		t.Fatalf("a bad file: %v, want its name and the fault", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.json")); err == nil {
		t.Fatal("a missing file loaded")
	}
}
