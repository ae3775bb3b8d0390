package app

// Budgets: the operator's monthly allowances (root budget.go) and what
// they do. A DEPLOY, and an EXTEND or SCHEDULE_DESTROY that keeps a
// cluster longer, is checked against every budget that covers the
// cluster (its owner's, its team's, the organization's): all of them
// must allow it, and the tightest wins. What a budget has left this
// month is its allowance and what it carried over, less what was spent
// (the bill or the meter, app.Spend) and what the live clusters and node
// groups it covers are estimated to cost until their destroy times (so
// two deploys cannot both use the same headroom). The check writes the
// budgets' ledgers in the Store.Apply of the change it allows, each
// under its revision: of two requests that saw room for one, one is
// refused ECONFLICT, runs again, and sees the other's cluster.
//
// The reconcile sweep gives notice when a budget passes a warning
// threshold, and when it has run out (its spend reached what it has):
// then its live clusters and node groups are destroyed at the end of its
// grace period, through their destroy schedules (moved earlier, never
// later), with events all the way. A group's own schedule matters when
// its cluster stays: the public cluster, whose owner's budget is not the
// group user's.

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"provisioner"
)

// budgetCarryMonths is how far back carry-over is counted: the bill of
// older months is not read.
const budgetCarryMonths = 6

// budgetReasonPrefix starts the reason of a cluster whose destroy a
// budget brought forward (STATUS shows it).
const budgetReasonPrefix = "budget exhausted"

// The budget events, one per notice.
const (
	eventBudgetWarning   = "budget.warning"
	eventBudgetExhausted = "budget.exhausted"
	eventBudgetGrace     = "budget.grace"
	eventBudgetShrink    = "budget.shrink"
)

// budgetSet is the operator's budgets by scope.
type budgetSet struct {
	all      []provisioner.Budget
	byScope  map[string]provisioner.Budget
	carry    bool // some budget carries over
	eachUser *provisioner.Budget
	eachTeam *provisioner.Budget
}

// budgetSource gives the budgets in force: given at start, or read at
// first use (an S3 object on AWS, so that a cold start makes no AWS
// call) and kept. A source that cannot be read fails what needs the
// budgets (EUNAVAILABLE): no DEPLOY goes unchecked.
type budgetSource struct {
	mu   sync.Mutex
	set  *budgetSet
	load func(context.Context) ([]provisioner.Budget, error)
}

// fixedBudgets is a source of bs.
func fixedBudgets(bs []provisioner.Budget) *budgetSource {
	s := newBudgetSet(bs)
	return &budgetSource{set: &s}
}

// get returns the budgets, read now if they were not yet.
func (s *budgetSource) get(ctx context.Context) (*budgetSet, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.set != nil {
		return s.set, nil
	}
	bs, err := s.load(ctx)
	if err != nil {
		return nil, provisioner.Wrap(provisioner.EUNAVAILABLE, err, "the budgets cannot be read: %v", err)
	}
	for _, b := range bs {
		if err := b.Validate(); err != nil {
			return nil, provisioner.Wrap(provisioner.EUNAVAILABLE, err, "the budgets are invalid: %s", provisioner.ErrorMessage(err))
		}
	}
	set := newBudgetSet(bs)
	s.set = &set
	return s.set, nil
}

// newBudgetSet indexes valid budgets; an invalid one is a wiring bug
// (the file's parser validates them).
func newBudgetSet(bs []provisioner.Budget) budgetSet {
	s := budgetSet{byScope: map[string]provisioner.Budget{}}
	for _, b := range bs {
		if err := b.Validate(); err != nil {
			panic("app: " + err.Error())
		}
		s.all = append(s.all, b)
		s.byScope[b.Scope] = b
		s.carry = s.carry || b.CarryOverCap > 0
		switch b.Scope {
		case "user:" + provisioner.BudgetEach:
			s.eachUser = &b
		case "team:" + provisioner.BudgetEach:
			s.eachTeam = &b
		}
	}
	return s
}

