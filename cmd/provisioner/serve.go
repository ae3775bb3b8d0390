package main

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/time/rate"

	"provisioner"
	"provisioner/app"
	"provisioner/cmd/provisioner/internal/cmdutil"
	"provisioner/cmd/provisioner/internal/iostreams"
	"provisioner/github"
	phttp "provisioner/http"
	"provisioner/jwt"
	"provisioner/local"
	"provisioner/ratelimit"
	"provisioner/web"
)

type serveOptions struct {
	io             *iostreams.IOStreams
	Addr           string
	Data           string
	Issuer         string
	Identity       string
	GitHubAPIURL   string
	GitHubURL      string
	GitHubOrg      string
	AdminTeam      string
	AllowedTeams   []string
	GitHubClientID string
	// GitHubClientSecret and the OAuth hosts: the OAuth authorization server.
	GitHubClientSecret                      string
	OAuthTrustedHosts, OAuthThirdPartyHosts []string
	ActionsIssuer                           string
	ActionsAudience                         string
	ActionsRules                            string
	UserTokenTTL                            time.Duration
	ClusterTokenTTL                         time.Duration
	TrustedProxies                          int
	ClusterUpstream                         string
	ClusterCommand                          string
	UpstreamHealth                          string
	ILBDir                                  string
	HAProxy                                 string
	KeyRefresh                              time.Duration
	DeployTimeout                           time.Duration
	DestroyTimeout                          time.Duration
	Reconcile                               time.Duration
	HealthMaxAge                            time.Duration
	Limits                                  app.Limits
	PublicCluster                           string
	SlideruleRepo                           string
	Plans                                   string
	ContainerWrap                           string
	ClusterDomain                           string
	JobTimeout                              time.Duration
	TestCluster                             string
	DevicePace                              time.Duration
	JobEnv                                  []string
	JobSecrets                              string
	JobData                                 string
	LogFormat                               string
	LogLevel                                string
	SignaturePolicy                         string
	SigningKeys                             string
	SigningGitHub                           bool
	Affiliates                              string
	Prices                                  string
	CostRegion                              string
	Budgets                                 string
	RecreateDB                              bool
	AuditRetention                          retention
	EventRetention                          retention
	LoginRates                              [3]string // source, failures, identity: ratelimit.ParseRate
	LoginBursts                             [3]int
	NoDevicePacing                          bool
	// ready, when set, receives the bound address once the server listens (tests).
	ready func(addr string)

	// GitHubToken re-checks logged-in users' memberships every
	// MembershipRecheck; empty: no re-check.
	GitHubToken       string
	MembershipRecheck time.Duration
	LoginCache        time.Duration

	Notices noticeFlags
}

