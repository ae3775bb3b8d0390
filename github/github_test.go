package github_test

import (
	"testing"
	"time"

	"provisioner"
	"provisioner/github"
)

func TestNewDefaults(t *testing.T) {
	if _, err := github.New(github.Config{}); err != nil {
		t.Fatalf("New with no settings: %v", err)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	admin := []github.ActionsRule{{Workflow: "SlideRuleEarth/sliderule/.github/workflows/nightly.yml", Level: provisioner.LevelAdmin}}
	for name, cfg := range map[string]github.Config{
		"relative API URL":            {APIURL: "api.github.com"},
		"ftp web URL":                 {WebURL: "ftp://github.com"},
		"issuer with query":           {ActionsIssuer: "https://token.actions.githubusercontent.com?x=1"},
		"negative timeout":            {Timeout: -time.Second},
		"org with a slash":            {Org: "a/b"},
		"org with ..":                 {Org: ".."},
		"admin team without org":      {AdminTeam: "admins"},
		"allowed teams without org":   {AllowedTeams: []string{"devs"}},
		"team slug with a slash":      {Org: "o", AllowedTeams: []string{"devs/x"}},
		"empty allowed team":          {Org: "o", AllowedTeams: []string{""}},
		"admin team with blank":       {Org: "o", AdminTeam: "ad mins"},
		"audience without org":        {ActionsAudience: "aud"},
		"rules without audience":      {Org: "SlideRuleEarth", ActionsRules: admin},
		"catch-all rule":              {Org: "o", ActionsAudience: "aud", ActionsRules: []github.ActionsRule{{Level: provisioner.LevelAdmin}}},
		"rule without level":          {Org: "o", ActionsAudience: "aud", ActionsRules: []github.ActionsRule{{Ref: "refs/heads/main"}}},
		"rule for another org's repo": {Org: "o", ActionsAudience: "aud", ActionsRules: []github.ActionsRule{{Repository: "other/r", Level: provisioner.LevelAdmin}}},
		"client id with newline":      {ClientID: "abc\n"},
	} {
		if _, err := github.New(cfg); provisioner.ErrorCode(err) != provisioner.EINVALID {
			t.Errorf("%s: New = %v, want EINVALID", name, err)
		}
	}
}