// covering is the budgets, each of one concrete scope, that cover what
// owner owns on a cluster shared with team: the owner's (or each
// user's), the team's (or each team's), the organization's.
func (s budgetSet) covering(owner, team string) []provisioner.Budget {
	var out []provisioner.Budget
	pick := func(scope string, each *provisioner.Budget) {
		if b, ok := s.byScope[scope]; ok {
			out = append(out, b)
		} else if each != nil {
			out = append(out, each.ForScope(scope))
		}
	}
	if owner != "" {
		pick(provisioner.BudgetScopeOfUser(owner), s.eachUser)
	}
	if team != "" {
		pick(provisioner.BudgetScopeOfTeam(team), s.eachTeam)
	}
	if b, ok := s.byScope[provisioner.BudgetOrg]; ok {
		out = append(out, b)
	}
	return out
}

// concrete is every budget of a concrete scope that book's deployments
// or spend make relevant: those the file names, and a "*" budget for
// each owner or team it covers.
func (s budgetSet) concrete(bk *budgetBook) []provisioner.Budget {
	seen := map[string]bool{}
	var out []provisioner.Budget
	add := func(b provisioner.Budget) {
		if !seen[b.Scope] {
			seen[b.Scope] = true
			out = append(out, b)
		}
	}
	for _, b := range s.all {
		if !strings.HasSuffix(b.Scope, ":"+provisioner.BudgetEach) {
			add(b)
		}
	}
	for _, d := range bk.live() {
		for _, b := range s.covering(d.owner, d.team) {
			add(b)
		}
	}
	for _, r := range bk.rows {
		if !r.Day.Before(bk.month) {
			for _, b := range s.covering(r.Owner, r.Team) {
				add(b)
			}
		}
	}
	slices.SortFunc(out, func(x, y provisioner.Budget) int { return strings.Compare(x.Scope, y.Scope) })
	return out
}

// budgetBook is what reckoning a budget reads: the spend since the
// carry-over's first month, the price table, the live clusters and node
// groups (read again, after the ledgers, by every check), at one time.
type budgetBook struct {
	now, month time.Time
	rows       []provisioner.SpendRow
	source     string
	table      provisioner.PriceTable
	layout     provisioner.Layout
	clusters   []provisioner.Cluster
	groups     []provisioner.NodeGroup
}

// budgetBook reads the spend and the prices; the deployments are read
// by listLive, which the caller calls (a check after the ledgers).
func (a *App) budgetBook(ctx context.Context, set *budgetSet) (*budgetBook, error) {
	now := a.now().UTC()
	bk := &budgetBook{now: now, month: provisioner.MonthOf(now), layout: a.costs.Layout}
	since := bk.month
	if set.carry {
		since = since.AddDate(0, -budgetCarryMonths, 0)
	}
	var err error
	if bk.table, err = a.priceTable(ctx); err != nil {
		return nil, provisioner.Wrap(provisioner.EUNAVAILABLE, err, "budgets: no price table to estimate with: %s", provisioner.ErrorMessage(err))
	}
	if bk.rows, bk.source, err = a.Spend(ctx, since); err != nil {
		return nil, provisioner.Wrap(provisioner.EUNAVAILABLE, err, "budgets: the spend cannot be read: %s", provisioner.ErrorMessage(err))
	}
	return bk, nil
}

// listLive reads the clusters and node groups.
func (bk *budgetBook) listLive(ctx context.Context, s provisioner.Store) error {
	var err error
	if bk.clusters, err = s.ListClusters(ctx); err != nil {
		return err
	}
	bk.groups, err = s.ListNodeGroups(ctx, "")
	return err
}

// deployment is a live cluster or node group as budgets see it.
type deployment struct {
	key, owner, team string
	group            bool
	d                provisioner.Deployment
}

