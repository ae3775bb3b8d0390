package local

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"provisioner"
	"provisioner/affiliates"
	"provisioner/github"
	"provisioner/local/cluster"
	"provisioner/local/jobs"
	"provisioner/local/keyring"
	"provisioner/local/logs"
	"provisioner/plan"
	"provisioner/signature"
	"provisioner/sqlite"
	"provisioner/static"
)

// Config is the embedded backend's configuration: what serve's flags say.
// Open reports an error in it as a *ConfigError naming serve's flag.
type Config struct {
	// Data is the data directory, created 0700 if missing (see the package
	// documentation for what it holds).
	Data string
	// Addr is the address the service listens on (Backend.Listener).
	Addr string
	// Issuer is the public base URL of the service, the tokens' iss; empty
	// means http://ADDR with the address listened on.
	Issuer string
	// RecreateDB starts with a new, empty database although Data holds
	// clusters or keys of an earlier run (--recreate-db): the database was
	// lost. Clusters still running are then quarantined.
	RecreateDB bool
	// UserTokenTTL is the lifetime of user tokens, so the longest a retired
	// signing key keeps verifying; zero means keyring.DefaultMaxTokenLifetime.
	UserTokenTTL time.Duration
	// Logger receives the backend's log; nil discards.
	Logger *slog.Logger

	// StaticIdentity is a static identity file (--identity static:FILE);
	// empty means GitHub identity.
	StaticIdentity string
	// GitHub is the GitHub identity's configuration: PATs, the device flow
	// (ClientID), Actions logins (ActionsAudience, which needs Org) and,
	// with MemberToken and Org, the membership re-check (github.New fills
	// in its defaults).
	GitHub github.Config
	// Affiliates is production's affiliates file; empty: none.
	Affiliates string

	// SignaturePolicy says who must sign requests; empty means off. A
	// policy other than off needs SigningKeys or SigningKeysGitHub.
	SignaturePolicy provisioner.SignaturePolicy
	// SigningKeys is a file, or a directory of files, of the keys signed
	// requests are checked with; SigningKeysGitHub also accepts the keys
	// users publish on GitHub (at GitHub.APIURL).
	SigningKeys       string
	SigningKeysGitHub bool

	// Local clusters: each runs ClusterCommand (a node, or the upstream
	// behind our gateway) or forwards to ClusterUpstream; with neither,
	// DEPLOY is disabled. UpstreamHealth is the command's health path
	// (empty: DefaultUpstreamHealth).
	ClusterUpstream, ClusterCommand, UpstreamHealth string
	// ILBDir, when set, runs local clusters on production's ILB (its files,
	// a SlideRule checkout's apps/ilb) under HAProxy (empty: haproxy on
	// PATH); without a usable HAProxy or a ClusterCommand they fall back to
	// our gateway, and the log says why. ILBKeyRefresh is how often the
	// ILBs get the issuer's current key (zero: DefaultKeyRefresh).
	ILBDir, HAProxy string
	ILBKeyRefresh   time.Duration
	// ClusterDomain is the domain clusters are reached under: the ILBs'
	// DOMAIN, and the client tests' (empty: localhost).
	ClusterDomain string

	// TEST and RELEASE: SlideruleRepo is the repository the jobs check out
	// (empty disables them); Plans overrides the built-in plans (plan.Load);
	// the rest is jobs.Config's.
	SlideruleRepo, Plans, ContainerWrapper string
	JobEnv, JobSecrets                     map[string]string
	JobData                                string
	JobTimeout                             time.Duration

	// Costs (costs.go): CostRegion is the AWS region whose prices the
	// local clusters are estimated and metered at (empty: us-west-2);
	// Prices is the operator's override of the price table (empty: none).
	CostRegion, Prices string
	// Budgets is the operator's budgets file (package budgets; empty:
	// none), read and checked at start.
	Budgets string
}

// Names under Config.Data.
const (
	dbName      = "provisioner.db"
	keysDir     = "keys"
	clustersDir = "clusters"
	jobsDir     = "jobs"
	logsDir     = "logs"
)

// ConfigError is an error in a Config, which serve reports as a usage
// error.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

func configErrorf(format string, args ...any) error {
	return &ConfigError{fmt.Errorf(format, args...)}
}

// Backend is the embedded backend's parts, with what serve needs besides
// them: the request signature check, the listener, and the background work
// (Start, Wait). Close releases the data directory.
type Backend struct {
	provisioner.Backend
	// Signatures checks signed requests.
	Signatures *signature.Verifier
	// Keys is the Signer, as the keyring it is.
	Keys *keyring.Keyring
	// Clusters is the Driver, as the local driver it is; nil (and Driver
	// nil) when DEPLOY is disabled.
	Clusters *cluster.Driver
	// Issuer is Config.Issuer, or the URL of Listener.
	Issuer string
	// Listener listens on Config.Addr.
	Listener net.Listener

	log        *slog.Logger
	store      *sqlite.DB
	scheduler  *sqlite.Scheduler
	keyRefresh time.Duration
	fire       func(ctx context.Context, cluster string, at time.Time) error
	wg         sync.WaitGroup
	schedErr   error
	closers    []func() error // Close runs them last first
	closeOnce  sync.Once
}