// newCmdServe is `provisioner serve`; runF nil is the real run.
func newCmdServe(factory *cmdutil.Factory, runF func(*serveOptions) error) *cobra.Command {
	o := &serveOptions{io: factory.IOStreams}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the provisioner service on this machine (SQLite, local keys)",
		Long: `Run the whole provisioner on this machine: the HTTP API, state in SQLite and
signing keys under --data, generated on first start.

Identity (--identity):
  github          log in with GitHub: personal access tokens, the device flow
                  (--github-client-id) and GitHub Actions OIDC (--actions-audience)
  static:FILE     users and tokens from a JSON file, for local and offline use`,
		Example: `  provisioner serve --identity static:examples/identity.json
  provisioner serve --github-org SlideRuleEarth --admin-team admins --github-client-id Iv1.abc`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmdutil.Run(cmd.Context(), o, runF, serveRun)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Addr, "addr", "127.0.0.1:8080", "address to listen on")
	f.StringVar(&o.Data, "data", factory.DataDir, "directory for the database and signing keys")
	f.StringVar(&o.Issuer, "issuer", "", "public base URL of this provisioner, the tokens' iss (default http://ADDR)")
	f.StringVar(&o.Identity, "identity", "github", "identity source: github or static:FILE")
	f.StringVar(&o.GitHubAPIURL, "github-api-url", "https://api.github.com", "GitHub REST API URL (GitHub Enterprise: https://HOST/api/v3)")
	f.StringVar(&o.GitHubURL, "github-url", "https://github.com", "GitHub web URL, for the device flow")
	f.StringVar(&o.GitHubOrg, "github-org", "", "GitHub organization whose members are org members")
	f.StringVar(&o.AdminTeam, "admin-team", "", "team (slug) of the organization whose members are admins")
	f.StringVar(&o.GitHubToken, "github-token", "", "operator's GitHub token (read:org) that re-checks logged-in users' organization and team memberships; removed or demoted users lose their sessions (env PROVISIONER_GITHUB_TOKEN)")
	f.DurationVar(&o.MembershipRecheck, "membership-recheck", app.DefaultMembershipRecheck, "how often a session's membership is re-checked with --github-token")
	f.DurationVar(&o.LoginCache, "github-login-cache", 10*time.Second, "how long a PAT login's answer from GitHub, and the jwt_user it issued to an organization member, are reused for the same token (0 asks GitHub and signs every time; at most 5m): a revoked token or changed membership is seen this late")
	f.StringSliceVar(&o.AllowedTeams, "allowed-teams", nil, "if set, only members of these teams are org members")
	f.StringVar(&o.GitHubClientID, "github-client-id", "", "OAuth app client id for the device flow")
	f.StringVar(&o.GitHubClientSecret, "github-client-secret", "", "the OAuth app's secret; with --github-client-id it turns the OAuth authorization server on (docs/oauth.md; the app's callback URL is ISSUER/auth/github/callback) (env PROVISIONER_GITHUB_CLIENT_SECRET)")
	f.StringSliceVar(&o.OAuthTrustedHosts, "oauth-trusted-hosts", nil, "redirect hosts (and their subdomains) of first-party web clients and of the basic login's token cookie")
	f.StringSliceVar(&o.OAuthThirdPartyHosts, "oauth-third-party-hosts", nil, "redirect hosts of third-party (MCP) clients, which get the MCP scopes only")
	f.StringVar(&o.ActionsIssuer, "actions-issuer", "https://token.actions.githubusercontent.com", "GitHub Actions OIDC issuer")
	f.StringVar(&o.ActionsAudience, "actions-audience", "", "audience Actions tokens must carry; empty disables Actions login")
	f.StringVar(&o.ActionsRules, "actions-rules", "", "JSON rules mapping workflows to levels (see README)")
	f.DurationVar(&o.UserTokenTTL, "user-token-ttl", 24*time.Hour, "lifetime of jwt_user (production: 24h; the released clients never refresh)")
	f.DurationVar(&o.ClusterTokenTTL, "cluster-token-ttl", time.Hour, "lifetime of jwt_cluster")
	f.IntVar(&o.TrustedProxies, "trusted-proxies", 0, "number of reverse proxies in front that append X-Forwarded-For")
	f.StringVar(&o.ClusterUpstream, "cluster-upstream", "", "URL every local cluster's gateway forwards to")
	f.StringVar(&o.ClusterCommand, "cluster-command", "", "command started per local cluster as its upstream (gets PORT, CLUSTER, NODES, VERSION in its environment)")
	f.StringVar(&o.UpstreamHealth, "cluster-health-path", local.DefaultUpstreamHealth, "path on a --cluster-command upstream that must answer before the cluster runs")
	f.StringVar(&o.ILBDir, "ilb-dir", "", "run local clusters on production's ILB: the directory of its haproxy.cfg, orchestrator.lua, analyzer.lua (a SlideRule checkout's apps/ilb); needs HAProxy >= 3.0")
	f.StringVar(&o.HAProxy, "haproxy", "", "HAProxy >= 3.0 binary for --ilb-dir (default: haproxy on PATH; scripts/haproxy.sh builds one)")
	f.DurationVar(&o.KeyRefresh, "ilb-key-refresh", local.DefaultKeyRefresh, "how often the local ILBs get the issuer's current key (also at once when it changes)")
	f.DurationVar(&o.DeployTimeout, "deploy-timeout", 10*time.Minute, "how long DEPLOY waits for a cluster to run")
	f.DurationVar(&o.DestroyTimeout, "destroy-timeout", 10*time.Minute, "how long DESTROY waits for a cluster to go")
	f.DurationVar(&o.HealthMaxAge, "health-max-age", app.HealthMaxAge, "how old a running cluster's last health check may be before DEPLOY and STATUS ask its driver again")
	f.DurationVar(&o.Reconcile, "reconcile-interval", 30*time.Second, "how often the sweep looks for clusters past their time")
	f.IntVar(&o.Limits.MaxNodes, "max-nodes", 10, "most nodes an org member may deploy per cluster")
	f.DurationVar(&o.Limits.MaxTTL, "max-ttl", 24*time.Hour, "longest TTL an org member may ask for")
	f.IntVar(&o.Limits.MaxClusters, "max-clusters", 3, "most live clusters per org member")
	f.DurationVar(&o.Limits.DefaultTTL, "default-ttl", time.Hour, "TTL of a DEPLOY that names none")
	f.StringVar(&o.PublicCluster, "public-cluster", "", `the cluster "sliderule" names on user node group paths (/deploy/{username} ...); empty: the only public cluster running`)
	f.StringVar(&o.SlideruleRepo, "sliderule-repo", "", "the sliderule git repository TEST and RELEASE check out (URL or local path); empty disables them")
	f.StringVar(&o.Plans, "plans", "", "directory or file of TEST/RELEASE plans overriding the built-in ones")
	f.StringVar(&o.ContainerWrap, "container-wrapper", "", "command that runs the plans' container steps (the build environment); empty runs them directly")
	f.StringVar(&o.ClusterDomain, "cluster-domain", "localhost", "domain the client tests reach clusters under")
	f.DurationVar(&o.JobTimeout, "job-timeout", 3*time.Hour, "hard deadline of a TEST or RELEASE job")
	f.DurationVar(&o.DevicePace, "device-pace", 5*time.Second, "how long a device-flow poll's final error (expired, denied) is held back, so clients that re-poll at once on an error poll at this pace")
	f.StringVar(&o.TestCluster, "test-cluster", "", "the cluster a TEST runs against when it names none (production's POST /test {branch})")
	f.StringSliceVar(&o.JobEnv, "job-env", nil, "KEY=VALUE passed to the job steps (e.g. REGISTRY=..., AWS_REGION=...)")
	f.StringVar(&o.JobData, "job-data", "", "directory whose server/ and ams/ are copied into each job's data directory (DATA_DIR), as an AWS job host fills /data from the project bucket")
	f.StringVar(&o.JobSecrets, "job-secrets", "", "file (mode 0600) of NAME=VALUE lines: secrets for the job steps that declare them, masked in job logs")
	f.StringVar(&o.SignaturePolicy, "signature-policy", "off", "who must sign DEPLOY, EXTEND, DESTROY, SCHEDULE_DESTROY, TEST, RELEASE and job cancels: off, owners (admins) or everyone")
	f.StringVar(&o.SigningKeys, "signing-keys", "", "file (or directory of files) of \"login ssh-ed25519 AAAA... comment\" lines, the keys signed requests are checked with; reread on change")
	f.BoolVar(&o.SigningGitHub, "signing-keys-github", false, "also accept the ssh-ed25519 keys users publish on GitHub (GET /users/{login}/keys at --github-api-url)")
	f.StringVar(&o.Affiliates, "affiliates", "", "production's affiliates file (JSON: login -> {active, clusters, max_nodes, max_ttl in minutes, allowed_scopes}), users outside the organization granted clusters and limits; reread on change, a bad change keeps the last good list")
	f.StringVar(&o.Prices, "prices", "", "the operator's price table override (JSON, prices/prices.json's shape; what it names replaces the shipped and refreshed prices); reread on change, a bad change keeps the last good one")
	f.StringVar(&o.CostRegion, "cost-region", local.DefaultCostRegion, "the AWS region whose prices local clusters are estimated and metered at")
	f.StringVar(&o.Budgets, "budgets", "", `the operator's budgets file (JSON: {"budgets": [{"scope": "org"|"team:SLUG"|"user:LOGIN"|"user:*", "monthly": USD, "policy": "refuse"|"shrink", ...}]}); read at start, a bad file refuses to start`)
	f.BoolVar(&o.RecreateDB, "recreate-db", false, "start with a new, empty database although --data holds clusters or keys of an earlier run (the database was lost); clusters still running are quarantined, never destroyed")
	o.AuditRetention, o.EventRetention = retention(defaultAuditRetention), retention(defaultEventRetention)
	f.Var(&o.AuditRetention, "audit-retention", "how long audit entries are kept (90d, 36h, forever); the sweep prunes older ones")
	f.Var(&o.EventRetention, "event-retention", "how long cluster events are kept (30d, 36h, forever); the sweep prunes older ones")
	def := app.DefaultLoginLimits()
	for i, l := range []struct {
		name, help string
		lim        ratelimit.Limit
	}{
		{"source", "every login request per source network (IPv4 /24, IPv6 /48)", def.Source},
		{"failure", "failed logins per source network; once spent, the network's logins get 429", def.Failures},
		{"identity", "login requests per credential (PAT, Actions token)", def.Identity},
	} {
		f.StringVar(&o.LoginRates[i], "login-rate-"+l.name, ratelimit.FormatRate(l.lim.Rate), "rate limit of "+l.help+" (N/s, N/m, N/h, unlimited)")
		f.IntVar(&o.LoginBursts[i], "login-burst-"+l.name, l.lim.Burst, "burst of --login-rate-"+l.name)
	}
	o.Notices.add(f)
	f.BoolVar(&o.NoDevicePacing, "no-device-pacing", false, "do not enforce device codes' poll interval locally (tests)")
	_ = f.MarkHidden("no-device-pacing")
	f.StringVar(&o.LogFormat, "log-format", "text", "log format: text or json")
	f.StringVar(&o.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
	return cmd
}

