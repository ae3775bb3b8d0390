package app

// Costs: estimates for DEPLOY, EXTEND and node groups (and their dry
// runs), the embedded backend's metering, and the spend report. The
// estimate and the spend query are functions of their own
// (EstimateCluster, EstimateGroup, Spend) for whatever else needs them.

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"provisioner"
)

// CostConfig is what the cost functions need; every part is optional.
type CostConfig struct {
	// Prices is the price table in force; nil: no estimates.
	Prices provisioner.Prices
	// Layout is what a cluster is made of, as priced (its Region says
	// which prices apply).
	Layout provisioner.Layout
	// Spend is the bill (Cost Explorer on AWS); nil: spend is metered
	// from Usage, or not known.
	Spend provisioner.SpendSource
	// Usage keeps the stretches metered (embedded); nil: no metering.
	Usage provisioner.UsageStore
}

// The sources of a spend report.
const (
	SpendBilled  = "cost_explorer" // the cloud's bill
	SpendMetered = "metered"       // runtime × price (embedded)
)

// MaxCostWindow is the longest window a spend report covers: Cost
// Explorer keeps about 13 months.
const MaxCostWindow = 366 * 24 * time.Hour

// EstimateCluster is what a cluster of nodes nodes kept for d costs, from
// the price table in force.
func (a *App) EstimateCluster(ctx context.Context, nodes int, d time.Duration) (provisioner.Estimate, error) {
	t, err := a.priceTable(ctx)
	if err != nil {
		return provisioner.Estimate{}, err
	}
	return provisioner.EstimateCluster(t, a.costs.Layout, nodes, d)
}

// EstimateGroup is what a node group of nodes nodes kept for d costs.
func (a *App) EstimateGroup(ctx context.Context, nodes int, d time.Duration) (provisioner.Estimate, error) {
	t, err := a.priceTable(ctx)
	if err != nil {
		return provisioner.Estimate{}, err
	}
	return provisioner.EstimateGroup(t, a.costs.Layout, nodes, d)
}

func (a *App) priceTable(ctx context.Context) (provisioner.PriceTable, error) {
	if a.costs.Prices == nil {
		return provisioner.PriceTable{}, provisioner.Errorf(provisioner.EUNAVAILABLE, "this provisioner has no price table")
	}
	return a.costs.Prices.PriceTable(ctx)
}

// remaining is how long a deployment has until its destroy schedule
// fires, from now; false for one without (registered by hand) or past it.
func (a *App) remaining(d provisioner.Deployment) (time.Duration, bool) {
	t := d.DestroyTime()
	if t.IsZero() || (d.State != provisioner.StateDeploying && d.State != provisioner.StateRunning) {
		return 0, false
	}
	return max(t.Sub(a.now()), 0), true
}

// ClusterEstimate is the estimate a DEPLOY or EXTEND answer carries: the
// cluster as it is, from now until its destroy time. nil when there is
// none to give (no table, a cluster going away); a failure is logged,
// never the request's.
func (a *App) ClusterEstimate(ctx context.Context, cl provisioner.Cluster) *provisioner.Estimate {
	d, ok := a.remaining(cl.Deployment)
	if !ok || a.costs.Prices == nil {
		return nil
	}
	e, err := a.EstimateCluster(ctx, cl.NodeCapacity, d)
	if err != nil {
		a.log.Warn("no estimate", "cluster", cl.Name, "err", err)
		return nil
	}
	return &e
}

// GroupEstimate is ClusterEstimate for a node group.
func (a *App) GroupEstimate(ctx context.Context, g provisioner.NodeGroup) *provisioner.Estimate {
	d, ok := a.remaining(g.Deployment)
	if !ok || a.costs.Prices == nil {
		return nil
	}
	e, err := a.EstimateGroup(ctx, g.NodeCapacity, d)
	if err != nil {
		a.log.Warn("no estimate", "group", g.Key(), "err", err)
		return nil
	}
	return &e
}

// Plan is a dry run's answer: what a DEPLOY would deploy and cost, and
// the state the cluster (or group) is in now.
type Plan struct {
	Cluster  string
	User     string // a node group's user, "" for a cluster
	Nodes    int
	TTL      time.Duration
	State    provisioner.ClusterState
	Estimate provisioner.Estimate
	// Budget says how a budget would cut the TTL asked (TTL is then
	// what it allows); nil when none would.
	Budget *BudgetShrink
}

