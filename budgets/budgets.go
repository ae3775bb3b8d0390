// Package budgets reads the operator's budgets file: a JSON object
//
//	{"budgets": [
//	  {"scope": "org", "monthly": 2000, "carry_over_cap": 500, "policy": "refuse",
//	   "admins_exempt": true, "grace": "2h", "warn_at": [50, 80]},
//	  {"scope": "team:science", "monthly": 400, "policy": "shrink"},
//	  {"scope": "user:*", "monthly": 50, "policy": "shrink", "grace": "30m"}
//	]}
//
// with amounts in US dollars a calendar month (UTC), grace a Go duration
// (default 1h) and warn_at percentages of the allowance (default [80];
// [] for none). Every entry is validated and unknown fields are refused,
// so a typo never passes silently: a service given a bad file does not
// start.
package budgets

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"provisioner"
)

// DefaultWarnAt is the warnings of a budget that names none.
var DefaultWarnAt = []int{80}

// file is the budgets file's shape.
type file struct {
	Budgets []entry `json:"budgets"`
}

// entry is one budget as written; pointers tell a missing field from a
// zero one.
type entry struct {
	Scope        string   `json:"scope"`
	Monthly      *float64 `json:"monthly"`
	CarryOverCap float64  `json:"carry_over_cap"`
	Policy       string   `json:"policy"`
	AdminsExempt bool     `json:"admins_exempt"`
	Grace        string   `json:"grace"`
	WarnAt       *[]int   `json:"warn_at"`
}

// Parse reads and validates a budgets file: at most
// provisioner.MaxBudgets budgets, each with a scope (org, team:SLUG,
// team:*, user:LOGIN, user:*; names compare without case), a monthly
// allowance and a policy, no scope twice.
func Parse(data []byte) ([]provisioner.Budget, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f file
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("not a budgets file ({\"budgets\": [...]}): %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("data after the JSON object")
	}
	if f.Budgets == nil {
		return nil, fmt.Errorf(`"budgets" is missing: want {"budgets": [{"scope": ..., "monthly": ..., "policy": ...}, ...]}`)
	}
	if len(f.Budgets) > provisioner.MaxBudgets {
		return nil, fmt.Errorf("%d budgets: at most %d", len(f.Budgets), provisioner.MaxBudgets)
	}
	out := make([]provisioner.Budget, 0, len(f.Budgets))
	seen := map[string]int{}
	for i, e := range f.Budgets {
		b, err := e.budget()
		if err != nil {
			return nil, fmt.Errorf("budget %d: %s", i+1, provisioner.ErrorMessage(err))
		}
		if j, ok := seen[b.Scope]; ok {
			return nil, fmt.Errorf("budget %d: scope %s is budget %d's already", i+1, b.Scope, j+1)
		}
		seen[b.Scope] = i
		out = append(out, b)
	}
	return out, nil
}

func (e entry) budget() (provisioner.Budget, error) {
	b := provisioner.Budget{Scope: strings.ToLower(strings.TrimSpace(e.Scope)), CarryOverCap: e.CarryOverCap,
		Policy: provisioner.BudgetPolicy(e.Policy), AdminsExempt: e.AdminsExempt, Grace: provisioner.DefaultBudgetGrace,
		WarnAt: append([]int(nil), DefaultWarnAt...)}
	if e.Monthly == nil {
		return b, provisioner.Errorf(provisioner.EINVALID, "budget %s: monthly (dollars a month) is required", b.Scope)
	}
	b.Monthly = *e.Monthly
	if e.Policy == "" {
		return b, provisioner.Errorf(provisioner.EINVALID, "budget %s: policy (refuse or shrink) is required", b.Scope)
	}
	if e.Grace != "" {
		d, err := time.ParseDuration(e.Grace)
		if err != nil {
			return b, provisioner.Errorf(provisioner.EINVALID, "budget %s: grace %q is not a duration such as 2h or 30m", b.Scope, e.Grace)
		}
		b.Grace = d
	}
	if e.WarnAt != nil {
		b.WarnAt = *e.WarnAt
	}
	return b, b.Validate()
}

// Load reads and validates the budgets file at path.
func Load(path string) ([]provisioner.Budget, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("budgets file: %v", err)
	}
	b, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("budgets file %s: %v", path, err)
	}
	return b, nil
}