func (o *serveOptions) logger() (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(o.LogLevel)); err != nil {
		return nil, usagef("invalid --log-level %q", o.LogLevel)
	}
	hopts := &slog.HandlerOptions{Level: lvl}
	switch o.LogFormat {
	case "text":
		return slog.New(slog.NewTextHandler(o.io.ErrOut, hopts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(o.io.ErrOut, hopts)), nil
	}
	return nil, usagef("invalid --log-format %q: want text or json", o.LogFormat)
}

func (o *serveOptions) validate() error {
	switch {
	case o.UserTokenTTL < time.Minute || o.UserTokenTTL > 7*24*time.Hour:
		return usagef("--user-token-ttl must be between 1m and 168h")
	case o.ClusterTokenTTL < time.Minute || o.ClusterTokenTTL > 24*time.Hour:
		return usagef("--cluster-token-ttl must be between 1m and 24h")
	case o.MembershipRecheck < time.Minute:
		return usagef("--membership-recheck must be at least 1m")
	case o.LoginCache < 0 || o.LoginCache > 5*time.Minute:
		return usagef("--github-login-cache must be between 0 and 5m")
	case o.TrustedProxies < 0 || o.TrustedProxies > 10:
		return usagef("--trusted-proxies must be between 0 and 10")
	case o.Identity != "github" && !strings.HasPrefix(o.Identity, "static:"):
		return usagef("invalid --identity %q: want github or static:FILE", o.Identity)
	case o.Identity == "static:":
		return usagef("--identity static:FILE needs a file name")
	case o.ClusterUpstream != "" && o.ClusterCommand != "":
		return usagef("give --cluster-upstream or --cluster-command, not both")
	case o.DeployTimeout < 10*time.Second || o.DeployTimeout > 2*time.Hour:
		return usagef("--deploy-timeout must be between 10s and 2h")
	case o.HealthMaxAge < time.Millisecond || o.HealthMaxAge > time.Minute:
		return usagef("--health-max-age must be between 1ms and 1m")
	case o.DestroyTimeout < 10*time.Second || o.DestroyTimeout > 2*time.Hour:
		return usagef("--destroy-timeout must be between 10s and 2h")
	case o.KeyRefresh < 10*time.Second || o.KeyRefresh > 24*time.Hour:
		return usagef("--ilb-key-refresh must be between 10s and 24h")
	case o.Reconcile < time.Second || o.Reconcile > time.Hour:
		return usagef("--reconcile-interval must be between 1s and 1h")
	case o.DevicePace <= 0 || o.DevicePace > time.Minute:
		return usagef("--device-pace must be between 1ns and 1m")
	case o.JobTimeout < time.Minute || o.JobTimeout > 24*time.Hour:
		return usagef("--job-timeout must be between 1m and 24h")
	case o.Limits.MaxNodes < 1 || o.Limits.MaxClusters < 1 || o.Limits.MaxTTL < time.Minute || o.Limits.DefaultTTL < time.Minute:
		return usagef("--max-nodes, --max-clusters, --max-ttl and --default-ttl must be positive")
	}
	if o.PublicCluster != "" {
		if err := provisioner.ValidateClusterName(o.PublicCluster); err != nil {
			return usagef("--public-cluster: %s", provisioner.ErrorMessage(err))
		}
	}
	if _, err := o.oauth(nil, "http://127.0.0.1"); err != nil {
		return err
	}
	return nil
}