// PlanDeploy is DEPLOY's dry run: the request and the caller are checked
// as DEPLOY checks them (name, version, TTL, nodes, level, team, limits,
// live clusters), nothing is written or deployed, and the answer is the
// estimate for the TTL asked. The cluster's present state is reported,
// not acted on.
func (a *App) PlanDeploy(ctx context.Context, c Caller, req DeployRequest) (Plan, error) {
	if a.driver == nil {
		return Plan{}, provisioner.Errorf(provisioner.ENOTFOUND, "cluster deployment is not enabled on this provisioner")
	}
	if err := a.checkDeploy(c, &req); err != nil {
		return Plan{}, err
	}
	if err := a.checkQuota(ctx, c, req); err != nil {
		return Plan{}, err
	}
	state := provisioner.StateAbsent
	var cl provisioner.Cluster
	if ok, err := a.visible(ctx, c, req.Cluster); err != nil {
		return Plan{}, err
	} else if ok {
		var err error
		cl, err = a.store.GetCluster(ctx, req.Cluster)
		switch {
		case err == nil:
			state = cl.State
		case provisioner.ErrorCode(err) != provisioner.ENOTFOUND:
			return Plan{}, err
		}
	}
	// The budgets as DEPLOY would reckon them, nothing written.
	var shrink *BudgetShrink
	if state != provisioner.StateRunning && state != provisioner.StateDeploying {
		owner, team := deployOwner(c, cl, req)
		var book *budgetBook
		ttl, _, s, err := a.claimBudgets(ctx, c, &book, budgetClaim{key: req.Cluster, owner: owner, team: team,
			nodes: req.NodeCapacity, ttl: req.TTL, deploy: true}, "DEPLOY of "+req.Cluster)
		if err != nil {
			return Plan{}, err
		}
		req.TTL, shrink = ttl, s
	}
	e, err := a.EstimateCluster(ctx, req.NodeCapacity, req.TTL)
	if err != nil {
		return Plan{}, err
	}
	return Plan{Cluster: req.Cluster, Nodes: req.NodeCapacity, TTL: req.TTL, State: state, Estimate: e, Budget: shrink}, nil
}

// PlanGroup is the dry run of a node group's DEPLOY: its checks, the
// budgets' answer (refused, or the TTL cut, as the DEPLOY would be), and
// the estimate of its nodes for the TTL granted. Nothing is written.
func (a *App) PlanGroup(ctx context.Context, c Caller, req GroupRequest) (Plan, error) {
	if _, err := a.groupDriver(); err != nil {
		return Plan{}, err
	}
	what := "DEPLOY of the node group of " + req.User
	if err := authorizeGroup(c, req.User, what); err != nil {
		return Plan{}, err
	}
	var err error
	if req.Cluster, err = a.resolveParent(ctx, req.Cluster); err != nil {
		return Plan{}, err
	}
	if req.TTL == 0 {
		req.TTL = a.limits.DefaultTTL
	}
	if req.NodeCapacity < 1 || req.NodeCapacity > a.limits.AbsMaxNodes {
		return Plan{}, provisioner.Errorf(provisioner.EINVALID, "node_capacity must be between 1 and %d", a.limits.AbsMaxNodes)
	}
	if err := a.checkGroupLimits(c, req.Cluster, req.NodeCapacity, req.TTL); err != nil {
		return Plan{}, err
	}
	parent, err := a.store.GetCluster(ctx, req.Cluster)
	if provisioner.ErrorCode(err) == provisioner.ENOTFOUND || (err == nil && !parent.IsPublic && !seesPrivate(c.User, parent.Name)) {
		return Plan{}, provisioner.Errorf(provisioner.ENOTFOUND, "cluster %q does not exist", req.Cluster)
	} else if err != nil {
		return Plan{}, err
	}
	if err := authorizeParent(c, parent, what); err != nil {
		return Plan{}, err
	}
	state := provisioner.StateAbsent
	if g, err := a.store.GetNodeGroup(ctx, req.Cluster, req.User); err == nil {
		state = g.State
	} else if provisioner.ErrorCode(err) != provisioner.ENOTFOUND {
		return Plan{}, err
	}
	// The budgets as the group's DEPLOY would reckon them (a group that
	// runs or deploys is joined, not claimed again), nothing written.
	var shrink *BudgetShrink
	if state != provisioner.StateRunning && state != provisioner.StateDeploying {
		var book *budgetBook
		ttl, _, s, err := a.claimBudgets(ctx, c, &book, budgetClaim{key: provisioner.GroupKey(req.Cluster, req.User), owner: req.User,
			team: parent.Team, nodes: req.NodeCapacity, ttl: req.TTL, deploy: true, group: true}, what+" on "+req.Cluster)
		if err != nil {
			return Plan{}, err
		}
		req.TTL, shrink = ttl, s
	}
	e, err := a.EstimateGroup(ctx, req.NodeCapacity, req.TTL)
	if err != nil {
		return Plan{}, err
	}
	return Plan{Cluster: req.Cluster, User: req.User, Nodes: req.NodeCapacity, TTL: req.TTL, State: state, Estimate: e, Budget: shrink}, nil
}

