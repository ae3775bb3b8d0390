package app

// Notices: before a scheduled destroy (at the configured lead times), on
// a failed DEPLOY or DESTROY, on a failed TEST, and whatever App.Notify is
// given (budgets). Each notice is claimed once in the store, by appending
// an event whose ID is the notice's (a store refuses an event ID twice, on
// every instance), and then delivered to every sink with bounded retries,
// each attempt recorded as a notice.sent or notice.failed event. Delivery
// runs beside the work that raised the notice and never holds it up.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"provisioner"
)

// NoticeConfig says who hears about destroys and failures. With no Sinks
// nothing is sent, nothing is scheduled, and STATUS shows no next notice.
type NoticeConfig struct {
	Sinks []provisioner.NoticeSink
	// Leads are how long before a scheduled destroy its notices go out
	// (provisioner.CheckNoticeLeads); none: no notices before destroys.
	Leads []time.Duration
	// DashboardURL, when set, is the base of the link in a cluster's
	// notices: DashboardURL + "/#/clusters/" + name.
	DashboardURL string
	// Contacts finds the cluster owner's address for email sinks; nil:
	// only the operator's addresses get email.
	Contacts provisioner.Contacts
	// Attempts bounds the tries per sink (default 4); Backoff is the wait
	// after the n-th failed one (default 2^(n-1) s, at most 30 s).
	Attempts int
	Backoff  func(attempt int) time.Duration
	// AttemptTimeout bounds one try (default 10 s); Deadline the whole
	// delivery of a notice, retries included (default 1 min).
	AttemptTimeout, Deadline time.Duration
	// InlineDeadline bounds a delivery that runs in an API request,
	// before its answer (default 5 s): on the Lambda, where nothing runs
	// in the background, a request that raises a notice (a poll that sees
	// a DEPLOY fail) must still answer within API Gateway's 30 s.
	// Deliveries from schedules and the sweep get Deadline.
	InlineDeadline time.Duration
	// Sleep waits between attempts (default: a timer); tests pass one that
	// moves their clock instead.
	Sleep func(ctx context.Context, d time.Duration) error
}

// noticeEvents is where a notice about no cluster is recorded: no
// cluster's name has an underscore.
const noticeEvents = "_notices"

// notices is the App's notice configuration and what this process has
// seen claimed, so a sweep does not ask the store again.
type notices struct {
	NoticeConfig
	mu      sync.Mutex
	claimed map[string]bool
}

func (c NoticeConfig) withDefaults() NoticeConfig {
	if c.Attempts <= 0 {
		c.Attempts = 4
	}
	if c.Backoff == nil {
		c.Backoff = func(n int) time.Duration { return min(time.Duration(1<<min(n-1, 5))*time.Second, 30*time.Second) }
	}
	if c.AttemptTimeout <= 0 {
		c.AttemptTimeout = 10 * time.Second
	}
	if c.Deadline <= 0 {
		c.Deadline = time.Minute
	}
	if c.InlineDeadline <= 0 {
		c.InlineDeadline = 5 * time.Second
	}
	if c.Sleep == nil {
		c.Sleep = sleep
	}
	c.DashboardURL = strings.TrimRight(c.DashboardURL, "/")
	return c
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (n *notices) on() bool { return len(n.Sinks) > 0 }

// seen reports whether this process saw the notice id claimed, and
// remembers it from now on if mark.
func (n *notices) seen(id string, mark bool) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.claimed[id] {
		return true
	}
	if mark {
		if n.claimed == nil || len(n.claimed) > 10000 { // a bounded memory, not a record
			n.claimed = map[string]bool{}
		}
		n.claimed[id] = true
	}
	return false
}

