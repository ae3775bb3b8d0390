// Package app is the provisioner's application logic: the seed's functions
// written once against the domain interfaces, so the embedded and the AWS
// backends share every rule and every test.
package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"sync/atomic"
	"time"

	"provisioner"
)

// Config gathers the App's dependencies; Store and Tokens are required.
type Config struct {
	Store    provisioner.Store
	Tokens   provisioner.Tokens
	Identity provisioner.IdentityProvider // PAT or static identity; nil disables /auth/github/pat
	Device   provisioner.DeviceFlow       // nil disables the device flow
	Actions  provisioner.ActionsVerifier  // nil disables GitHub Actions login
	Logger   *slog.Logger
	Now      func() time.Time
	// Signatures is whose state-changing calls must be signed (the HTTP
	// layer checks them); LOGIN gives those users the "developer" org role
	// so the released Python client signs. "" is off.
	Signatures provisioner.SignaturePolicy
	// Login bounds LOGIN attempts (throttle.go); zero fields: defaults.
	Login LoginLimits
	// AuditRetention and EventRetention are how long the reconcile sweep
	// keeps audit entries and cluster events in a store that prunes itself
	// (provisioner.HistoryPruner); 0 keeps them forever.
	AuditRetention, EventRetention time.Duration
	// Affiliates is the operator's list of affiliates (production's
	// affiliates file); nil: nobody is an affiliate.
	Affiliates provisioner.Affiliates
	// Membership re-checks the level of logged-in people every
	// MembershipRecheck (default 10 minutes) and revokes the sessions of
	// those removed or demoted; nil: no re-check.
	Membership        provisioner.MembershipChecker
	MembershipRecheck time.Duration
	// SessionCacheTTL is how long a session read from the store is trusted
	// (default 5 s): how late another process sees a revocation.
	SessionCacheTTL time.Duration
	// LoginReuse is how long a PAT login's jwt_user is the answer to the
	// same PAT again (reuse.go); 0 issues a new token every time.
	LoginReuse time.Duration
	// Keys lists the keys that verify tokens, for the revocation feed; nil
	// leaves the feed's key list empty.
	Keys KeyLister
	// OAuth is the OAuth 2.1 authorization server (oauth.go); off without
	// an upstream.
	OAuth OAuthConfig

	// The cluster functions; nil Driver disables DEPLOY and DESTROY.
	Driver    provisioner.ClusterDriver
	Scheduler provisioner.Scheduler
	Limits    Limits
	// PublicCluster is the cluster production's alias "sliderule" names on
	// the user node group paths; empty: the only public cluster running.
	PublicCluster string
	// DeployTimeout and DestroyTimeout are the seed's 10 minutes.
	DeployTimeout, DestroyTimeout time.Duration
	// HealthMaxAge is how old a running cluster's last health check may be
	// before DEPLOY and STATUS ask the driver again (default HealthMaxAge).
	HealthMaxAge time.Duration
	// Poll is how often a pending operation looks at the driver (default 1s).
	Poll time.Duration

	// TEST and RELEASE; a nil Runner disables them.
	Runner     provisioner.JobRunner
	Logs       provisioner.LogStore
	JobTimeout time.Duration // hard deadline of a job (default 3h)
	// TestCluster is the cluster a TEST that names none runs against.
	TestCluster string
	// Reap, when set, ends job machines that outlived their jobs; the
	// reconcile sweep calls it.
	Reap func(ctx context.Context) error

	// Notices says who hears of destroys to come and of failures
	// (notice.go); no sinks: nobody.
	Notices NoticeConfig

	// Costs: prices, the cluster layout, the bill or the meter (cost.go).
	Costs CostConfig
	// Budgets are the operator's budgets (budget.go), valid ones (New
	// panics on an invalid one); they need Costs' prices and spend.
	// LoadBudgets, when Budgets is nil, reads them at first use instead
	// (and again until it succeeds).
	Budgets     []provisioner.Budget
	LoadBudgets func(ctx context.Context) ([]provisioner.Budget, error)
}

// App implements the seed's functions.
type App struct {
	store    provisioner.Store
	tokens   provisioner.Tokens
	identity provisioner.IdentityProvider
	device   provisioner.DeviceFlow
	actions  provisioner.ActionsVerifier
	signing  provisioner.SignaturePolicy
	affil    provisioner.Affiliates
	log      *slog.Logger
	now      func() time.Time
	login    *loginGuard
	reuse    loginReuse
	// retention: see Config.AuditRetention; lastPrune is when the sweep
	// last pruned (it prunes at most hourly).
	auditRetention, eventRetention time.Duration
	lastPrune                      atomic.Int64 // unix nanoseconds

	sessions        sessionCache
	sessionTTL      time.Duration
	membership      provisioner.MembershipChecker
	membershipEvery time.Duration
	keys            KeyLister
	oauth           *oauthServer

	lifecycle
	notices  notices
	jobs     jobsConfig
	locks    keyedMutex
	watchers watchers
	rt       runtimeState
	costs    CostConfig
	budgets  *budgetSource
}