// live is the clusters and node groups deploying or running; a group
// is its user's, on its cluster's team.
func (bk *budgetBook) live() []deployment {
	var out []deployment
	teams := map[string]string{}
	for _, cl := range bk.clusters {
		teams[cl.Name] = cl.Team
		if isLive(cl.Deployment) {
			out = append(out, deployment{key: cl.Name, owner: cl.CreatedBy, team: cl.Team, d: cl.Deployment})
		}
	}
	for _, g := range bk.groups {
		if isLive(g.Deployment) {
			out = append(out, deployment{key: g.Key(), owner: g.User, team: teams[g.Cluster], group: true, d: g.Deployment})
		}
	}
	return out
}

func isLive(d provisioner.Deployment) bool {
	return d.State == provisioner.StateDeploying || d.State == provisioner.StateRunning
}

// inScope tells whether what owner owns on a cluster shared with team
// is in a concrete scope.
func inScope(scope, owner, team string) bool {
	kind, name, _ := provisioner.ParseBudgetScope(scope)
	switch kind {
	case provisioner.BudgetOrg:
		return true
	case "user":
		return owner != "" && strings.EqualFold(owner, name)
	case "team":
		return team != "" && strings.EqualFold(team, name)
	}
	return false
}

// hourly is what nodes nodes of a cluster (or a group) cost an hour.
func (bk *budgetBook) hourly(nodes int, group bool) (float64, error) {
	estimate := provisioner.EstimateCluster
	if group {
		estimate = provisioner.EstimateGroup
	}
	e, err := estimate(bk.table, bk.layout, nodes, 0)
	return e.Hourly, err
}

// spent is the spend in scope within [from, to).
func (bk *budgetBook) spent(scope string, from, to time.Time) float64 {
	sum := 0.0
	for _, r := range bk.rows {
		if !r.Day.Before(from) && r.Day.Before(to) && inScope(scope, r.Owner, r.Team) {
			sum += r.Amount
		}
	}
	return provisioner.RoundMoney(sum)
}

// budgetState is a budget's reckoning this month.
type budgetState struct {
	Budget    provisioner.Budget
	Month     time.Time
	Carried   float64 // carried over from the months before
	Available float64 // the allowance and what was carried
	Spent     float64 // this month, from the bill or the meter
	Reserved  float64 // the live deployments' estimates until their destroy times
	Left      float64 // Available - Spent - Reserved; below 0 when overcommitted
	Live      int     // live clusters and node groups in scope
}

// state reckons budget b (of a concrete scope) with its ledger l, leaving
// out of the reserved amount the deployment except (the one being
// checked).
func (bk *budgetBook) state(b provisioner.Budget, l provisioner.BudgetLedger, except string) budgetState {
	st := budgetState{Budget: b, Month: bk.month}
	start := provisioner.MonthOf(l.Since)
	if l.Since.IsZero() {
		start = bk.month // no ledger yet: the budget starts now
	}
	if oldest := bk.month.AddDate(0, -budgetCarryMonths, 0); start.Before(oldest) {
		start = oldest
	}
	st.Carried = provisioner.BudgetCarry(b, start, bk.month, func(m time.Time) float64 {
		return bk.spent(b.Scope, m, m.AddDate(0, 1, 0))
	})
	st.Available = provisioner.RoundMoney(b.Monthly + st.Carried)
	st.Spent = bk.spent(b.Scope, bk.month, bk.month.AddDate(0, 1, 0))
	reserved := 0.0
	for _, d := range bk.live() {
		if !inScope(b.Scope, d.owner, d.team) {
			continue
		}
		st.Live++
		t := d.d.DestroyTime()
		if d.key == except || t.IsZero() || !t.After(bk.now) {
			continue
		}
		h, err := bk.hourly(d.d.NodeCapacity, d.group)
		if err != nil {
			continue // priced nowhere: its spend still counts
		}
		reserved += h * t.Sub(bk.now).Hours()
	}
	st.Reserved = provisioner.RoundMoney(reserved)
	st.Left = provisioner.RoundMoney(st.Available - st.Spent - st.Reserved)
	return st
}

// usedPercent is what is spent and reserved, in percent of what the
// budget has (100 and more when nothing is left).
func (st budgetState) usedPercent() float64 {
	if st.Available <= 0 {
		return 100
	}
	return (st.Spent + st.Reserved) / st.Available * 100
}