// NextNotice is when the next notice before cl's destroy is due: the
// earliest lead time still ahead; zero when none will go out (no sinks, no
// destroy time, or every lead passed).
func (a *App) NextNotice(cl provisioner.Cluster) time.Time {
	d := cl.DestroyTime()
	if !a.notices.on() || d.IsZero() || (cl.State != provisioner.StateRunning && cl.State != provisioner.StateDeploying) {
		return time.Time{}
	}
	now := a.now()
	var next time.Time
	for _, lead := range a.notices.Leads {
		if t := d.Add(-lead); t.After(now) && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	return next.UTC()
}

// dueLead is the lead whose notice is due now before a destroy at d: the
// shortest lead whose time has come (a notice missed while nothing ran is
// superseded by a later one, never sent with it); false when none is, or
// the destroy time itself has come.
func (a *App) dueLead(d time.Time) (time.Duration, bool) {
	now := a.now()
	if d.IsZero() || !now.Before(d) {
		return 0, false
	}
	var due time.Duration
	found := false
	for _, lead := range a.notices.Leads {
		if !d.Add(-lead).After(now) && (!found || lead < due) {
			due, found = lead, true
		}
	}
	return due, found
}

// noticeID is the stable ID of a notice made of parts.
func noticeID(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(sum[:16])
}

func destroyNoticeID(cluster string, destroyAt time.Time, lead time.Duration) string {
	return noticeID(string(provisioner.NoticeDestroySoon), cluster, destroyAt.UTC().Format(time.RFC3339Nano), lead.String())
}

// scheduleNotices moves a cluster's notice schedules to its destroy time
// at: one schedule per lead still ahead; a lead whose time has already
// come gets none (and loses any it had): whoever set the destroy time
// knows it, and it is never sent late.
func (a *App) scheduleNotices(ctx context.Context, name string, at time.Time) {
	if !a.notices.on() || a.scheduler == nil {
		return
	}
	if _, _, group := provisioner.ParseScheduleKey(name); group {
		return
	}
	now := a.now()
	for _, lead := range a.notices.Leads {
		key, t := provisioner.NoticeKey(name, lead), at.Add(-lead)
		if t.After(now) {
			if err := a.scheduler.SetDestroy(ctx, key, t); err != nil {
				a.log.Error("cannot schedule a notice; the sweep sends it", "cluster", name, "lead", lead, "err", err)
			}
		} else if err := a.scheduler.RemoveDestroy(ctx, key); err != nil {
			a.log.Warn("cannot remove a notice schedule", "cluster", name, "lead", lead, "err", err)
		}
	}
}

// unscheduleNotices removes a cluster's notice schedules.
func (a *App) unscheduleNotices(ctx context.Context, name string) {
	if !a.notices.on() || a.scheduler == nil {
		return
	}
	if _, _, group := provisioner.ParseScheduleKey(name); group {
		return
	}
	for _, lead := range a.notices.Leads {
		if err := a.scheduler.RemoveDestroy(ctx, provisioner.NoticeKey(name, lead)); err != nil {
			a.log.Warn("cannot remove a notice schedule", "cluster", name, "lead", lead, "err", err)
		}
	}
}

// fireNotice is a notice schedule's fire: the notice lead before the
// destroy of cluster, from the cluster's destroy time now. It sends
// nothing when that lead is not the one due (the destroy moved since, and
// the schedule at the new time sends it; or a shorter lead's time has come
// too, after a stretch with nothing running: that one goes out, not both).
// An error (the store's) makes the scheduler retry.
func (a *App) fireNotice(ctx context.Context, name string, lead time.Duration) error {
	if !a.notices.on() {
		return nil
	}
	cl, err := a.store.GetCluster(ctx, name)
	if provisioner.ErrorCode(err) == provisioner.ENOTFOUND {
		return nil
	} else if err != nil {
		return err
	}
	if due, ok := a.dueLead(cl.DestroyTime()); !ok || due != lead {
		return nil
	}
	return a.noticeBeforeDestroy(ctx, cl, lead)
}

// sweepNotice is the sweep's look at a cluster: it sends the notice due now
// that a schedule missed (one that could not be set, say), if that
// notice's time came after the cluster was last changed, so that a lead
// already past when the destroy time was set is never sent by it either.
func (a *App) sweepNotice(ctx context.Context, cl provisioner.Cluster) error {
	if !a.notices.on() {
		return nil
	}
	d := cl.DestroyTime()
	lead, ok := a.dueLead(d)
	if !ok || !d.Add(-lead).After(cl.UpdatedAt) {
		return nil
	}
	return a.noticeBeforeDestroy(ctx, cl, lead)
}

// noticeBeforeDestroy sends the notice lead before cl's destroy, once.
func (a *App) noticeBeforeDestroy(ctx context.Context, cl provisioner.Cluster, lead time.Duration) error {
	if cl.State != provisioner.StateRunning && cl.State != provisioner.StateDeploying {
		return nil
	}
	d := cl.DestroyTime()
	id := destroyNoticeID(cl.Name, d, lead)
	if a.notices.seen(id, false) {
		return nil
	}
	n := a.destroyNotice(cl, d, lead)
	n.ID = id
	return a.Notify(ctx, n)
}

// destroyNotice is the notice lead before cl's destroy at d.
func (a *App) destroyNotice(cl provisioner.Cluster, d time.Time, lead time.Duration) provisioner.Notice {
	now := a.now().UTC()
	left := d.Sub(now)
	in := provisioner.FormatLead(time.Duration(math.Ceil(left.Minutes())) * time.Minute)
	n := provisioner.Notice{Kind: provisioner.NoticeDestroySoon, Time: now, Cluster: cl.Name, Owner: cl.CreatedBy,
		DestroyAt: d.UTC(), LeadMinutes: int(lead / time.Minute), URL: a.clusterURL(cl.Name),
		Subject: fmt.Sprintf("SlideRule cluster %s will be destroyed in %s", cl.Name, in)}
	var b strings.Builder
	fmt.Fprintf(&b, "Cluster %s%s will be destroyed at %s, in %s.\n", cl.Name, ownedBy(cl.CreatedBy), d.UTC().Format(time.RFC3339), in)
	if left > GuardWindow {
		n.ExtendCommand = fmt.Sprintf("provisioner extend %s --ttl %s", cl.Name, provisioner.FormatLead(a.limits.DefaultTTL.Round(time.Minute)))
		fmt.Fprintf(&b, "To keep it longer, run: %s\n(extending is possible until %s before the destroy).\n", n.ExtendCommand, provisioner.FormatLead(GuardWindow))
	} else {
		fmt.Fprintf(&b, "It is within %s of its destroy and can no longer be extended.\n", provisioner.FormatLead(GuardWindow))
	}
	if n.URL != "" {
		fmt.Fprintf(&b, "Dashboard: %s\n", n.URL)
	}
	n.Text = b.String()
	return n
}

func ownedBy(owner string) string {
	if owner == "" {
		return ""
	}
	return " (owner " + owner + ")"
}

func (a *App) clusterURL(name string) string {
	if a.notices.DashboardURL == "" || name == "" {
		return ""
	}
	return a.notices.DashboardURL + "/#/clusters/" + name
}

// noticeFailure raises a notice that a DEPLOY or DESTROY (operation op)
// of cl failed; it never fails the caller.
func (a *App) noticeFailure(ctx context.Context, kind provisioner.NoticeKind, cl provisioner.Cluster, op, reason string) {
	if !a.notices.on() {
		return
	}
	what, next := "DEPLOY", "Redeploy it, or look at its events: provisioner events "+cl.Name
	if kind == provisioner.NoticeDestroyFailed {
		what, next = "DESTROY", "The provisioner tries the destroy again; its events say how it goes: provisioner events "+cl.Name
	}
	n := provisioner.Notice{ID: noticeID(string(kind), cl.Name, op), Kind: kind, Time: a.now().UTC(), Cluster: cl.Name,
		Owner: cl.CreatedBy, Operation: op, Reason: reason, URL: a.clusterURL(cl.Name),
		Subject: fmt.Sprintf("SlideRule cluster %s: %s failed", cl.Name, what)}
	n.Text = fmt.Sprintf("The %s of cluster %s%s failed: %s\n%s\n", what, cl.Name, ownedBy(cl.CreatedBy), orUnknown(reason), next)
	if n.URL != "" {
		n.Text += "Dashboard: " + n.URL + "\n"
	}
	if err := a.Notify(ctx, n); err != nil {
		a.log.Error("cannot send a notice", "cluster", cl.Name, "kind", kind, "err", err)
	}
}

// noticeJob raises a notice for a TEST that ended failed, in error or
// timed out; it never fails the caller.
func (a *App) noticeJob(ctx context.Context, j provisioner.Job) {
	if !a.notices.on() || j.Kind != provisioner.JobTest {
		return
	}
	switch j.State {
	case provisioner.JobFailed, provisioner.JobError, provisioner.JobTimedOut:
	default:
		return
	}
	n := provisioner.Notice{ID: noticeID(string(provisioner.NoticeTestFailed), j.ID), Kind: provisioner.NoticeTestFailed,
		Time: a.now().UTC(), Cluster: j.Cluster, Owner: j.RequestedBy, Job: j.ID, Reason: j.Reason,
		Subject: fmt.Sprintf("SlideRule TEST of %s on %s: %s", j.Version, j.Cluster, j.State)}
	var b strings.Builder
	fmt.Fprintf(&b, "The TEST of %s on cluster %s, asked for by %s, ended %s", j.Version, j.Cluster, j.RequestedBy, j.State)
	if j.Reason != "" {
		fmt.Fprintf(&b, ": %s", j.Reason)
	}
	b.WriteString(".\n")
	for _, s := range j.Steps {
		if s.Status == "failed" {
			fmt.Fprintf(&b, "Step %s failed (exit %d", s.Name, s.ExitCode)
			if s.Failures+s.Errors > 0 {
				fmt.Fprintf(&b, ", %d of %d tests", s.Failures+s.Errors, s.Tests)
			}
			b.WriteString(").\n")
		}
	}
	fmt.Fprintf(&b, "Its log: provisioner logs %s\n", j.ID)
	n.Text = b.String()
	if err := a.Notify(ctx, n); err != nil {
		a.log.Error("cannot send a notice", "job", j.ID, "err", err)
	}
}

func orUnknown(s string) string {
	if s == "" {
		return "no reason given"
	}
	return s
}

// Notify sends n to every sink once: n.ID names it (the same notice
// raised twice, by this process or another, goes out once; an empty ID
// makes one from its kind, cluster and subject). It is also the hook for
// notices the provisioner does not raise itself: a budget watcher sends
// Kind provisioner.NoticeBudget with an ID naming the budget, the period
// and the threshold. Notify returns once n is claimed; delivery runs in
// the background when the App runs (Run), else before Notify returns,
// bounded by the delivery deadline. It returns the store's error when n
// cannot be claimed, and nil when n was sent already or no sink is
// configured.
func (a *App) Notify(ctx context.Context, n provisioner.Notice) error {
	if !a.notices.on() {
		return nil
	}
	if n.Kind == "" || n.Subject == "" {
		return provisioner.Errorf(provisioner.EINVALID, "a notice needs a kind and a subject")
	}
	if n.Cluster != "" {
		if err := provisioner.ValidateClusterName(n.Cluster); err != nil {
			return err
		}
	}
	if n.ID == "" {
		n.ID = noticeID(string(n.Kind), n.Cluster, n.Subject)
	}
	if n.Time.IsZero() {
		n.Time = a.now().UTC()
	}
	if n.Text == "" {
		n.Text = n.Subject + "\n"
	}
	names := make([]string, len(a.notices.Sinks))
	for i, s := range a.notices.Sinks {
		names[i] = s.Name()
	}
	msg := fmt.Sprintf("%s: %s (to %s)", n.Kind, n.Subject, strings.Join(names, ", "))
	won, err := a.claimNotice(ctx, n.ID, n.Cluster, "notice", msg)
	if err != nil || !won {
		return err
	}
	a.deliver(ctx, n)
	return nil
}

// claimNotice appends the event that claims notice id (of type typ) and
// reports whether this call made it: a store refuses an event ID it holds
// (ECONFLICT), so of any number of claimants, in any number of
// processes, one wins. The message carries a nonce so that two claims
// never write the same event, which DynamoDB's retry-safe append would
// take for one.
func (a *App) claimNotice(ctx context.Context, id, cluster, typ, msg string) (bool, error) {
	if a.notices.seen(id, false) {
		return false, nil
	}
	if cluster == "" {
		cluster = noticeEvents
	}
	e := provisioner.Event{ID: id, Cluster: cluster, Time: a.now().UTC(), Type: typ, Actor: system.User.Login,
		Message: msg + " [claim " + newID()[:8] + "]"}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err := a.store.AppendEvent(wctx, e)
	switch provisioner.ErrorCode(err) {
	case "":
		a.notices.seen(id, true)
		return true, nil
	case provisioner.ECONFLICT:
		a.notices.seen(id, true)
		return false, nil
	}
	return false, err
}

// deliver sends n to every sink at once, each with its retries, all within
// the delivery deadline: in the background when the App runs, else now.
func (a *App) deliver(ctx context.Context, n provisioner.Notice) {
	if a.notices.Contacts != nil && n.Owner != "" && n.Cluster != "" && n.Kind != provisioner.NoticeTestFailed {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.notices.AttemptTimeout)
		if addr, err := a.notices.Contacts.Email(lctx, n.Owner); err == nil && addr != "" {
			n.To = append(n.To, addr)
		} else if err != nil && provisioner.ErrorCode(err) != provisioner.ENOTFOUND {
			a.log.Warn("cannot look up a notice's owner address", "owner", n.Owner, "err", err)
		}
		cancel()
	}
	deadline := a.notices.Deadline
	run := func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(ctx, deadline)
		defer cancel()
		var wg sync.WaitGroup
		for _, s := range a.notices.Sinks {
			wg.Go(func() { a.sendTo(ctx, s, n) })
		}
		wg.Wait()
	}
	if a.watchers.start("notice:"+n.ID, run) {
		return
	}
	if ctx.Value(scheduledKey{}) == nil {
		deadline = min(deadline, a.notices.InlineDeadline)
	}
	run(context.WithoutCancel(ctx))
}