// New returns an App; it panics on a missing required dependency, which is a
// wiring bug, not a runtime condition.
func New(c Config) *App {
	if c.Store == nil || c.Tokens == nil {
		panic("app: Store and Tokens are required")
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.DeployTimeout <= 0 {
		c.DeployTimeout = 10 * time.Minute
	}
	if c.DestroyTimeout <= 0 {
		c.DestroyTimeout = 10 * time.Minute
	}
	if c.Poll <= 0 {
		c.Poll = time.Second
	}
	if c.HealthMaxAge <= 0 {
		c.HealthMaxAge = HealthMaxAge
	}
	if c.SessionCacheTTL <= 0 {
		c.SessionCacheTTL = DefaultSessionCacheTTL
	}
	if c.MembershipRecheck <= 0 {
		c.MembershipRecheck = DefaultMembershipRecheck
	}
	if c.JobTimeout <= 0 {
		c.JobTimeout = 3 * time.Hour
	}
	a := &App{store: c.Store, jobs: jobsConfig{runner: c.Runner, logs: c.Logs, timeout: c.JobTimeout, reap: c.Reap, testCluster: c.TestCluster}, tokens: c.Tokens, identity: c.Identity, device: c.Device,
		actions: c.Actions, signing: c.Signatures, affil: c.Affiliates, log: c.Logger, now: c.Now,
		login: newLoginGuard(c.Login), reuse: newLoginReuse(c.LoginReuse), auditRetention: c.AuditRetention, eventRetention: c.EventRetention,
		sessionTTL: c.SessionCacheTTL, membership: c.Membership, membershipEvery: c.MembershipRecheck, keys: c.Keys,
		oauth: newOAuthServer(c.OAuth),
		lifecycle: lifecycle{driver: c.Driver, scheduler: c.Scheduler, limits: c.Limits.withDefaults(), publicCluster: c.PublicCluster,
			deployTimeout: c.DeployTimeout, destroyTimeout: c.DestroyTimeout, poll: c.Poll},
		rt: runtimeState{maxAge: c.HealthMaxAge}, notices: notices{NoticeConfig: c.Notices.withDefaults()},
		costs: c.Costs, budgets: fixedBudgets(c.Budgets)}
	if c.Budgets == nil && c.LoadBudgets != nil {
		a.budgets = &budgetSource{load: c.LoadBudgets}
	}
	return a
}

// Caller is who makes a request and from where, for authorization and audit.
type Caller struct {
	User   provisioner.User
	Source string // client address
}

// audit records an attempt and returns the request's answer: err, or, when
// the request succeeded but its record cannot be written, the write's error
// (storage_full, storage_corrupt, ...). A request the audit trail cannot
// record fails: no token, login or change goes unrecorded. The failure is
// also logged with its cause. Under a journal (journaled) the entry is
// written with the events the journal holds, in one Store.Apply.
func (a *App) audit(ctx context.Context, c Caller, action, target string, err error, detail string) error {
	e := a.auditEntry(c, action, target, err, detail)
	// The request's context may already be cancelled; the record must still land.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	var werr error
	if j := journalOf(ctx); j != nil {
		p := j.take()
		b := p
		b.Audit = append(p.Audit[:len(p.Audit):len(p.Audit)], e)
		if _, werr = a.applied(wctx, b); werr != nil {
			j.putBack(p)
		}
	} else {
		werr = a.store.AppendAudit(wctx, e)
	}
	if werr == nil {
		return err
	}
	a.log.Error("audit write failed", "action", action, "actor", c.User.Login, "err", werr)
	if err != nil {
		return err
	}
	code := provisioner.ErrorCode(werr)
	if code != provisioner.ESTORAGEFULL && code != provisioner.ESTORAGECORRUPT {
		code = provisioner.EUNAVAILABLE
	}
	return provisioner.Wrap(code, werr, "%s: cannot record it in the audit log: %s", action, provisioner.ErrorMessage(werr))
}

// auditEntry is the audit trail's line for an attempt: its result is
// "success" or err's code, and its detail, when none is given, err's
// message.
func (a *App) auditEntry(c Caller, action, target string, err error, detail string) provisioner.AuditEntry {
	result := "success"
	if err != nil {
		result = provisioner.ErrorCode(err)
		if detail == "" {
			detail = provisioner.ErrorMessage(err)
		}
	}
	return provisioner.AuditEntry{
		ID: newID(), Time: a.now().UTC(), Actor: c.User.Login, Level: c.User.Level,
		Action: action, Target: target, Result: result, Source: c.Source, Detail: detail,
	}
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Limits bound what org members may deploy; admins are bound only by the
// absolute limits, which keep a typo from deploying a thousand nodes for a year.
type Limits struct {
	MaxNodes    int           // per cluster, org members (default 10)
	MaxTTL      time.Duration // org members (default 24h)
	MaxClusters int           // live clusters per org member (default 3)
	DefaultTTL  time.Duration // when a DEPLOY names none (default 60m, as the SlideRule client)
	AbsMaxNodes int           // everyone (default 500)
	AbsMaxTTL   time.Duration // everyone (default 7 days)
}

func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defd := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MaxNodes, 10)
	def(&l.MaxClusters, 3)
	def(&l.AbsMaxNodes, 500)
	defd(&l.MaxTTL, 24*time.Hour)
	defd(&l.DefaultTTL, time.Hour)
	defd(&l.AbsMaxTTL, 7*24*time.Hour)
	return l
}

// GuardWindow is the seed's 5 minutes: a cluster whose destroy is this close
// counts as scheduled for delete, and its schedule can no longer be moved.
const GuardWindow = 5 * time.Minute

// MinTTL is the shortest TTL a DEPLOY or EXTEND may ask for.
const MinTTL = time.Minute

// lifecycle holds what the cluster functions need beyond LOGIN and ACCESS.
type lifecycle struct {
	driver         provisioner.ClusterDriver
	scheduler      provisioner.Scheduler
	limits         Limits
	publicCluster  string // what "sliderule" names on the node group paths
	deployTimeout  time.Duration
	destroyTimeout time.Duration
	poll           time.Duration
}