// exhausted: the spend reached what the budget has.
func (st budgetState) exhausted() bool { return st.Spent >= st.Available && st.Available+st.Spent > 0 }

// explain is a budget's amounts for people.
func (st budgetState) explain() string {
	return fmt.Sprintf("the budget of %s has %s left in %s (%s allowance + %s carried over - %s spent - %s reserved by %s)",
		st.Budget.Scope, money(st.Left), st.Month.Format("January 2006"), money(st.Budget.Monthly), money(st.Carried),
		money(st.Spent), money(st.Reserved), plural(st.Live, "live deployment"))
}

// plural is n things, with an s when n is not 1.
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// shortDuration is 2h, 1h30m or 45m (whole minutes).
func shortDuration(d time.Duration) string {
	d = d.Truncate(time.Minute)
	switch h, m := d/time.Hour, (d%time.Hour)/time.Minute; {
	case h > 0 && m == 0:
		return fmt.Sprintf("%dh", h)
	case h > 0:
		return fmt.Sprintf("%dh%dm", h, m)
	default:
		return fmt.Sprintf("%dm", m)
	}
}

func money(v float64) string {
	if v < 0 {
		return "-" + money(-v)
	}
	return fmt.Sprintf("$%.2f", v)
}

// BudgetShrink says what a budget did to a DEPLOY's TTL (or an EXTEND's):
// Asked was cut to TTL, all that Scope's budget covers.
type BudgetShrink struct {
	Scope      string
	Asked, TTL time.Duration
	Left       float64 // what the budget had left
	Message    string
}

// budgetClaim is what a DEPLOY or EXTEND asks of the budgets: nodes of
// key (a cluster, or a node group's GroupKey when group) for ttl from
// now, owned by owner, shared with team.
type budgetClaim struct {
	key, owner, team string
	nodes            int
	ttl              time.Duration
	deploy           bool // a DEPLOY (it sets the cluster's exemption), not an EXTEND
	group            bool // a node group, priced as one
}

// claimBudgets checks claim against every budget that covers it (see
// the top of this file) and returns the TTL they allow (claim's, or
// less under a shrink policy, with what was cut), and the ledgers to
// write with the change: all of them, at the revisions read. bk is read
// at first use and kept; the deployments are read again after the
// ledgers on every call. An administrator is not checked against a
// budget that exempts administrators; an exempt DEPLOY or EXTEND
// exempts the cluster from that budget's grace destroy.
func (a *App) claimBudgets(ctx context.Context, c Caller, bk **budgetBook, claim budgetClaim, what string) (time.Duration, []provisioner.BudgetLedger, *BudgetShrink, error) {
	set, err := a.budgets.get(ctx)
	if err != nil {
		return 0, nil, nil, err
	}
	covering := set.covering(claim.owner, claim.team)
	if len(covering) == 0 {
		return claim.ttl, nil, nil, nil
	}
	if *bk == nil {
		b, err := a.budgetBook(ctx, set)
		if err != nil {
			return 0, nil, nil, err
		}
		*bk = b
	}
	ledgers := make([]provisioner.BudgetLedger, len(covering))
	for i, b := range covering {
		l, err := a.budgetLedger(ctx, b.Scope, (*bk).month)
		if err != nil {
			return 0, nil, nil, err
		}
		ledgers[i] = l
	}
	// The deployments after the ledgers: whatever changed a ledger since
	// is in them.
	if err := (*bk).listLive(ctx, a.store); err != nil {
		return 0, nil, nil, err
	}
	hourly, err := (*bk).hourly(claim.nodes, claim.group)
	if err != nil {
		return 0, nil, nil, provisioner.Wrap(provisioner.EUNAVAILABLE, err, "%s: the budgets cannot price it: %s", what, provisioner.ErrorMessage(err))
	}
	need := provisioner.RoundMoney(hourly * claim.ttl.Hours())
	ttl := claim.ttl
	var tightest *budgetState
	var refuse *budgetState
	live := liveKeys((*bk).live())
	for i, b := range covering {
		l := &ledgers[i]
		l.Exempt = slices.DeleteFunc(slices.Clone(l.Exempt), func(k string) bool { return !live[k] || (claim.deploy && k == claim.key) })
		if b.AdminsExempt && c.User.Level >= provisioner.LevelAdmin {
			l.Exempt = append(l.Exempt, claim.key)
			slices.Sort(l.Exempt)
			l.Exempt = slices.Compact(l.Exempt)
			continue
		}
		st := (*bk).state(b, *l, claim.key)
		if need <= st.Left {
			continue
		}
		covered := time.Duration(0)
		if st.Left > 0 && hourly > 0 {
			covered = (time.Duration(st.Left / hourly * float64(time.Hour))).Truncate(time.Minute)
		}
		if b.Policy == provisioner.BudgetRefuse && refuse == nil {
			refuse = &st
		}
		if covered < ttl {
			ttl, tightest = covered, &st
		}
	}
	estimate := fmt.Sprintf("%s is estimated at %s (%s for %s)", what, money(need), plural(claim.nodes, "node"), shortDuration(claim.ttl))
	switch {
	case refuse != nil:
		return 0, nil, nil, provisioner.Errorf(provisioner.ELIMIT, "%s: %s; %s", what, refuse.explain(), estimate)
	case tightest == nil:
		return claim.ttl, ledgers, nil, nil
	case ttl < MinTTL:
		return 0, nil, nil, provisioner.Errorf(provisioner.ELIMIT, "%s: %s, which covers less than the shortest TTL (%s); %s", what, tightest.explain(), shortDuration(MinTTL), estimate)
	}
	s := &BudgetShrink{Scope: tightest.Budget.Scope, Asked: claim.ttl, TTL: ttl, Left: tightest.Left}
	s.Message = fmt.Sprintf("the TTL was cut from %s to %s: %s; %s", shortDuration(claim.ttl), shortDuration(ttl), tightest.explain(), estimate)
	return ttl, ledgers, s, nil
}

