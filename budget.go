package provisioner

import (
	"context"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Budgets: the operator's monthly allowances of money per organization,
// team or user, what each does with a DEPLOY (or EXTEND) that would go
// beyond it, and the ledger record that lets concurrent requests (and
// Lambda instances, which share nothing in memory) reserve a budget's
// headroom atomically. Months are calendar months in UTC; amounts are US
// dollars, as the estimates and the spend.

// BudgetPolicy is what a budget does with a deployment whose estimate is
// more than what is left.
type BudgetPolicy string

// The policies.
const (
	// BudgetRefuse refuses it (ELIMIT, with the amounts).
	BudgetRefuse BudgetPolicy = "refuse"
	// BudgetShrink cuts its TTL to what is left (at least MinTTL, else
	// it refuses), and the answer says so.
	BudgetShrink BudgetPolicy = "shrink"
)

// The scopes of budgets: the organization (everything this provisioner
// spends), a team (the clusters shared with it, and their node groups),
// a user (what the user owns: its clusters, node groups and jobs). A
// team or user scope may name "*": every team or user that has no budget
// of its own gets one like it.
const (
	BudgetOrg        = "org"
	budgetTeamPrefix = "team:"
	budgetUserPrefix = "user:"
	BudgetEach       = "*"
)

// Budget is one scope's allowance and rules.
type Budget struct {
	// Scope is "org", "team:SLUG", "user:LOGIN", or "team:*" / "user:*";
	// names are kept in lower case (GitHub's compare without case).
	Scope string `json:"scope"`
	// Monthly is the allowance credited every month.
	Monthly float64 `json:"monthly"`
	// CarryOverCap is the most of a month's unused allowance carried into
	// the next (0: nothing carries over).
	CarryOverCap float64      `json:"carry_over_cap,omitempty"`
	Policy       BudgetPolicy `json:"policy"`
	// AdminsExempt: an administrator's DEPLOY and EXTEND are not checked
	// against this budget, and the clusters an administrator deployed are
	// not destroyed when it runs out. Their cost still counts.
	AdminsExempt bool `json:"admins_exempt,omitempty"`
	// Grace is how long the live clusters of a budget that ran out are
	// kept after the notice, before they are destroyed.
	Grace time.Duration `json:"grace"`
	// WarnAt are the percentages of the allowance (spent and reserved)
	// at which a warning is given, ascending.
	WarnAt []int `json:"warn_at,omitempty"`
}

// The bounds of a budget file's values.
const (
	MaxBudgetAmount = 1e7
	MinBudgetGrace  = 5 * time.Minute
	MaxBudgetGrace  = 7 * 24 * time.Hour
	// DefaultBudgetGrace is the grace period of a budget that names none.
	DefaultBudgetGrace = time.Hour
	// MaxBudgets bounds the budgets of one file.
	MaxBudgets = 1000
)

var budgetTeamRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,99}$`)

// BudgetScopeOfUser is the scope of a user's own budget.
func BudgetScopeOfUser(login string) string { return budgetUserPrefix + strings.ToLower(login) }

// BudgetScopeOfTeam is the scope of a team's budget.
func BudgetScopeOfTeam(team string) string { return budgetTeamPrefix + strings.ToLower(team) }

// ParseBudgetScope splits a scope into its kind ("org", "team" or
// "user") and name ("" for the organization, "*" for each), refusing
// anything else (EINVALID).
func ParseBudgetScope(scope string) (kind, name string, err error) {
	switch {
	case scope == BudgetOrg:
		return BudgetOrg, "", nil
	case strings.HasPrefix(scope, budgetTeamPrefix):
		name = strings.TrimPrefix(scope, budgetTeamPrefix)
		if name == BudgetEach || budgetTeamRE.MatchString(name) {
			return "team", name, nil
		}
		return "", "", Errorf(EINVALID, "budget scope %q: a team is a GitHub team slug in lower case, or *", truncate(scope, 64))
	case strings.HasPrefix(scope, budgetUserPrefix):
		name = strings.TrimPrefix(scope, budgetUserPrefix)
		if name == BudgetEach || (ValidateUsername(name) == nil && name == strings.ToLower(name)) {
			return "user", name, nil
		}
		return "", "", Errorf(EINVALID, "budget scope %q: a user is a GitHub login in lower case, or *", truncate(scope, 64))
	}
	return "", "", Errorf(EINVALID, "budget scope %q: want org, team:SLUG, team:*, user:LOGIN or user:*", truncate(scope, 64))
}

// Validate checks a budget for what enforcing it relies on: a known
// scope and policy, finite amounts that are not negative, a grace period
// of 5 minutes to 7 days (so the notice comes before the destroy, and a
// destroy cannot be put off for ever), warnings between 1 and 100 %.
func (b Budget) Validate() error {
	if _, _, err := ParseBudgetScope(b.Scope); err != nil {
		return err
	}
	amount := func(what string, v float64) error {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || v > MaxBudgetAmount {
			return Errorf(EINVALID, "budget %s: %s %v must be between 0 and %g dollars", b.Scope, what, v, float64(MaxBudgetAmount))
		}
		return nil
	}
	if err := amount("monthly", b.Monthly); err != nil {
		return err
	}
	if err := amount("carry_over_cap", b.CarryOverCap); err != nil {
		return err
	}
	if b.Policy != BudgetRefuse && b.Policy != BudgetShrink {
		return Errorf(EINVALID, "budget %s: policy %q must be %q or %q", b.Scope, truncate(string(b.Policy), 32), BudgetRefuse, BudgetShrink)
	}
	if b.Grace < MinBudgetGrace || b.Grace > MaxBudgetGrace {
		return Errorf(EINVALID, "budget %s: grace %s must be between %s and %s", b.Scope, b.Grace, MinBudgetGrace, MaxBudgetGrace)
	}
	for i, p := range b.WarnAt {
		if p < 1 || p > 100 {
			return Errorf(EINVALID, "budget %s: warn_at %d must be a percentage from 1 to 100", b.Scope, p)
		}
		if i > 0 && p <= b.WarnAt[i-1] {
			return Errorf(EINVALID, "budget %s: warn_at must be ascending, each once", b.Scope)
		}
	}
	return nil
}

// ForScope is b made the budget of one concrete scope: a "user:*" or
// "team:*" budget as the one of user or team name.
func (b Budget) ForScope(scope string) Budget {
	b.Scope = scope
	b.WarnAt = slices.Clone(b.WarnAt)
	return b
}

// MonthOf is the first instant of t's month, UTC.
func MonthOf(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// BudgetCarry is what budget b carries into month: from the month start
// (where nothing is carried in) on, each month's allowance and what it
// carried in, less what it spent, kept up to the cap and never below 0.
// spent gives a month's spend in b's scope.
func BudgetCarry(b Budget, start, month time.Time, spent func(month time.Time) float64) float64 {
	if b.CarryOverCap <= 0 {
		return 0
	}
	carry := 0.0
	for m := MonthOf(start); m.Before(MonthOf(month)); m = m.AddDate(0, 1, 0) {
		carry = min(b.CarryOverCap, max(0, b.Monthly+carry-spent(m)))
	}
	return RoundMoney(carry)
}

// BudgetLedger is a budget scope's record in the store: what enforcing
// the budget must remember, and the revision every change of the scope's
// reservations goes through. A DEPLOY or EXTEND that a budget covers
// writes the scope's ledger in its own Store.Apply, under the ledger's
// compare-and-swap: of two requests that read the same revision (both
// seeing room for one), one is refused ECONFLICT and checks again,
// seeing the other's cluster.
type BudgetLedger struct {
	// Scope is the concrete scope ("org", "team:SLUG", "user:LOGIN").
	Scope string `json:"scope"`
	// Since is the first month the ledger was written in: carry-over is
	// counted from there.
	Since time.Time `json:"since"`
	// Month (YYYY-MM) is the month Warned and Exhausted are for.
	Month string `json:"month,omitempty"`
	// Warned is the highest warning threshold (a percentage) noticed in
	// Month; Exhausted when the budget was noticed to have run out in
	// Month (the grace period's start), zero when it has not.
	Warned    int       `json:"warned,omitempty"`
	Exhausted time.Time `json:"exhausted,omitzero"`
	// Exempt are the live clusters an exempt administrator deployed.
	Exempt []string `json:"exempt,omitempty"`
	// Revision is the store's compare-and-swap token (0: no record yet).
	Revision int64 `json:"-"`
}

// MonthKey is the form of BudgetLedger.Month.
func MonthKey(t time.Time) string { return t.UTC().Format("2006-01") }

// Validate refuses a ledger no store writes: no scope, a negative
// revision.
func (l BudgetLedger) Validate() error {
	switch {
	case l.Scope == "" || len(l.Scope) > 200:
		return Errorf(EINVALID, "budget ledger scope is required (at most 200 bytes)")
	case l.Revision < 0:
		return Errorf(EINVALID, "budget ledger revision must not be negative")
	}
	return nil
}

// BudgetStore keeps the budget ledgers. They are written by Store.Apply
// (Batch.Budgets), each under its revision.
type BudgetStore interface {
	// GetBudgetLedger returns a scope's ledger (with its Revision, read
	// strongly consistent) or ENOTFOUND.
	GetBudgetLedger(ctx context.Context, scope string) (BudgetLedger, error)
}