type scheduledKey struct{}

// scheduled marks ctx as a schedule's or the sweep's, which may take a
// notice's whole delivery deadline where nothing runs in the background
// (the Lambda); an API request gets InlineDeadline.
func scheduled(ctx context.Context) context.Context {
	return context.WithValue(ctx, scheduledKey{}, true)
}

// sendTo tries s until it takes n, the attempts run out, the error is
// permanent or the deadline passes, recording each attempt as an event.
func (a *App) sendTo(ctx context.Context, s provisioner.NoticeSink, n provisioner.Notice) {
	cluster := n.Cluster
	if cluster == "" {
		cluster = noticeEvents
	}
	max := a.notices.Attempts
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, a.notices.AttemptTimeout)
		err := callSink(actx, s, n)
		if err != nil && provisioner.ErrorCode(err) == provisioner.EINTERNAL && actx.Err() != nil {
			err = provisioner.Wrap(provisioner.EUNAVAILABLE, err, "no answer within %s", a.notices.AttemptTimeout)
		}
		cancel()
		if err == nil {
			a.event(ctx, cluster, "notice.sent", system, fmt.Sprintf("%s: %s %s delivered on attempt %d", s.Name(), n.Kind, n.ID, attempt))
			return
		}
		wait := a.notices.Backoff(attempt)
		final := attempt >= max || provisioner.PermanentNoticeError(err) || ctx.Err() != nil
		if dl, ok := ctx.Deadline(); ok && !final && time.Until(dl) < wait {
			final = true
		}
		what := fmt.Sprintf("retrying in %s", wait)
		if final {
			what = "giving up"
		}
		a.event(ctx, cluster, "notice.failed", system, fmt.Sprintf("%s: %s %s attempt %d of %d failed: %s; %s",
			s.Name(), n.Kind, n.ID, attempt, max, provisioner.ErrorMessage(err), what))
		if final {
			a.log.Warn("notice not delivered", "sink", s.Name(), "notice", n.ID, "kind", n.Kind, "err", err)
			return
		}
		if a.notices.Sleep(ctx, wait) != nil {
			a.event(ctx, cluster, "notice.failed", system, fmt.Sprintf("%s: %s %s: the delivery deadline passed; giving up", s.Name(), n.Kind, n.ID))
			return
		}
	}
}

// callSink calls s, turning a panic into an error: a bad sink must not
// take the service down.
func callSink(ctx context.Context, s provisioner.NoticeSink, n provisioner.Notice) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("sink panicked: %v", p)
		}
	}()
	return s.Send(ctx, n)
}
