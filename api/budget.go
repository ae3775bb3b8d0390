package api

import "time"

// BudgetNote (ours) says how a budget cut the TTL a DEPLOY (or an
// EXTEND, or a SCHEDULE_DESTROY) asked for: the cluster is kept TTL
// minutes, all that Scope's budget has left (Left dollars) covers.
type BudgetNote struct {
	Scope    string  `json:"scope"`
	AskedTTL int     `json:"ttl_asked"` // minutes
	TTL      int     `json:"ttl"`       // minutes
	Left     float64 `json:"left"`
	Message  string  `json:"message"`
}

// BudgetReport is the answer of GET /report/budgets: the budgets the
// caller may see, this month.
type BudgetReport struct {
	Status   string   `json:"status"` // "success"
	Month    string   `json:"month"`  // YYYY-MM (UTC)
	Currency string   `json:"currency"`
	Source   string   `json:"source,omitempty"` // of the spend: cost_explorer or metered
	Budgets  []Budget `json:"budgets"`
}

// Budget is one budget of a BudgetReport: its rules, and this month's
// reckoning (Left = Available - Spent - Reserved).
type Budget struct {
	Scope        string     `json:"scope"`
	Policy       string     `json:"policy"`
	AdminsExempt bool       `json:"admins_exempt"`
	Monthly      float64    `json:"monthly"`
	CarryOverCap float64    `json:"carry_over_cap"`
	Grace        int        `json:"grace"` // minutes
	WarnAt       []int      `json:"warn_at"`
	Carried      float64    `json:"carried"`
	Available    float64    `json:"available"`
	Spent        float64    `json:"spent"`
	Reserved     float64    `json:"reserved"`
	Left         float64    `json:"left"`
	UsedPercent  float64    `json:"used_percent"`
	Live         int        `json:"live"`  // live clusters and node groups it covers
	State        string     `json:"state"` // ok, warning or exhausted
	ExhaustedAt  *time.Time `json:"exhausted_at,omitempty"`
}