// later is the later of two times.
func later(x, y time.Time) time.Time {
	if x.After(y) {
		return x
	}
	return y
}

func liveKeys(ds []deployment) map[string]bool {
	m := make(map[string]bool, len(ds))
	for _, d := range ds {
		m[d.key] = true
	}
	return m
}

// budgetLedger reads a scope's ledger; a new one starts in month.
func (a *App) budgetLedger(ctx context.Context, scope string, month time.Time) (provisioner.BudgetLedger, error) {
	l, err := a.store.GetBudgetLedger(ctx, scope)
	if provisioner.ErrorCode(err) == provisioner.ENOTFOUND {
		return provisioner.BudgetLedger{Scope: scope, Since: month}, nil
	}
	return l, err
}

// BudgetReport is the budget report: this month's reckoning of the
// budgets the caller may see.
type BudgetReport struct {
	Month   time.Time // the first of this month, UTC
	Source  string    // where the spend comes from: SpendBilled or SpendMetered ("" without budgets)
	Budgets []BudgetStatus
}

// BudgetStatus is one budget as the budget report shows it.
type BudgetStatus struct {
	budgetState
	Source    string    // where Spent comes from: SpendBilled or SpendMetered
	Warned    int       // the highest warning given this month
	Exhausted time.Time // when it was noticed to have run out this month
}

// UsedPercent is what is spent and reserved, in percent of what the
// budget has, to a tenth.
func (s BudgetStatus) UsedPercent() float64 {
	return math.Round(s.usedPercent()*10) / 10
}

// State is "exhausted" (the spend reached what the budget has),
// "warning" (a warning threshold is passed) or "ok".
func (s BudgetStatus) State() string {
	switch {
	case s.exhausted():
		return "exhausted"
	case s.Warned > 0 || len(s.Budget.WarnAt) > 0 && s.usedPercent() >= float64(s.Budget.WarnAt[0]):
		return "warning"
	}
	return "ok"
}

