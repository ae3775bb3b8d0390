package github

import (
	"bytes"
	"encoding/json"
	"strings"

	"provisioner"
)

// ActionsRule grants a level to GitHub Actions workflows of the org. A rule
// matches a verified token when every non-empty field matches; rules are
// tried in order and the first match wins; no match gives member.
//
// Matching, always on whole values (never substrings or globs):
//
//   - Repository equals the "repository" claim ("owner/name"), ignoring
//     case as GitHub does for names.
//   - Ref equals the "ref" claim exactly, e.g. "refs/heads/main".
//   - Workflow is compared with both the "job_workflow_ref" claim (the
//     workflow file the job runs, which differs for reusable workflows) and
//     the "workflow_ref" claim (the workflow that was triggered), and
//     matches if either matches. With an "@", it must equal the claim
//     exactly: "SlideRuleEarth/sliderule/.github/workflows/nightly.yml@refs/heads/main".
//     Without an "@", it must equal the part of the claim before the "@",
//     i.e. that workflow file at any ref:
//     "SlideRuleEarth/sliderule/.github/workflows/nightly.yml".
//   - EventName equals the "event_name" claim exactly, e.g. "schedule".
//
// A rule must set at least one of the four fields, and a level of member,
// org_member or admin.
type ActionsRule struct {
	Repository string            `json:"repository,omitempty"`
	Ref        string            `json:"ref,omitempty"`
	Workflow   string            `json:"workflow,omitempty"`
	EventName  string            `json:"event_name,omitempty"`
	Level      provisioner.Level `json:"level"`
}

// maxRulesLen bounds a rules flag value; real ones are a few hundred bytes.
const maxRulesLen = 64 << 10

// ParseActionsRules parses the --actions-rules value: a JSON array of rules,
// e.g.
//
//	[{"repository":"SlideRuleEarth/sliderule",
//	  "workflow":"SlideRuleEarth/sliderule/.github/workflows/nightly.yml@refs/heads/main",
//	  "level":"admin"}]
//
// Unknown fields are errors, so a typo cannot silently widen a rule. An
// empty or blank value means no rules.
func ParseActionsRules(s string) ([]ActionsRule, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	if len(s) > maxRulesLen {
		return nil, provisioner.Errorf(provisioner.EINVALID, "GitHub Actions rules are longer than %d bytes", maxRulesLen)
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.DisallowUnknownFields()
	var rules []ActionsRule
	if err := dec.Decode(&rules); err != nil {
		return nil, provisioner.Errorf(provisioner.EINVALID, "invalid GitHub Actions rules: want a JSON array of {repository, ref, workflow, event_name, level}: %v", err)
	}
	if dec.More() {
		return nil, provisioner.Errorf(provisioner.EINVALID, "invalid GitHub Actions rules: unexpected data after the JSON array")
	}
	for i, r := range rules {
		if err := r.validate(); err != nil {
			return nil, provisioner.Errorf(provisioner.EINVALID, "GitHub Actions rule %d: %s", i+1, provisioner.ErrorMessage(err))
		}
	}
	return rules, nil
}

func (r ActionsRule) validate() error {
	if r.Repository == "" && r.Ref == "" && r.Workflow == "" && r.EventName == "" {
		return provisioner.Errorf(provisioner.EINVALID, "a rule must name a repository, ref, workflow or event_name; it would match every workflow")
	}
	if r.Level < provisioner.LevelMember || r.Level > provisioner.LevelAdmin {
		return provisioner.Errorf(provisioner.EINVALID, "level must be member, org_member or admin")
	}
	if r.Repository != "" {
		owner, name, ok := strings.Cut(r.Repository, "/")
		if !ok || !slugRE.MatchString(owner) || !slugRE.MatchString(name) {
			return provisioner.Errorf(provisioner.EINVALID, "repository %q: want owner/name", r.Repository)
		}
	}
	if r.Workflow != "" && strings.Count(r.Workflow, "@") > 1 {
		return provisioner.Errorf(provisioner.EINVALID, "workflow %q: want owner/repo/.github/workflows/FILE[@ref]", r.Workflow)
	}
	for _, v := range []string{r.Ref, r.Workflow, r.EventName} {
		if strings.TrimSpace(v) != v {
			return provisioner.Errorf(provisioner.EINVALID, "%q has surrounding blanks; it could never match", v)
		}
	}
	return nil
}

// workflowClaims are the claims of a verified Actions token rules look at.
type workflowClaims struct {
	Repository     string
	Ref            string
	WorkflowRef    string
	JobWorkflowRef string
	EventName      string
}

func (r ActionsRule) matches(c workflowClaims) bool {
	return (r.Repository == "" || strings.EqualFold(r.Repository, c.Repository)) &&
		(r.Ref == "" || r.Ref == c.Ref) &&
		(r.Workflow == "" || workflowMatches(r.Workflow, c.JobWorkflowRef) || workflowMatches(r.Workflow, c.WorkflowRef)) &&
		(r.EventName == "" || r.EventName == c.EventName)
}

func workflowMatches(rule, claim string) bool {
	if claim == "" {
		return false
	}
	if strings.Contains(rule, "@") {
		return rule == claim
	}
	path, _, _ := strings.Cut(claim, "@")
	return rule == path
}

// levelFor returns the level of the first matching rule, else member.
func levelFor(rules []ActionsRule, c workflowClaims) provisioner.Level {
	for _, r := range rules {
		if r.matches(c) {
			return r.Level
		}
	}
	return provisioner.LevelMember
}
