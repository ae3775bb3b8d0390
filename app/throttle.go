package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"provisioner"
	"provisioner/ratelimit"
)

// LoginLimits bound LOGIN on every path (PAT, device start and poll, GitHub
// Actions), so that nobody can guess credentials quickly or spend the
// provisioner's GitHub quota: a request the limits refuse is never
// forwarded to GitHub. Zero fields take the defaults.
type LoginLimits struct {
	// Source bounds every login request per source network (IPv4 /24,
	// IPv6 /48): generous, for CI runners behind one NAT.
	// Default 60/m, burst 120.
	Source ratelimit.Limit
	// Failures bounds failed logins per source network: once spent, the
	// network's logins are refused (429) until a token refills, whatever
	// the credential. Default 10/m, burst 20.
	Failures ratelimit.Limit
	// Identity bounds login requests per credential (a PAT, an Actions
	// token; device codes are paced by their interval instead).
	// Default 20/m, burst 20.
	Identity ratelimit.Limit
	// RefusedTTL is how long a credential GitHub refused is answered from
	// memory, without asking GitHub again. Default 1m; negative: never.
	RefusedTTL time.Duration
	// AuditWindow: failed logins of one source network, path and result
	// within a window are one audit entry with a count. Default 10m.
	AuditWindow time.Duration
	// NoDevicePacing turns the device codes' local pacing off (tests whose
	// clients do not really wait); the source limits still apply.
	NoDevicePacing bool
	// MaxEntries bounds the buckets, remembered refusals and device codes
	// each. Default 100,000.
	MaxEntries int
}

// DefaultLoginLimits are the limits of a zero LoginLimits.
func DefaultLoginLimits() LoginLimits {
	return LoginLimits{
		Source:      ratelimit.Limit{Rate: rate.Limit(60.0 / 60), Burst: 120},
		Failures:    ratelimit.Limit{Rate: rate.Limit(10.0 / 60), Burst: 20},
		Identity:    ratelimit.Limit{Rate: rate.Limit(20.0 / 60), Burst: 20},
		RefusedTTL:  time.Minute,
		AuditWindow: 10 * time.Minute,
		MaxEntries:  100_000,
	}
}

// Check fills in the defaults and refuses invalid limits.
func (l LoginLimits) Check() (LoginLimits, error) {
	def := DefaultLoginLimits()
	for _, x := range []struct {
		lim  *ratelimit.Limit
		def  ratelimit.Limit
		what string
	}{{&l.Source, def.Source, "login source"}, {&l.Failures, def.Failures, "failed login"}, {&l.Identity, def.Identity, "login identity"}} {
		if x.lim.Rate == 0 && x.lim.Burst == 0 {
			*x.lim = x.def
			continue
		}
		var err error
		if *x.lim, err = x.lim.Check(x.what); err != nil {
			return l, err
		}
	}
	if l.RefusedTTL == 0 {
		l.RefusedTTL = def.RefusedTTL
	}
	if l.AuditWindow <= 0 {
		l.AuditWindow = def.AuditWindow
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = def.MaxEntries
	}
	return l, nil
}

// Device-flow pacing, as GitHub's: a poll sooner than the interval after
// the previous one is answered slow_down, with the interval longer by
// slowDownStep (up to maxInterval); codes unseen for deviceIdle are
// forgotten (GitHub's codes live 15 minutes).
const (
	defaultInterval = 5 * time.Second
	slowDownStep    = 5 * time.Second
	maxInterval     = time.Minute
	deviceIdle      = 20 * time.Minute
)

// loginGuard holds the login limits' state, in memory: each Lambda
// instance or serve process keeps its own.
type loginGuard struct {
	lim     LoginLimits
	buckets *ratelimit.Buckets

	mu      sync.Mutex
	refused map[string]refusal
	devices map[string]*devicePace
}

type refusal struct {
	err   provisioner.Error
	until time.Time
}

type devicePace struct {
	last     time.Time // the last poll forwarded to GitHub
	interval time.Duration
}

func newLoginGuard(l LoginLimits) *loginGuard {
	l, err := l.Check()
	if err != nil {
		panic("app: " + err.Error()) // a wiring bug: the command line checks its flags
	}
	return &loginGuard{lim: l, buckets: ratelimit.New(3 * l.MaxEntries),
		refused: map[string]refusal{}, devices: map[string]*devicePace{}}
}

// hashOf is the key a credential is known by; the credential itself is
// never kept.
func hashOf(kind, secret string) string {
	h := sha256.Sum256([]byte(kind + "\x00" + secret))
	return kind + ":" + hex.EncodeToString(h[:16])
}

// admit checks the login limits of a request from src for the credential
// key id ("" for none) and charges it: ERATELIMITED with RetryAfter when
// refused.
func (g *loginGuard) admit(src, id string, now time.Time) (release func(), err error) {
	net := ratelimit.NetworkOf(src)
	release, err = g.buckets.Hold(g.lim.Failures, "fail|"+net, "failed logins from your network", now)
	if err != nil {
		return nil, err
	}
	if err = g.buckets.Allow(g.lim.Source, "src|"+net, "logins from your network", now); err == nil && id != "" {
		err = g.buckets.Allow(g.lim.Identity, "id|"+id, "logins with this credential", now)
	}
	if err != nil {
		release()
		return nil, err
	}
	return release, nil
}

