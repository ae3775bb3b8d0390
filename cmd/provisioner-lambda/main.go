// Command provisioner-lambda is the SlideRule Provisioner on AWS: the Lambda
// of deploy/provisioner.yaml (built as its "bootstrap" by make package). It
// reads its configuration from the environment (aws.Env, documented in
// deploy/README.md) and serves API Gateway requests, scheduled destroys,
// the reconcile sweep and the daily price table refresh. It links no
// embedded part (SQLite, local clusters, the CLI), which keeps the package
// small and cold starts fast.
package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"

	"provisioner/app"
	"provisioner/aws"
	"provisioner/aws/awsenv"
	"provisioner/aws/lambda"
	"provisioner/buildinfo"
	phttp "provisioner/http"
	"provisioner/jwt"
	"provisioner/web"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	// Once per cold start: which release the function runs.
	log.Info("provisioner lambda starting", "version", buildinfo.Version())
	cfg, err := aws.FromEnv(os.Getenv)
	if err != nil {
		log.Error("provisioner lambda: configuration", "err", err)
		os.Exit(1)
	}
	cfg.Logger = log
	sdk, err := awsenv.Load(context.Background(), awsenv.Options{Endpoint: cfg.Endpoint})
	if err != nil {
		log.Error("provisioner lambda: AWS configuration", "err", err)
		os.Exit(1)
	}
	h, err := newHandler(context.Background(), cfg, sdk, nil)
	if err != nil {
		log.Error("provisioner lambda: configuration", "err", err)
		os.Exit(1)
	}
	lambda.Start(h)
}

// newHandler wires the AWS backend into the app and the HTTP API; now is
// the app's clock (nil: time.Now). It makes no network call.
func newHandler(ctx context.Context, cfg aws.Config, sdk awssdk.Config, now func() time.Time) (*lambda.Handler, error) {
	b, err := cfg.Open(ctx, sdk)
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	oauth, err := app.OAuthConfig{Upstream: b.Web, Issuer: cfg.Issuer, Domain: cfg.Domain,
		TrustedHosts: cfg.OAuthTrustedHosts, ThirdPartyHosts: cfg.OAuthThirdPartyHosts, DashboardCallback: web.CallbackPath}.Check()
	if err != nil {
		return nil, err
	}
	a := app.New(app.Config{OAuth: oauth, Store: b.Store, Tokens: jwt.New(jwt.Config{Issuer: cfg.Issuer, Signer: b.Signer}), Keys: b.Signer,
		Identity: b.Identity, Device: b.Device, Actions: b.Actions, Membership: b.Membership, Affiliates: b.Affiliates,
		Driver: b.Driver, Scheduler: b.Scheduler, Runner: b.Runner, Logs: b.Logs, Reap: b.Reap,
		TestCluster: cfg.TestCluster, PublicCluster: cfg.PublicCluster, Signatures: b.Signatures.Policy,
		Notices: app.NoticeConfig{Sinks: b.Notices, Leads: cfg.Notify.Leads, DashboardURL: cfg.Notify.Dashboard(cfg.Issuer),
			Contacts: cfg.Notify.Contacts(b.Identity)},
		Costs:   app.CostConfig{Prices: b.Prices, Layout: b.Layout, Spend: b.Spend, Usage: b.Usage},
		Budgets: b.Budgets, LoadBudgets: b.LoadBudgets,
		Logger: log, Now: now, Poll: 2 * time.Second, LoginReuse: cfg.GitHub.LoginCache})
	// TrustedProxies stays 0: the Lambda adapter puts API Gateway's sourceIp in RemoteAddr.
	srv := phttp.NewServer(phttp.Config{App: a, Keys: b.Signer, Issuer: cfg.Issuer, Logger: log, Signatures: b.Signatures})
	// The dashboard signs in with GitHub through the OAuth server when it
	// is on: a built-in client, the same on every instance.
	var signIn web.SignIn
	if s := a.DashboardSignIn(); s != nil {
		signIn = s
	}
	dash := web.New(web.Config{API: srv, Sessions: a, Now: now, Logger: log, SignIn: signIn})
	return &lambda.Handler{HTTP: dash, Destroy: a.FireDestroy, Reconcile: a.Reconcile, RefreshPrices: b.RefreshPrices, Logger: log}, nil
}
