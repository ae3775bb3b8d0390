package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/adrg/xdg"
	"github.com/spf13/cobra"

	"provisioner"
	"provisioner/app"
	"provisioner/github"
	phttp "provisioner/http"
	"provisioner/jwt"
	"provisioner/local"
	"provisioner/sqlite"
	"provisioner/static"
)

type serveOptions struct {
	io              Streams
	Addr            string
	Data            string
	Issuer          string
	Identity        string
	GitHubAPIURL    string
	GitHubURL       string
	GitHubOrg       string
	AdminTeam       string
	AllowedTeams    []string
	GitHubClientID  string
	ActionsIssuer   string
	ActionsAudience string
	ActionsRules    string
	UserTokenTTL    time.Duration
	ClusterTokenTTL time.Duration
	TrustedProxies  int
	LogFormat       string
	LogLevel        string
	// ready, when set, receives the bound address once the server listens (tests).
	ready func(addr string)
}

func defaultDataDir() string { return filepath.Join(xdg.DataHome, "sliderule-provisioner") }

func newServeCmd(io Streams) *cobra.Command {
	o := &serveOptions{io: io}
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
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd.Context()) },
	}
	f := cmd.Flags()
	f.StringVar(&o.Addr, "addr", "127.0.0.1:8080", "address to listen on")
	f.StringVar(&o.Data, "data", defaultDataDir(), "directory for the database and signing keys")
	f.StringVar(&o.Issuer, "issuer", "", "public base URL of this provisioner, the tokens' iss (default http://ADDR)")
	f.StringVar(&o.Identity, "identity", "github", "identity source: github or static:FILE")
	f.StringVar(&o.GitHubAPIURL, "github-api-url", "https://api.github.com", "GitHub REST API URL (GitHub Enterprise: https://HOST/api/v3)")
	f.StringVar(&o.GitHubURL, "github-url", "https://github.com", "GitHub web URL, for the device flow")
	f.StringVar(&o.GitHubOrg, "github-org", "", "GitHub organization whose members are org members")
	f.StringVar(&o.AdminTeam, "admin-team", "", "team (slug) of the organization whose members are admins")
	f.StringSliceVar(&o.AllowedTeams, "allowed-teams", nil, "if set, only members of these teams are org members")
	f.StringVar(&o.GitHubClientID, "github-client-id", "", "OAuth app client id for the device flow")
	f.StringVar(&o.ActionsIssuer, "actions-issuer", "https://token.actions.githubusercontent.com", "GitHub Actions OIDC issuer")
	f.StringVar(&o.ActionsAudience, "actions-audience", "", "audience Actions tokens must carry; empty disables Actions login")
	f.StringVar(&o.ActionsRules, "actions-rules", "", "JSON rules mapping workflows to levels (see README)")
	f.DurationVar(&o.UserTokenTTL, "user-token-ttl", 12*time.Hour, "lifetime of jwt_user")
	f.DurationVar(&o.ClusterTokenTTL, "cluster-token-ttl", time.Hour, "lifetime of jwt_cluster")
	f.IntVar(&o.TrustedProxies, "trusted-proxies", 0, "number of reverse proxies in front that append X-Forwarded-For")
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
		return slog.New(slog.NewTextHandler(o.io.Err, hopts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(o.io.Err, hopts)), nil
	}
	return nil, usagef("invalid --log-format %q: want text or json", o.LogFormat)
}

func (o *serveOptions) validate() error {
	switch {
	case o.UserTokenTTL < time.Minute || o.UserTokenTTL > 7*24*time.Hour:
		return usagef("--user-token-ttl must be between 1m and 168h")
	case o.ClusterTokenTTL < time.Minute || o.ClusterTokenTTL > 24*time.Hour:
		return usagef("--cluster-token-ttl must be between 1m and 24h")
	case o.TrustedProxies < 0 || o.TrustedProxies > 10:
		return usagef("--trusted-proxies must be between 0 and 10")
	case o.Identity != "github" && !strings.HasPrefix(o.Identity, "static:"):
		return usagef("invalid --identity %q: want github or static:FILE", o.Identity)
	case o.Identity == "static:":
		return usagef("--identity static:FILE needs a file name")
	}
	return nil
}

func (o *serveOptions) run(ctx context.Context) error {
	if err := o.validate(); err != nil {
		return err
	}
	log, err := o.logger()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.Data, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	store, err := sqlite.Open(filepath.Join(o.Data, "provisioner.db"))
	if err != nil {
		return err
	}
	defer store.Close()
	keys, err := local.OpenKeyring(filepath.Join(o.Data, "keys"),
		local.WithMaxTokenLifetime(o.UserTokenTTL), local.WithLogger(log))
	if err != nil {
		return err
	}

	l, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.Addr, err)
	}
	issuer := o.Issuer
	if issuer == "" {
		issuer = "http://" + l.Addr().String()
	}
	cfg := app.Config{Store: store, Logger: log,
		Tokens: jwt.New(jwt.Config{Issuer: issuer, Signer: keys, UserTTL: o.UserTokenTTL, ClusterTTL: o.ClusterTokenTTL})}
	if err := o.identity(&cfg, log); err != nil {
		l.Close()
		return err
	}
	srv := phttp.NewServer(phttp.Config{App: app.New(cfg), Keys: keys, Issuer: issuer, Logger: log,
		TrustedProxies: o.TrustedProxies})

	log.Info("provisioner listening", "addr", l.Addr().String(), "issuer", issuer, "data", o.Data, "identity", o.Identity)
	if o.ready != nil {
		o.ready(l.Addr().String())
	}
	err = phttp.Serve(ctx, l, srv, 15*time.Second)
	log.Info("provisioner stopped")
	return err
}

// identity wires the configured identity sources into cfg.
func (o *serveOptions) identity(cfg *app.Config, log *slog.Logger) error {
	var rules []github.ActionsRule
	if o.ActionsRules != "" {
		var err error
		if rules, err = github.ParseActionsRules(o.ActionsRules); err != nil {
			return usagef("invalid --actions-rules: %v", err)
		}
	}
	gh, err := github.New(github.Config{
		APIURL: o.GitHubAPIURL, WebURL: o.GitHubURL, Org: o.GitHubOrg, AdminTeam: o.AdminTeam,
		AllowedTeams: o.AllowedTeams, ClientID: o.GitHubClientID, ActionsIssuer: o.ActionsIssuer,
		ActionsAudience: o.ActionsAudience, ActionsRules: rules,
	})
	if err != nil {
		return usageError{err}
	}
	if path, ok := strings.CutPrefix(o.Identity, "static:"); ok {
		p, err := static.Load(path)
		if err != nil {
			return err
		}
		cfg.Identity = p
	} else {
		if o.GitHubOrg == "" {
			log.Warn("no --github-org: every GitHub user logs in as a member; nobody is an org member or admin")
		}
		cfg.Identity = gh
		if o.GitHubClientID != "" {
			cfg.Device = gh
		}
	}
	if o.ActionsAudience != "" {
		if o.GitHubOrg == "" {
			return usagef("--actions-audience needs --github-org: Actions tokens are accepted only from the organization's repositories")
		}
		cfg.Actions = gh
	}
	return nil
}

var _ provisioner.IdentityProvider = (*static.Provider)(nil)