// oauth is the OAuth authorization server's configuration: on when the
// backend has GitHub's web flow (upstream), its cookie domain
// --cluster-domain, the dashboard a built-in client; validate checks the
// hosts with upstream nil.
func (o *serveOptions) oauth(upstream provisioner.WebFlow, issuer string) (app.OAuthConfig, error) {
	var trusted, third []string
	for _, h := range o.OAuthTrustedHosts {
		trusted = append(trusted, app.ParseHosts(h)...)
	}
	for _, h := range o.OAuthThirdPartyHosts {
		third = append(third, app.ParseHosts(h)...)
	}
	c, err := app.OAuthConfig{Upstream: upstream, Issuer: issuer, Domain: o.ClusterDomain, TrustedHosts: trusted, ThirdPartyHosts: third,
		DashboardCallback: web.CallbackPath}.Check()
	if err != nil {
		return c, usagef("%s", provisioner.ErrorMessage(err))
	}
	return c, nil
}

func serveRun(ctx context.Context, o *serveOptions) error {
	if err := o.validate(); err != nil {
		return err
	}
	log, err := o.logger()
	if err != nil {
		return err
	}
	login, err := o.loginLimits()
	if err != nil {
		return err
	}
	notices, err := o.Notices.config()
	if err != nil {
		return err
	}
	cfg, err := o.backendConfig(log)
	if err != nil {
		return err
	}
	b, err := cfg.Open(ctx)
	if err != nil {
		if _, ok := errors.AsType[*local.ConfigError](err); ok {
			return usageError{err}
		}
		return err
	}
	defer b.Close()
	notices.Contacts = o.Notices.Contacts(b.Identity)
	notices.DashboardURL = o.Notices.Dashboard(b.Issuer)

	var recheck time.Duration // the membership re-check's, when there is one
	if b.Membership != nil {
		recheck = o.MembershipRecheck
	}
	// Local clusters are cheap to probe: look often, so DEPLOY --wait
	// returns soon after the cluster answers.
	oauth, err := o.oauth(b.Web, b.Issuer)
	if err != nil {
		return err
	}
	a := app.New(app.Config{OAuth: oauth, Store: b.Store, Logger: log, Scheduler: b.Scheduler, Limits: o.Limits, PublicCluster: o.PublicCluster,
		Poll: 200 * time.Millisecond, Login: login, LoginReuse: o.LoginCache, AuditRetention: time.Duration(o.AuditRetention), EventRetention: time.Duration(o.EventRetention),
		DeployTimeout: o.DeployTimeout, DestroyTimeout: o.DestroyTimeout, HealthMaxAge: o.HealthMaxAge,
		Tokens: jwt.New(jwt.Config{Issuer: b.Issuer, Signer: b.Signer, UserTTL: o.UserTokenTTL, ClusterTTL: o.ClusterTokenTTL}), Keys: b.Signer,
		Identity: b.Identity, Device: b.Device, Actions: b.Actions, Membership: b.Membership, MembershipRecheck: recheck,
		Affiliates: b.Affiliates, Driver: b.Driver, Runner: b.Runner, Logs: b.Logs, JobTimeout: o.JobTimeout, TestCluster: o.TestCluster,
		Signatures: b.Signatures.Policy, Notices: notices, Costs: app.CostConfig{Prices: b.Prices, Layout: b.Layout, Spend: b.Spend, Usage: b.Usage},
		Budgets: b.Budgets})
	// With the OAuth server on, the dashboard signs in with GitHub through it.
	var signIn web.SignIn
	if s := a.DashboardSignIn(); s != nil {
		signIn = s
		log.Info("dashboard: sign in with GitHub", "callback", s.RedirectURI())
	}
	srv := phttp.NewServer(phttp.Config{App: a, Keys: b.Signer, Issuer: b.Issuer, Logger: log, DevicePace: o.DevicePace,
		TrustedProxies: o.TrustedProxies, Signatures: b.Signatures})
	// The HTTP server, the backend's work and the sweep stop together.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	b.Start(ctx, a.FireDestroy)

	log.Info("provisioner listening", "addr", b.Listener.Addr().String(), "issuer", b.Issuer, "data", o.Data, "identity", o.Identity,
		"clusters", b.Clusters != nil)
	if o.ready != nil {
		o.ready(b.Listener.Addr().String())
	}
	var wg sync.WaitGroup
	wg.Go(func() { _ = a.Run(ctx, o.Reconcile) })
	// The dashboard at "/" in front of the API (package web).
	dash := web.New(web.Config{API: srv, Sessions: a, Logger: log, TrustedProxies: o.TrustedProxies, SignIn: signIn})
	err = phttp.Serve(ctx, b.Listener, dash, 15*time.Second)
	cancel()
	wg.Wait()
	schedErr := b.Wait()
	log.Info("provisioner stopped")
	if err == nil {
		err = schedErr
	}
	return err
}

