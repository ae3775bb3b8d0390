package app

// Budgets running out: the reconcile sweep's notices when a budget passes
// a warning threshold or runs out, and the destroys it brings forward to
// the end of the grace period (budget.go has the reckoning).

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"provisioner"
)

// budgetNote is one budget notice: a warning, a budget run out, a
// cluster's (or node group's) destroy brought forward to the end of the
// grace period.
type budgetNote struct {
	Kind      string // eventBudgetWarning, eventBudgetExhausted, eventBudgetGrace
	Scope     string
	Key       string // a cluster's name, or a node group's GroupKey: whose event it is
	Owner     string // the cluster's owner, the group's user
	Message   string
	State     budgetState
	Threshold int       // budget.warning: the percentage passed
	DestroyAt time.Time // when the cluster goes (budget.exhausted: at the latest)
}

// budgetNotice is where every budget notice goes once its event is
// recorded (the event is the notice that is never lost: EVENTS shows
// it): to the notice sinks (notice.go; webhook, Slack, mail, the
// cluster's owner among the addressees), as a provisioner.NoticeBudget
// whose ID names the notice's kind, budget, month, moment and cluster,
// so that it goes out once whoever raises it. A sink that fails does
// not fail the sweep.
func (a *App) budgetNotice(ctx context.Context, n budgetNote) {
	a.log.Info("budget notice", "kind", n.Kind, "scope", n.Scope, "key", n.Key, "owner", n.Owner,
		"left", n.State.Left, "destroy_at", n.DestroyAt, "message", n.Message)
	cluster, user, group := provisioner.ParseScheduleKey(n.Key)
	what := cluster
	if group {
		what = "the node group of " + user + " on " + cluster
	}
	var subject string
	moment := n.State.Month.Format("2006-01")
	switch n.Kind {
	case eventBudgetWarning:
		subject = fmt.Sprintf("%s: %.0f%% of the budget of %s is spent or reserved", what, n.State.usedPercent(), n.Scope)
		moment += fmt.Sprintf("-%d", n.Threshold)
	case eventBudgetExhausted:
		subject = fmt.Sprintf("%s: the budget of %s has run out", what, n.Scope)
		moment = n.DestroyAt.UTC().Format(time.RFC3339)
	case eventBudgetGrace:
		subject = fmt.Sprintf("%s is destroyed at %s: the budget of %s has run out", what, n.DestroyAt.UTC().Format(time.RFC3339), n.Scope)
		moment = n.DestroyAt.UTC().Format(time.RFC3339)
	}
	text := n.Message + "\n\nThe operator can raise the budget; `provisioner budgets` shows where it stands, and destroying clusters no longer needed leaves more for the others.\n"
	err := a.Notify(ctx, provisioner.Notice{ID: noticeID(string(provisioner.NoticeBudget), n.Kind, n.Scope, moment, n.Key),
		Kind: provisioner.NoticeBudget, Cluster: cluster, Owner: n.Owner, DestroyAt: n.DestroyAt, Reason: n.Kind,
		Subject: subject, Text: text, URL: a.clusterURL(cluster)})
	if err != nil {
		a.log.Error("cannot send a budget notice", "key", n.Key, "kind", n.Kind, "err", err)
	}
}

// reconcileBudgets is the sweep's part: every budget in force is
// reckoned, and its live clusters and node groups get notice of a warning threshold
// passed or of the budget run out, each once a month (the ledger
// remembers, and is written with the notices' events in one
// Store.Apply, so two sweeps never both give one); a budget run out has
// its live clusters and node groups destroyed at the end of its grace
// period.
func (a *App) reconcileBudgets(ctx context.Context) {
	if a.driver == nil {
		return
	}
	set, err := a.budgets.get(ctx)
	if err != nil || len(set.all) == 0 {
		if err != nil {
			a.log.Error("sweep: budgets", "err", err)
		}
		return
	}
	bk, err := a.budgetBook(ctx, set)
	if err == nil {
		err = bk.listLive(ctx, a.store)
	}
	if err != nil {
		a.log.Error("sweep: budgets", "err", err)
		return
	}
	for _, b := range set.concrete(bk) {
		if ctx.Err() != nil {
			return
		}
		if err := a.enforceBudget(ctx, bk, b); err != nil {
			a.log.Warn("sweep: budget", "scope", b.Scope, "err", err)
		}
	}
}