// Budgets is the budget report: any logged-in user may ask, and sees
// its own budget, its teams' and the organization's; an administrator
// every budget in force (a "*" budget once per user or team it covers).
func (a *App) Budgets(ctx context.Context, c Caller) (BudgetReport, error) {
	if err := requireLevel(c.User, provisioner.LevelMember, "the budget report"); err != nil {
		return BudgetReport{}, err
	}
	r := BudgetReport{Month: provisioner.MonthOf(a.now()), Budgets: []BudgetStatus{}}
	set, err := a.budgets.get(ctx)
	if err != nil {
		return BudgetReport{}, err
	}
	if len(set.all) == 0 {
		return r, nil
	}
	bk, err := a.budgetBook(ctx, set)
	if err == nil {
		err = bk.listLive(ctx, a.store)
	}
	if err != nil {
		return BudgetReport{}, err
	}
	r.Source = bk.source
	var scopes []provisioner.Budget
	if c.User.Level >= provisioner.LevelAdmin {
		scopes = set.concrete(bk)
	} else {
		scopes = set.covering(c.User.Login, "")
		for _, t := range c.User.Teams {
			for _, b := range set.covering("", t) {
				if !slices.ContainsFunc(scopes, func(x provisioner.Budget) bool { return x.Scope == b.Scope }) {
					scopes = append(scopes, b)
				}
			}
		}
	}
	month := provisioner.MonthKey(bk.now)
	for _, b := range scopes {
		l, err := a.budgetLedger(ctx, b.Scope, bk.month)
		if err != nil {
			return BudgetReport{}, err
		}
		s := BudgetStatus{budgetState: bk.state(b, l, ""), Source: bk.source}
		if l.Month == month {
			s.Warned, s.Exhausted = l.Warned, l.Exhausted
		}
		r.Budgets = append(r.Budgets, s)
	}
	return r, nil
}

// budgetReschedule checks an EXTEND or SCHEDULE_DESTROY that keeps a
// live cluster longer (its destroy time from before to cl's) against the
// budgets: the time from now to the new destroy is claimed as a DEPLOY's
// TTL, and a shrink policy cuts it (refusing when that leaves nothing
// beyond before). The ledgers go into b. A cluster kept longer loses a
// budget's reason.
func (a *App) budgetReschedule(ctx context.Context, c Caller, book **budgetBook, cl *provisioner.Cluster, before time.Time, b *provisioner.Batch, what string) (*BudgetShrink, error) {
	return a.budgetKeep(ctx, c, book, budgetClaim{key: cl.Name, owner: cl.CreatedBy, team: cl.Team}, &cl.Deployment, before, b, what)
}

// budgetKeep is budgetReschedule for the deployment d of claim's key
// (a cluster's, or a node group's), whose nodes and TTL it fills in.
func (a *App) budgetKeep(ctx context.Context, c Caller, book **budgetBook, claim budgetClaim, d *provisioner.Deployment, before time.Time, b *provisioner.Batch, what string) (*BudgetShrink, error) {
	after := d.DestroyTime()
	if before.IsZero() || !after.After(before) || !isLive(*d) {
		return nil, nil // shorter, or no longer than for ever
	}
	now := a.now().UTC()
	claim.nodes, claim.ttl = d.NodeCapacity, after.Sub(now)
	ttl, ledgers, shrink, err := a.claimBudgets(ctx, c, book, claim, what)
	if err != nil {
		return nil, err
	}
	if shrink != nil {
		cut := now.Add(ttl)
		if !cut.After(before) {
			return nil, provisioner.Errorf(provisioner.ELIMIT, "%s: the budget of %s covers no time beyond %s: %s",
				what, shrink.Scope, formatTime(before), shrink.Message)
		}
		if !d.DestroyAt.IsZero() {
			d.DestroyAt = cut
		} else {
			d.ExpiresAt = cut
		}
		a.note(b, claim.key, eventBudgetShrink, c, shrink.Message)
	}
	if strings.HasPrefix(d.Reason, budgetReasonPrefix) {
		d.Reason = ""
	}
	b.Budgets = ledgers
	return shrink, nil
}
