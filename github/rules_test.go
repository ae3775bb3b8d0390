package github

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"provisioner"
)

func TestRuleMatching(t *testing.T) {
	const (
		repo    = "SlideRuleEarth/sliderule"
		nightly = repo + "/.github/workflows/nightly.yml"
	)
	nightlyMain := workflowClaims{
		Repository: repo, Ref: "refs/heads/main", EventName: "schedule",
		WorkflowRef: nightly + "@refs/heads/main", JobWorkflowRef: nightly + "@refs/heads/main",
	}
	// A job of ci.yml on a branch that calls nightly.yml from main as a
	// reusable workflow.
	reusable := workflowClaims{
		Repository: repo, Ref: "refs/heads/dev", EventName: "push",
		WorkflowRef: repo + "/.github/workflows/ci.yml@refs/heads/dev", JobWorkflowRef: nightly + "@refs/heads/main",
	}
	tests := []struct {
		name   string
		rule   ActionsRule
		claims workflowClaims
		want   bool
	}{
		{"repository", ActionsRule{Repository: repo}, nightlyMain, true},
		{"repository ignores case", ActionsRule{Repository: "slideruleEARTH/SlideRule"}, nightlyMain, true},
		{"repository of another owner", ActionsRule{Repository: "SlideRuleEarthX/sliderule"}, nightlyMain, false},
		{"repository prefix", ActionsRule{Repository: "SlideRuleEarth/slide"}, nightlyMain, false},
		{"ref", ActionsRule{Ref: "refs/heads/main"}, nightlyMain, true},
		{"ref is exact", ActionsRule{Ref: "refs/heads/mai"}, nightlyMain, false},
		{"ref is case-sensitive", ActionsRule{Ref: "refs/heads/Main"}, nightlyMain, false},
		{"workflow with ref", ActionsRule{Workflow: nightly + "@refs/heads/main"}, nightlyMain, true},
		{"workflow with other ref", ActionsRule{Workflow: nightly + "@refs/heads/dev"}, nightlyMain, false},
		{"workflow at any ref", ActionsRule{Workflow: nightly}, nightlyMain, true},
		{"workflow path prefix", ActionsRule{Workflow: repo + "/.github/workflows/night"}, nightlyMain, false},
		{"workflow ref prefix", ActionsRule{Workflow: nightly + "@refs/heads/ma"}, nightlyMain, false},
		{"workflow via job_workflow_ref", ActionsRule{Workflow: nightly + "@refs/heads/main"}, reusable, true},
		{"workflow via workflow_ref", ActionsRule{Workflow: repo + "/.github/workflows/ci.yml"}, reusable, true},
		{"workflow and ref both checked", ActionsRule{Workflow: nightly, Ref: "refs/heads/main"}, reusable, false},
		{"event", ActionsRule{EventName: "schedule"}, nightlyMain, true},
		{"event mismatch", ActionsRule{EventName: "push"}, nightlyMain, false},
		{"all fields", ActionsRule{Repository: repo, Ref: "refs/heads/main", Workflow: nightly + "@refs/heads/main", EventName: "schedule"}, nightlyMain, true},
		{"one field off", ActionsRule{Repository: repo, Ref: "refs/heads/main", Workflow: nightly + "@refs/heads/main", EventName: "push"}, nightlyMain, false},
		{"missing claims", ActionsRule{Workflow: nightly}, workflowClaims{Repository: repo}, false},
	}
	for _, tt := range tests {
		if got := tt.rule.matches(tt.claims); got != tt.want {
			t.Errorf("%s: matches = %v, want %v", tt.name, got, tt.want)
		}
	}

	rules := []ActionsRule{
		{Workflow: nightly + "@refs/heads/main", Level: provisioner.LevelAdmin},
		{Repository: repo, Level: provisioner.LevelOrgMember},
	}
	if l := levelFor(rules, nightlyMain); l != provisioner.LevelAdmin {
		t.Errorf("first matching rule: %v", l)
	}
	if l := levelFor(rules[1:], nightlyMain); l != provisioner.LevelOrgMember {
		t.Errorf("second rule: %v", l)
	}
	if l := levelFor(nil, nightlyMain); l != provisioner.LevelMember {
		t.Errorf("no rules: %v", l)
	}
}