// budgetTargets are the live clusters and node groups of b's scope that
// its enforcement reaches: not those an exempt administrator deployed.
func budgetTargets(bk *budgetBook, b provisioner.Budget, l provisioner.BudgetLedger) []deployment {
	var out []deployment
	for _, d := range bk.live() {
		if inScope(b.Scope, d.owner, d.team) && !slices.Contains(l.Exempt, d.key) {
			out = append(out, d)
		}
	}
	return out
}

func (a *App) enforceBudget(ctx context.Context, bk *budgetBook, b provisioner.Budget) error {
	l, err := a.budgetLedger(ctx, b.Scope, bk.month)
	if err != nil {
		return err
	}
	st := bk.state(b, l, "")
	targets := budgetTargets(bk, b, l)
	month := provisioner.MonthKey(bk.now)
	next := l
	if next.Month != month {
		next.Month, next.Warned, next.Exhausted = month, 0, time.Time{}
	}
	var notes []budgetNote
	note := func(kind, msg string) {
		for _, d := range targets {
			n := budgetNote{Kind: kind, Scope: b.Scope, Key: d.key, Owner: d.owner, Message: msg, State: st, Threshold: next.Warned}
			if kind == eventBudgetExhausted {
				n.Threshold, n.DestroyAt = 0, next.Exhausted.Add(b.Grace)
			}
			notes = append(notes, n)
		}
	}
	switch {
	case st.exhausted() && len(targets) > 0 && next.Exhausted.IsZero():
		next.Exhausted = bk.now
		note(eventBudgetExhausted, fmt.Sprintf("%s: the budget has run out; its live clusters and node groups are destroyed at %s (after a grace period of %s) unless it is raised",
			st.explain(), next.Exhausted.Add(b.Grace).Format(time.RFC3339), b.Grace))
	case !st.exhausted() && !next.Exhausted.IsZero():
		next.Exhausted = time.Time{} // raised meanwhile: a new notice if it runs out again
	case !st.exhausted() && len(targets) > 0:
		used := st.usedPercent()
		for _, p := range b.WarnAt {
			if float64(p) <= used && p > next.Warned {
				next.Warned = p
			}
		}
		if next.Warned > l.Warned || next.Month != l.Month && next.Warned > 0 {
			note(eventBudgetWarning, fmt.Sprintf("%.0f%% of the budget is spent or reserved (warning at %d%%): %s", used, next.Warned, st.explain()))
		}
	}
	if next.Month != l.Month || next.Warned != l.Warned || !next.Exhausted.Equal(l.Exhausted) {
		if err := a.writeNotes(ctx, next, notes); err != nil {
			return err
		}
	}
	if !st.exhausted() || next.Exhausted.IsZero() {
		return nil
	}
	at := next.Exhausted.Add(b.Grace)
	for _, d := range targets {
		a.graceDestroy(ctx, d.key, at, st)
	}
	return nil
}

// writeNotes writes a ledger with the events of its notices (as many as
// one batch holds; the rest after), then hands them to budgetNotice.
// A lost race (ECONFLICT: another sweep wrote first) writes nothing.
func (a *App) writeNotes(ctx context.Context, l provisioner.BudgetLedger, notes []budgetNote) error {
	b := provisioner.Batch{Budgets: []provisioner.BudgetLedger{l}}
	var rest provisioner.Batch
	for _, n := range notes {
		into := &b
		if b.Len()+2 > provisioner.MaxBatch {
			into = &rest
		}
		a.note(into, n.Key, n.Kind, system, n.Message)
	}
	if _, err := a.applied(ctx, b); err != nil {
		return err
	}
	a.writeRecords(ctx, rest)
	for _, n := range notes {
		a.budgetNotice(ctx, n)
	}
	return nil
}

