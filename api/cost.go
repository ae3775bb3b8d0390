package api

import (
	"time"

	"provisioner"
)

// DeployPlan is the answer of a DEPLOY with dry_run: what it would deploy
// and cost, and the state of the cluster (or node group) now. Nothing was
// deployed.
type DeployPlan struct {
	Status        string               `json:"status"`  // "success"
	DryRun        bool                 `json:"dry_run"` // true
	Cluster       string               `json:"cluster"`
	User          string               `json:"user,omitempty"` // a node group's
	State         string               `json:"state"`
	NodeCapacity  int                  `json:"node_capacity"`
	TTL           int                  `json:"ttl"` // minutes
	EstimatedCost provisioner.Estimate `json:"estimated_cost"`
	// Budget is set when a budget would cut the TTL asked (TTL is then
	// what it allows).
	Budget *BudgetNote `json:"budget,omitempty"`
}

// CostReport is the answer of GET /report/costs: what the caller may see
// of the spend since a day, grouped by cluster, user or team.
type CostReport struct {
	Status   string      `json:"status"` // "success"
	By       string      `json:"by"`
	Since    string      `json:"since"` // the first day, YYYY-MM-DD
	Until    time.Time   `json:"until"`
	Source   string      `json:"source"` // cost_explorer or metered
	Currency string      `json:"currency"`
	Total    float64     `json:"total"`
	Groups   []CostGroup `json:"groups"`
}

// CostGroup is one cluster's, user's or team's spend; key "" gathers what
// has none (job machines, clusters shared with no team).
type CostGroup struct {
	Key   string    `json:"key"`
	Total float64   `json:"total"`
	Days  []DayCost `json:"days"`
}

// DayCost is one day's spend (UTC).
type DayCost struct {
	Date   string  `json:"date"` // YYYY-MM-DD
	Amount float64 `json:"amount"`
}