// Open builds the backend on c.Data: it takes the directory's lock, checks
// the database against what the directory holds, opens the store and the
// keys, listens, and wires identity, clusters, jobs and signatures. Nothing
// runs in the background until Start.
func (c Config) Open(ctx context.Context) (_ *Backend, err error) {
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := &Backend{log: log, keyRefresh: c.ILBKeyRefresh}
	if b.keyRefresh <= 0 {
		b.keyRefresh = DefaultKeyRefresh
	}
	defer func() {
		if err != nil {
			b.Close()
		}
	}()
	if err := os.MkdirAll(c.Data, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	unlock, err := lockData(c.Data)
	if err != nil {
		return nil, err
	}
	b.closers = append(b.closers, func() error { unlock(); return nil })
	dbPath := filepath.Join(c.Data, dbName)
	if err := c.checkDatabase(dbPath, log); err != nil {
		return nil, err
	}
	if b.store, err = sqlite.Open(dbPath); err != nil {
		return nil, err
	}
	b.closers = append(b.closers, b.store.Close)
	b.Store = b.store
	b.Keys, err = keyring.Open(keyring.Config{Dir: filepath.Join(c.Data, keysDir), MaxTokenLifetime: c.UserTokenTTL, Logger: log})
	if err != nil {
		return nil, err
	}
	b.Signer = b.Keys

	if b.Listener, err = net.Listen("tcp", c.Addr); err != nil {
		return nil, fmt.Errorf("listen on %s: %w", c.Addr, err)
	}
	b.closers = append(b.closers, b.Listener.Close)
	b.Issuer = c.Issuer
	if b.Issuer == "" {
		b.Issuer = "http://" + b.Listener.Addr().String()
	}

	b.scheduler = sqlite.NewScheduler(b.store, b.fireDestroy, sqlite.WithLogger(log))
	b.Scheduler = b.scheduler
	if err := c.identity(&b.Backend, log); err != nil {
		return nil, err
	}
	if c.Affiliates != "" {
		src, err := affiliates.NewFile(c.Affiliates, log)
		if err != nil {
			return nil, configErrorf("--affiliates: %v", err)
		}
		b.Affiliates = src
		log.Info("affiliates", "file", c.Affiliates)
	}
	if b.Clusters, err = c.clusters(ctx, b.Issuer, b.Keys, log); err != nil {
		return nil, err
	}
	if b.Clusters != nil {
		b.Driver = b.Clusters
	}
	if err := c.jobs(&b.Backend, log); err != nil {
		return nil, err
	}
	if b.Signatures, err = c.signatures(log); err != nil {
		return nil, err
	}
	if err := c.costs(ctx, &b.Backend, b.store, log); err != nil {
		return nil, err
	}
	return b, nil
}

// Start starts the backend's background work, which ends with ctx: the
// adoption of the clusters of the last run (DEPLOY and DESTROY wait until
// it is done), the scheduler, which calls fire for each destroy that falls
// due (the app's FireDestroy: the app, made from the backend's parts after
// Open, closes the loop here), and the refresh of the ILBs' key. Call it
// once, before serving; Wait waits for it to end.
func (b *Backend) Start(ctx context.Context, fire func(ctx context.Context, cluster string, at time.Time) error) {
	if fire == nil {
		panic("local: Start needs a fire function")
	}
	b.fire = fire
	if b.Clusters != nil {
		// Serve at once; the driver holds DEPLOY and DESTROY until the
		// clusters of the last run are adopted or cleaned.
		adopted := b.Clusters.StartAdopt(ctx, known(b.store))
		b.wg.Go(func() { logAdoption(<-adopted, b.log) })
	}
	b.wg.Go(func() { b.schedErr = b.scheduler.Run(ctx) })
	b.wg.Go(func() { refreshILBKeys(ctx, b.Clusters, b.Keys, b.keyRefresh, b.log) })
}

// fireDestroy is the scheduler's fire function: Start's.
func (b *Backend) fireDestroy(ctx context.Context, cluster string, at time.Time) error {
	return b.fire(ctx, cluster, at)
}

// Wait waits for the work Start started to end and returns the
// scheduler's error.
func (b *Backend) Wait() error {
	b.wg.Wait()
	return b.schedErr
}

// Close stops listening, closes the store and releases the data
// directory; call it after Wait.
func (b *Backend) Close() error {
	var errs []error
	b.closeOnce.Do(func() {
		for i := len(b.closers) - 1; i >= 0; i-- {
			if err := b.closers[i](); err != nil && !errors.Is(err, net.ErrClosed) {
				errs = append(errs, err)
			}
		}
	})
	return errors.Join(errs...)
}

// identity wires the GitHub identity or the static file, the device flow,
// Actions logins and the membership re-check.
func (c Config) identity(b *provisioner.Backend, log *slog.Logger) error {
	gh, err := github.New(c.GitHub)
	if err != nil {
		return &ConfigError{err}
	}
	if c.GitHub.MemberToken != "" && c.GitHub.Org != "" && c.StaticIdentity == "" {
		b.Membership = gh
	}
	if c.StaticIdentity != "" {
		p, err := static.Load(c.StaticIdentity)
		if err != nil {
			return err
		}
		b.Identity = p
	} else {
		if c.GitHub.Org == "" {
			log.Warn("no --github-org: every GitHub user logs in as a member; nobody is an org member or admin")
		}
		b.Identity = gh
		if c.GitHub.ClientID != "" {
			b.Device = gh
		}
		if c.GitHub.WebConfigured() {
			b.Web = gh
		}
	}
	if c.GitHub.ActionsAudience != "" {
		if c.GitHub.Org == "" {
			return configErrorf("--actions-audience needs --github-org: Actions tokens are accepted only from the organization's repositories")
		}
		b.Actions = gh
	}
	return nil
}

// jobs wires TEST and RELEASE: the local job runner and the logs on disk.
func (c Config) jobs(b *provisioner.Backend, log *slog.Logger) error {
	store, err := logs.Open(logs.Config{Dir: filepath.Join(c.Data, logsDir)})
	if err != nil {
		return err
	}
	b.Logs = store
	if c.SlideruleRepo == "" {
		log.Warn("no --sliderule-repo: TEST and RELEASE are disabled")
		return nil
	}
	plans, err := plan.Load(c.Plans)
	if err != nil {
		return configErrorf("--plans: %v", err)
	}
	runner, err := jobs.New(jobs.Config{Dir: filepath.Join(c.Data, jobsDir), RepoURL: c.SlideruleRepo,
		Domain: c.ClusterDomain, ContainerWrapper: c.ContainerWrapper, Env: c.JobEnv, Secrets: c.JobSecrets, Data: c.JobData,
		Plans: plans, Logs: store, Timeout: c.JobTimeout, Logger: log})
	if err != nil {
		return &ConfigError{err}
	}
	b.Runner = runner
	return nil
}

// signatures builds the request signature check.
func (c Config) signatures(log *slog.Logger) (*signature.Verifier, error) {
	policy := c.SignaturePolicy
	if policy == "" {
		policy = provisioner.SignaturesOff
	}
	var keys signature.Multi
	if c.SigningKeys != "" {
		f, err := signature.NewFileKeys(c.SigningKeys)
		if err != nil {
			return nil, configErrorf("--signing-keys: %v", err)
		}
		keys = append(keys, f)
	}
	if c.SigningKeysGitHub {
		api := c.GitHub.APIURL
		if api == "" {
			api = github.DefaultAPIURL
		}
		keys = append(keys, &signature.GitHubKeys{APIURL: api})
	}
	if policy != provisioner.SignaturesOff && len(keys) == 0 {
		return nil, configErrorf("--signature-policy %s needs --signing-keys or --signing-keys-github", policy)
	}
	log.Info("request signatures", "policy", string(policy), "keys_file", c.SigningKeys, "github_keys", c.SigningKeysGitHub)
	return &signature.Verifier{Policy: policy, Keys: keys}, nil
}

// checkDatabase refuses to start on a missing or empty database when the
// data directory holds clusters or keys of an earlier run: a new database
// would forget them (their owners, schedules and audit trail), so the
// operator restores a backup or says --recreate-db.
func (c Config) checkDatabase(path string, log *slog.Logger) error {
	fi, err := os.Stat(path)
	switch {
	case err == nil && fi.Size() > 0:
		return nil
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("database %s: %w", path, err)
	}
	if wal, err := os.Stat(path + "-wal"); err == nil && wal.Size() > 0 && fi != nil {
		return nil // an empty file whose pages are all still in the WAL
	}
	what := "missing"
	if err == nil {
		what = "empty"
	}
	clusters, _ := cluster.Names(filepath.Join(c.Data, clustersDir))
	keys := keyring.HasKeys(filepath.Join(c.Data, keysDir))
	if len(clusters) == 0 && !keys {
		return nil // a first start
	}
	var held []string
	if len(clusters) > 0 {
		held = append(held, fmt.Sprintf("%d local clusters (%s)", len(clusters), strings.Join(clusters, ", ")))
	}
	if keys {
		held = append(held, "signing keys")
	}
	if !c.RecreateDB {
		return provisioner.Errorf(provisioner.ESTORAGECORRUPT,
			"the database %s is %s, but %s holds %s of an earlier run: restore the database from a backup, "+
				"or start with --recreate-db to begin with an empty one (its clusters are then quarantined: left running, never destroyed)",
			path, what, c.Data, strings.Join(held, " and "))
	}
	log.Warn("--recreate-db: starting with a new, empty database", "database", path, "was", what, "data_holds", strings.Join(held, " and "))
	for _, f := range []string{path + "-wal", path + "-shm"} {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("--recreate-db: %w", err)
		}
	}
	return nil
}