// graceDestroy brings the destroy of key (a cluster, or a node group's
// GroupKey) forward to at (not sooner than the guard window from now),
// never later, with a budget.grace event and the reason in its record,
// and moves its schedule: a group's own, which FireDestroy of the
// GroupKey follows.
func (a *App) graceDestroy(ctx context.Context, key string, at time.Time, st budgetState) {
	ctx, end := a.journaled(ctx)
	defer end()
	unlock := a.locks.lock(key)
	defer unlock()
	now := a.now().UTC()
	at = later(at, now.Add(GuardWindow)).UTC()
	reason := fmt.Sprintf("%s (%s): destroyed at %s", budgetReasonPrefix, st.Budget.Scope, at.Format(time.RFC3339))
	move := func(d *provisioner.Deployment, exists bool, b *provisioner.Batch) (bool, error) {
		if !exists || !isLive(*d) {
			return false, nil
		}
		if t := d.DestroyTime(); !t.IsZero() && !t.After(at) {
			return false, nil // it goes sooner anyway
		}
		d.DestroyAt, d.Reason, d.UpdatedAt = at, reason, now
		a.note(b, key, eventBudgetGrace, system, fmt.Sprintf("%s: %s; the grace period of %s ends then", reason, st.explain(), st.Budget.Grace))
		return true, nil
	}
	var owner string
	var moved bool
	var err error
	if cluster, user, group := provisioner.ParseScheduleKey(key); group {
		owner = user
		err = a.transitionGroup(ctx, cluster, user, func(g *provisioner.NodeGroup, exists bool, b *provisioner.Batch) (bool, error) {
			ok, err := move(&g.Deployment, exists, b)
			moved = ok
			return ok, err
		})
	} else {
		moved, err = a.transition(ctx, key, func(cl *provisioner.Cluster, exists bool, b *provisioner.Batch) (bool, error) {
			owner = cl.CreatedBy
			return move(&cl.Deployment, exists, b)
		})
	}
	if err != nil {
		a.log.Error("sweep: budget grace", "key", key, "err", err)
		return
	}
	if !moved {
		return
	}
	if err := a.setSchedule(ctx, key, at, system); err != nil {
		a.log.Error("cannot move the destroy schedule; the reconcile sweep destroys it at its time", "key", key, "err", err)
	}
	a.budgetNotice(ctx, budgetNote{Kind: eventBudgetGrace, Scope: st.Budget.Scope, Key: key, Owner: owner, Message: reason, State: st, DestroyAt: at})
}

// budgetDestroyReason says why a cluster whose destroy comes due goes,
// when a budget brought it forward: its reason says so, or a budget
// that covers it ran out this month and the destroy time is within its
// grace period. "" otherwise.
func (a *App) budgetDestroyReason(ctx context.Context, cl provisioner.Cluster) string {
	if strings.HasPrefix(cl.Reason, budgetReasonPrefix) {
		return cl.Reason
	}
	set, err := a.budgets.get(ctx)
	if err != nil {
		return ""
	}
	month := provisioner.MonthKey(a.now())
	for _, b := range set.covering(cl.CreatedBy, cl.Team) {
		l, err := a.store.GetBudgetLedger(ctx, b.Scope)
		if err != nil || l.Month != month || l.Exhausted.IsZero() || slices.Contains(l.Exempt, cl.Name) {
			continue
		}
		if t := cl.DestroyTime(); !t.After(l.Exhausted.Add(b.Grace)) {
			return fmt.Sprintf("%s (%s)", budgetReasonPrefix, b.Scope)
		}
	}
	return ""
}