// meterEvent keeps the meter (embedded) in step with a deployment's life,
// from the events that mark it: a stretch opens when a DEPLOY starts, and
// ends when the cluster or group fails or is gone. Metering is
// best-effort: a failure is logged, and the sweep ends stretches left
// open (reconcileUsage).
func (a *App) meterEvent(ctx context.Context, key, typ string, at time.Time) {
	if a.costs.Usage == nil {
		return
	}
	var err error
	switch typ {
	case "deploy.requested":
		var u provisioner.Usage
		if u, err = a.usageOf(ctx, key, at); err == nil {
			err = a.costs.Usage.StartUsage(ctx, u)
		}
	case "state.failed", "state.absent":
		err = a.costs.Usage.EndUsage(ctx, key, at)
	default:
		return
	}
	if err != nil {
		a.log.Error("metering", "key", key, "event", typ, "err", err)
	}
}

// usageOf is the stretch a deployment of key opens at at: its nodes, who
// pays (a cluster's owner, a group's user), the cluster's team, and the
// hourly price now (0 when there is no price: priced when read).
func (a *App) usageOf(ctx context.Context, key string, at time.Time) (provisioner.Usage, error) {
	cluster, user, group := provisioner.ParseScheduleKey(key)
	cl, err := a.store.GetCluster(ctx, cluster)
	if err != nil {
		return provisioner.Usage{}, err
	}
	u := provisioner.Usage{Key: key, Cluster: cluster, Owner: cl.CreatedBy, Team: cl.Team, Nodes: cl.NodeCapacity, Start: at}
	if group {
		g, err := a.store.GetNodeGroup(ctx, cluster, user)
		if err != nil {
			return provisioner.Usage{}, err
		}
		u.Owner, u.Group, u.Nodes = user, true, g.NodeCapacity
	}
	u.Hourly = a.hourly(ctx, u)
	return u, nil
}

// hourly prices a stretch from the table in force; 0 when it cannot.
func (a *App) hourly(ctx context.Context, u provisioner.Usage) float64 {
	estimate := a.EstimateCluster
	if u.Group {
		estimate = a.EstimateGroup
	}
	e, err := estimate(ctx, u.Nodes, 0)
	if err != nil {
		return 0
	}
	return e.Hourly
}

// reconcileUsage ends the stretches still open of deployments that no
// longer run (a crash between the change and its meter), at the sweep's
// time: the sweep bounds what such a loss costs.
func (a *App) reconcileUsage(ctx context.Context) {
	if a.costs.Usage == nil {
		return
	}
	now := a.now().UTC()
	open, err := a.costs.Usage.ListUsage(ctx, now, now.Add(time.Nanosecond))
	if err != nil {
		a.log.Error("sweep: metering", "err", err)
		return
	}
	for _, u := range open {
		if !u.End.IsZero() {
			continue
		}
		var d provisioner.Deployment
		cluster, user, group := provisioner.ParseScheduleKey(u.Key)
		if group {
			g, err := a.store.GetNodeGroup(ctx, cluster, user)
			if err != nil && provisioner.ErrorCode(err) != provisioner.ENOTFOUND {
				continue
			}
			d = g.Deployment
		} else {
			cl, err := a.store.GetCluster(ctx, cluster)
			if err != nil && provisioner.ErrorCode(err) != provisioner.ENOTFOUND {
				continue
			}
			d = cl.Deployment
		}
		if d.State == "" || d.State == provisioner.StateAbsent || d.State == provisioner.StateFailed {
			if err := a.costs.Usage.EndUsage(ctx, u.Key, now); err != nil {
				a.log.Error("sweep: metering", "key", u.Key, "err", err)
			}
		}
	}
}