// backendConfig is the embedded backend's configuration from the flags.
func (o *serveOptions) backendConfig(log *slog.Logger) (local.Config, error) {
	var rules []github.ActionsRule
	if o.ActionsRules != "" {
		var err error
		if rules, err = github.ParseActionsRules(o.ActionsRules); err != nil {
			return local.Config{}, usagef("invalid --actions-rules: %v", err)
		}
	}
	policy, err := provisioner.ParseSignaturePolicy(o.SignaturePolicy)
	if err != nil {
		return local.Config{}, usagef("--signature-policy: %s", provisioner.ErrorMessage(err))
	}
	cfg := local.Config{Data: o.Data, Addr: o.Addr, Issuer: o.Issuer, RecreateDB: o.RecreateDB, UserTokenTTL: o.UserTokenTTL, Logger: log,
		GitHub: github.Config{APIURL: o.GitHubAPIURL, WebURL: o.GitHubURL, Org: o.GitHubOrg, AdminTeam: o.AdminTeam,
			AllowedTeams: o.AllowedTeams, ClientID: o.GitHubClientID, ClientSecret: o.GitHubClientSecret, ActionsIssuer: o.ActionsIssuer,
			ActionsAudience: o.ActionsAudience, ActionsRules: rules, MemberToken: o.GitHubToken, LoginCache: o.LoginCache},
		Affiliates: o.Affiliates, Prices: o.Prices, CostRegion: o.CostRegion, Budgets: o.Budgets,
		SignaturePolicy: policy, SigningKeys: o.SigningKeys, SigningKeysGitHub: o.SigningGitHub,
		ClusterUpstream: o.ClusterUpstream, ClusterCommand: o.ClusterCommand, UpstreamHealth: o.UpstreamHealth,
		ILBDir: o.ILBDir, HAProxy: o.HAProxy, ILBKeyRefresh: o.KeyRefresh, ClusterDomain: o.ClusterDomain,
		SlideruleRepo: o.SlideruleRepo, Plans: o.Plans, ContainerWrapper: o.ContainerWrap, JobData: o.JobData, JobTimeout: o.JobTimeout,
	}
	if path, ok := strings.CutPrefix(o.Identity, "static:"); ok {
		cfg.StaticIdentity = path
	}
	if o.SlideruleRepo == "" {
		return cfg, nil // TEST and RELEASE are disabled: their settings are not read
	}
	cfg.JobEnv = map[string]string{}
	for _, kv := range o.JobEnv {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return cfg, usagef("--job-env %q: want KEY=VALUE", kv)
		}
		cfg.JobEnv[k] = v
	}
	if o.JobSecrets != "" {
		if cfg.JobSecrets, err = readSecretsFile(o.JobSecrets); err != nil {
			return cfg, usagef("--job-secrets: %v", err)
		}
	}
	return cfg, nil
}

// loginLimits reads the --login-rate-* and --login-burst-* flags.
func (o *serveOptions) loginLimits() (app.LoginLimits, error) {
	var lims [3]ratelimit.Limit
	for i, name := range []string{"source", "failure", "identity"} {
		r, err := ratelimit.ParseRate(o.LoginRates[i])
		if err != nil {
			return app.LoginLimits{}, usagef("--login-rate-%s: %v", name, err)
		}
		if o.LoginBursts[i] < 1 && r != rate.Inf {
			return app.LoginLimits{}, usagef("--login-burst-%s must be at least 1", name)
		}
		lims[i] = ratelimit.Limit{Rate: r, Burst: o.LoginBursts[i]}
	}
	l, err := app.LoginLimits{Source: lims[0], Failures: lims[1], Identity: lims[2], NoDevicePacing: o.NoDevicePacing}.Check()
	if err != nil {
		return l, usagef("%v", err)
	}
	return l, nil
}