func TestParseActionsRules(t *testing.T) {
	got, err := ParseActionsRules(`[
		{"repository":"SlideRuleEarth/sliderule","workflow":"SlideRuleEarth/sliderule/.github/workflows/nightly.yml@refs/heads/main","level":"admin"},
		{"ref":"refs/heads/main","event_name":"schedule","level":"org_member"}
	]`)
	want := []ActionsRule{
		{Repository: "SlideRuleEarth/sliderule", Workflow: "SlideRuleEarth/sliderule/.github/workflows/nightly.yml@refs/heads/main", Level: provisioner.LevelAdmin},
		{Ref: "refs/heads/main", EventName: "schedule", Level: provisioner.LevelOrgMember},
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("ParseActionsRules = %+v, %v", got, err)
	}
	for _, s := range []string{"", "  ", "[]", "null"} {
		if r, err := ParseActionsRules(s); err != nil || len(r) != 0 {
			t.Errorf("ParseActionsRules(%q) = %v, %v; want no rules", s, r, err)
		}
	}
	for _, s := range []string{
		`{"repository":"a/b","level":"admin"}`,          // not an array
		`[{"repository":"a/b","level":"root"}]`,         // unknown level
		`[{"repository":"a/b"}]`,                        // no level
		`[{"repository":"a/b","level":"anonymous"}]`,    // anonymous
		`[{"level":"admin"}]`,                           // matches everything
		`[{"repo":"a/b","level":"admin"}]`,              // typo
		`[{"repository":"a","level":"admin"}]`,          // not owner/name
		`[{"repository":"a/b/c","level":"admin"}]`,      // not owner/name
		`[{"repository":"../b","level":"admin"}]`,       // not owner/name
		`[{"workflow":"a@b@c","level":"admin"}]`,        // two @
		`[{"ref":" refs/heads/main","level":"admin"}]`,  // blanks
		`[{"repository":"a/b","level":"admin"}] [true]`, // trailing data
		`[{"repository":"a/b","level":"admin"}`,         // truncated
		"[" + strings.Repeat(`{"ref":"r","level":"member"},`, 3000) + `{"ref":"r","level":"member"}]`,
	} {
		if r, err := ParseActionsRules(s); err == nil {
			t.Errorf("ParseActionsRules(%.60q) = %+v, want an error", s, r)
		} else if provisioner.ErrorCode(err) != provisioner.EINVALID {
			t.Errorf("ParseActionsRules(%.60q): code %s", s, provisioner.ErrorCode(err))
		}
	}
}

func FuzzParseActionsRules(f *testing.F) {
	for _, s := range []string{
		`[{"repository":"SlideRuleEarth/sliderule","workflow":"SlideRuleEarth/sliderule/.github/workflows/nightly.yml@refs/heads/main","level":"admin"}]`,
		`[{"ref":"refs/heads/main","event_name":"schedule","level":"org_member"}]`,
		`[{"level":"admin"}]`, `[]`, `null`, ``, `[{"repository":"a/b","level":"root"}]`, `[{}]`, `{}`, `[1]`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rules, err := ParseActionsRules(s)
		if err != nil {
			if provisioner.ErrorCode(err) != provisioner.EINVALID {
				t.Fatalf("error %v is not EINVALID", err)
			}
			return
		}
		// Accepted rules are valid, and survive a round trip unchanged.
		for _, r := range rules {
			if err := r.validate(); err != nil {
				t.Fatalf("accepted an invalid rule %+v: %v", r, err)
			}
		}
		b, err := json.Marshal(rules)
		if err != nil {
			t.Fatalf("marshal %+v: %v", rules, err)
		}
		again, err := ParseActionsRules(string(b))
		if err != nil || len(again) != len(rules) || (len(rules) > 0 && !reflect.DeepEqual(again, rules)) {
			t.Fatalf("round trip of %s = %+v, %v; want %+v", b, again, err, rules)
		}
	})
}