// Spend is what was spent per day, cluster, owner and team from since
// until now (whole UTC days), and where the figures come from: the bill
// (Cost Explorer) where there is one, else the meter. Every row, with no
// regard to who asks: Costs filters them.
func (a *App) Spend(ctx context.Context, since time.Time) ([]provisioner.SpendRow, string, error) {
	now := a.now().UTC()
	since = since.UTC().Truncate(24 * time.Hour)
	until := now.Truncate(24 * time.Hour).Add(24 * time.Hour)
	switch {
	case a.costs.Spend != nil:
		rows, err := a.costs.Spend.Spend(ctx, since, until)
		return rows, SpendBilled, err
	case a.costs.Usage != nil:
		usage, err := a.costs.Usage.ListUsage(ctx, since, now)
		if err != nil {
			return nil, "", err
		}
		return provisioner.Meter(usage, since, now, func(u provisioner.Usage) float64 { return a.hourly(ctx, u) }), SpendMetered, nil
	}
	return nil, "", provisioner.Errorf(provisioner.EUNAVAILABLE, "this provisioner knows no spend: neither a bill nor a meter")
}

// The groupings of a spend report.
var costGroupings = []string{"cluster", "user", "team"}

// CostQuery asks for a spend report: by cluster (the default), user or
// team, from since (a UTC day; zero: the first of this month) until now.
type CostQuery struct {
	By    string
	Since time.Time
}

// CostReport is what the caller may see of the spend, grouped.
type CostReport struct {
	By       string
	Since    time.Time // the first day
	Until    time.Time // now
	Source   string    // SpendBilled or SpendMetered
	Currency string
	Total    float64
	Groups   []CostGroup // largest first
}

// CostGroup is one cluster's, user's or team's spend: Key "" gathers what
// has none (job machines have no cluster; most clusters no team).
type CostGroup struct {
	Key   string
	Total float64
	Days  []DayCost // oldest first
}

// DayCost is one day's spend.
type DayCost struct {
	Day    time.Time
	Amount float64
}

// Costs is the spend report: any logged-in user may ask, and sees what
// it owns (its clusters, its node groups, its jobs), what was spent on
// clusters shared with its teams, and, if an administrator, everything.
func (a *App) Costs(ctx context.Context, c Caller, q CostQuery) (CostReport, error) {
	if err := requireLevel(c.User, provisioner.LevelMember, "the spend report"); err != nil {
		return CostReport{}, err
	}
	if q.By == "" {
		q.By = "cluster"
	}
	if !slices.Contains(costGroupings, q.By) {
		return CostReport{}, provisioner.Errorf(provisioner.EINVALID, "by must be one of %s, not %q", strings.Join(costGroupings, ", "), clip(q.By))
	}
	now := a.now().UTC()
	if q.Since.IsZero() {
		q.Since = time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	switch {
	case q.Since.After(now):
		return CostReport{}, provisioner.Errorf(provisioner.EINVALID, "since (%s) is in the future", q.Since.UTC().Format(time.RFC3339))
	case now.Sub(q.Since) > MaxCostWindow:
		return CostReport{}, provisioner.Errorf(provisioner.EINVALID, "since (%s) is more than %d days ago; ask for a shorter window",
			q.Since.UTC().Format(time.DateOnly), int(MaxCostWindow.Hours()/24))
	}
	rows, source, err := a.Spend(ctx, q.Since)
	if err != nil {
		return CostReport{}, err
	}
	r := CostReport{By: q.By, Since: q.Since.UTC().Truncate(24 * time.Hour), Until: now, Source: source, Currency: "USD", Groups: []CostGroup{}}
	byKey := map[string]map[time.Time]float64{}
	for _, row := range rows {
		if !seesSpend(c.User, row) || row.Amount == 0 {
			continue
		}
		k := row.Cluster
		switch q.By {
		case "user":
			k = row.Owner
		case "team":
			k = row.Team
		}
		if byKey[k] == nil {
			byKey[k] = map[time.Time]float64{}
		}
		byKey[k][row.Day] += row.Amount
	}
	for k, days := range byKey {
		g := CostGroup{Key: k}
		for d, v := range days {
			g.Days = append(g.Days, DayCost{Day: d, Amount: provisioner.RoundMoney(v)})
			g.Total += v
		}
		slices.SortFunc(g.Days, func(x, y DayCost) int { return x.Day.Compare(y.Day) })
		g.Total = provisioner.RoundMoney(g.Total)
		r.Total += g.Total
		r.Groups = append(r.Groups, g)
	}
	slices.SortFunc(r.Groups, func(x, y CostGroup) int { return cmp.Or(cmp.Compare(y.Total, x.Total), cmp.Compare(x.Key, y.Key)) })
	r.Total = provisioner.RoundMoney(r.Total)
	return r, nil
}

// seesSpend is who may see a row of spend: its owner, the members of its
// cluster's team, administrators.
func seesSpend(u provisioner.User, r provisioner.SpendRow) bool {
	return u.Level >= provisioner.LevelAdmin || (r.Owner != "" && strings.EqualFold(r.Owner, u.Login)) || inTeam(u, r.Team)
}