// isFailure says whether err is a failed login the caller is to blame
// for: not a pending device flow, nor an outage, nor a refusal of ours.
func isFailure(err error) bool {
	switch provisioner.ErrorCode(err) {
	case provisioner.EPENDING, provisioner.ESLOWDOWN, provisioner.EUNAVAILABLE, provisioner.EINTERNAL, provisioner.ERATELIMITED:
		return false
	}
	return err != nil
}

// charge counts a failed login against src's network.
func (g *loginGuard) charge(src string, err error, now time.Time) {
	if isFailure(err) {
		g.buckets.Take(g.lim.Failures, "fail|"+ratelimit.NetworkOf(src), now)
	}
}

// refusedBefore returns the remembered refusal of a credential, or nil.
func (g *loginGuard) refusedBefore(id string, now time.Time) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	r, ok := g.refused[id]
	if !ok || !now.Before(r.until) {
		return nil
	}
	e := r.err
	return &e
}

// remember keeps GitHub's refusal of a credential for RefusedTTL.
func (g *loginGuard) remember(id string, err error, now time.Time) {
	var e *provisioner.Error
	if g.lim.RefusedTTL < 0 || !errors.As(err, &e) {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.refused) >= g.lim.MaxEntries {
		for k, r := range g.refused {
			if !now.Before(r.until) || len(g.refused) >= g.lim.MaxEntries {
				delete(g.refused, k)
			}
		}
	}
	g.refused[id] = refusal{err: provisioner.Error{Code: e.Code, Message: e.Message}, until: now.Add(g.lim.RefusedTTL)}
}

// started remembers a device code and its interval.
func (g *loginGuard) started(d provisioner.DeviceCode, now time.Time) {
	interval := time.Duration(d.Interval) * time.Second
	if interval <= 0 {
		interval = defaultInterval
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.makeRoom(now)
	g.devices[hashOf("device", d.DeviceCode)] = &devicePace{interval: interval}
}

// pace admits a poll of a device code at most once per its interval;
// sooner is ESLOWDOWN with a longer interval, as GitHub answers.
func (g *loginGuard) pace(id string, now time.Time) error {
	if g.lim.NoDevicePacing {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	p := g.devices[id]
	if p == nil {
		g.makeRoom(now)
		p = &devicePace{interval: defaultInterval}
		g.devices[id] = p
	}
	if !p.last.IsZero() && now.Sub(p.last) < p.interval {
		p.interval = min(p.interval+slowDownStep, maxInterval)
		return &provisioner.Error{Code: provisioner.ESLOWDOWN, RetryAfter: p.interval,
			Message: "polling too fast; wait " + p.interval.String() + " between polls"}
	}
	p.last = now
	return nil
}

// polled records GitHub's answer to a poll: its slow_down interval, or the
// end of the flow.
func (g *loginGuard) polled(id string, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	var e *provisioner.Error
	switch {
	case errors.As(err, &e) && e.Code == provisioner.ESLOWDOWN && e.RetryAfter > 0:
		if p := g.devices[id]; p != nil {
			p.interval = min(max(p.interval, e.RetryAfter), maxInterval)
		}
	case provisioner.ErrorCode(err) == provisioner.EPENDING || provisioner.ErrorCode(err) == provisioner.EUNAVAILABLE:
	default:
		delete(g.devices, id) // success or a final error: the code is spent
	}
}

// makeRoom forgets idle device codes when the map is full, then any.
// g.mu is held.
func (g *loginGuard) makeRoom(now time.Time) {
	if len(g.devices) < g.lim.MaxEntries {
		return
	}
	for k, p := range g.devices {
		if now.Sub(p.last) > deviceIdle || len(g.devices) >= g.lim.MaxEntries {
			delete(g.devices, k)
		}
	}
}

// auditLogin records a login: each success, and failures aggregated per
// source network, action and result within the audit window (one entry
// with a count), so that a flood of bad credentials writes a bounded trail.
// It returns err; for a success, the audit write's own error if it failed,
// so no login is handed out that the audit log does not show.
func (a *App) auditLogin(ctx context.Context, c Caller, action string, err error) error {
	if err == nil {
		return a.audit(ctx, c, action, "", nil, "")
	}
	now := a.now().UTC()
	net := ratelimit.NetworkOf(c.Source)
	result := provisioner.ErrorCode(err)
	window := now.Truncate(a.login.lim.AuditWindow)
	h := sha256.Sum256([]byte(action + "\x00" + net + "\x00" + result + "\x00" + window.Format(time.RFC3339)))
	e := provisioner.AuditEntry{
		ID: "agg-" + hex.EncodeToString(h[:14]), Time: now, Actor: c.User.Login, Level: c.User.Level,
		Action: action, Result: result, Source: net, Detail: provisioner.ErrorMessage(err), Count: 1,
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if werr := a.store.CountAudit(ctx, e); werr != nil {
		a.log.Error("audit write failed", "action", action, "source", net, "err", werr)
	}
	return err
}
