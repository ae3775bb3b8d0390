package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cfnsdk "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	ddbsdk "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"

	"provisioner"
	"provisioner/affiliates"
	"provisioner/app"
	"provisioner/aws/awsenv"
	"provisioner/aws/cloudformation"
	"provisioner/aws/dynamodb"
	"provisioner/aws/kms"
	"provisioner/aws/lambda"
	"provisioner/aws/s3"
	"provisioner/aws/scheduler"
	"provisioner/github"
	phttp "provisioner/http"
	"provisioner/jwt"
	"provisioner/plan"
)

// logPrefix is where job logs live in the log bucket, for the log store
// and the job machines alike.
const logPrefix = "logs"

// runLambda runs the provisioner as the Lambda of deploy/provisioner.yaml;
// it returns only on a configuration error (an init failure).
func runLambda(stderr *os.File) int {
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	cfg, err := awsenv.Load(context.Background(), awsenv.Options{Endpoint: os.Getenv("PROVISIONER_AWS_ENDPOINT")})
	if err != nil {
		log.Error("provisioner lambda: AWS configuration", "err", err)
		return 1
	}
	h, err := newLambdaHandler(cfg, os.Getenv, log, lambdaOverrides{})
	if err != nil {
		log.Error("provisioner lambda: configuration", "err", err)
		return 1
	}
	lambda.Start(h)
	return 0
}

// lambdaOverrides replace parts of the AWS wiring in tests: the emulator
// cannot reach a cluster's endpoint, nor wait for a TTL.
type lambdaOverrides struct {
	Probe             cloudformation.HealthProbe
	Now               func() time.Time
	TemplateBody      string
	GroupTemplateBody string
	// RunnerTemplateBody replaces PROVISIONER_RUNNER_TEMPLATE_URL.
	RunnerTemplateBody string
}

// newLambdaHandler wires the AWS backend from the environment the
// provisioner stack sets. It makes no network call: a cold start stays cheap.
func newLambdaHandler(cfg aws.Config, getenv func(string) string, log *slog.Logger, over lambdaOverrides) (*lambda.Handler, error) {
	var missing []string
	need := func(k string) string {
		v := getenv(k)
		if v == "" {
			missing = append(missing, k)
		}
		return v
	}
	prefix := need("PROVISIONER_PREFIX")
	issuer := need("PROVISIONER_ISSUER")
	table := need("PROVISIONER_TABLE")
	bucket := need("PROVISIONER_LOG_BUCKET")
	keyIDs := need("PROVISIONER_KMS_KEY_IDS")
	domain := need("PROVISIONER_DOMAIN")
	templateURL := need("PROVISIONER_CLUSTER_TEMPLATE_URL")
	if len(missing) > 0 {
		return nil, fmt.Errorf("not set: %s", strings.Join(missing, ", "))
	}
	emulated := getenv("PROVISIONER_AWS_ENDPOINT") != ""
	var storeOpts []dynamodb.Option
	for _, r := range []struct {
		env string
		opt func(time.Duration) dynamodb.Option
	}{{"PROVISIONER_AUDIT_RETENTION", dynamodb.WithAuditRetention}, {"PROVISIONER_EVENT_RETENTION", dynamodb.WithEventRetention}} {
		if v := getenv(r.env); v != "" {
			d, err := parseRetention(v)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", r.env, err)
			}
			storeOpts = append(storeOpts, r.opt(d))
		}
	}
	store := dynamodb.New(ddbsdk.NewFromConfig(cfg), table, storeOpts...)
	signer, err := kms.NewFromConfig(cfg, kms.ParseKeyIDs(keyIDs))
	if err != nil {
		return nil, err
	}
	logs, err := s3.NewFromConfig(cfg, s3.Config{Bucket: bucket, Prefix: logPrefix, PathStyle: emulated})
	if err != nil {
		return nil, err
	}
	tokens := jwt.New(jwt.Config{Issuer: issuer, Signer: signer})
	schedCfg, err := scheduler.ConfigFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	sched, err := scheduler.New(cfg, schedCfg)
	if err != nil {
		return nil, err
	}
	params := map[string]string{
		"Domain": domain, "HostedZoneId": getenv("PROVISIONER_HOSTED_ZONE_ID"), "ProvisionerURL": issuer,
		// Unused by cluster.yaml since its load balancer runs no gateway; still accepted.
		"ProvisionerReleaseURL":    getenv("PROVISIONER_CLUSTER_RELEASE_URL"),
		"ProvisionerReleaseSHA256": getenv("PROVISIONER_CLUSTER_RELEASE_SHA256"),
		"ImageRegistry":            getenv("PROVISIONER_IMAGE_REGISTRY"),
		"ProjectBucket":            getenv("PROVISIONER_PROJECT_BUCKET"),
		"RolePermissionsBoundary":  getenv("PROVISIONER_CLUSTER_ROLE_BOUNDARY_ARN"),
	}
	// Clusters go into an existing VPC when one is named, else each gets its own.
	for param, env := range map[string]string{"VpcId": "PROVISIONER_CLUSTER_VPC_ID",
		"PublicSubnetId": "PROVISIONER_CLUSTER_PUBLIC_SUBNET_ID", "PrivateSubnetId": "PROVISIONER_CLUSTER_PRIVATE_SUBNET_ID"} {
		if v := getenv(env); v != "" {
			params[param] = v
		}
	}
	// The probe asks the cluster's ilb for its nodes, as the SlideRule
	// client does: /discovery/status needs no token (haproxy.cfg sends
	// /discovery/ to a backend without a token check), so a status poll
	// signs nothing.
	var probe cloudformation.HealthProbe = &cloudformation.HTTPProbe{}
	if over.Probe != nil {
		probe = over.Probe
	}
	cfnCfg := cloudformation.Config{Client: cfnsdk.NewFromConfig(cfg), StackPrefix: prefix, TemplateURL: templateURL,
		RoleARN: getenv("PROVISIONER_CLUSTER_STACK_ROLE_ARN"), Parameters: params,
		Tags: map[string]string{"provisioner": prefix}, HealthProbe: probe}
	if over.TemplateBody != "" {
		cfnCfg.TemplateURL, cfnCfg.TemplateBody = "", over.TemplateBody
	}
	// User node groups (deploy/userasg.yaml) when its URL is set; without
	// it, group paths answer 503.
	cfnCfg.GroupTemplateURL = getenv("PROVISIONER_GROUP_TEMPLATE_URL")
	if over.GroupTemplateBody != "" {
		cfnCfg.GroupTemplateURL, cfnCfg.GroupTemplateBody = "", over.GroupTemplateBody
	}
	driver, err := cloudformation.New(cfnCfg)
	if err != nil {
		return nil, err
	}
	gh, err := lambdaGitHub(getenv)
	if err != nil {
		return nil, err
	}
	// The cluster production's alias "sliderule" names on the group
	// paths; empty: the only public cluster running.
	public := getenv("PROVISIONER_PUBLIC_CLUSTER")
	if public != "" {
		if err := provisioner.ValidateClusterName(public); err != nil {
			return nil, fmt.Errorf("PROVISIONER_PUBLIC_CLUSTER: %w", err)
		}
	}
	appCfg := app.Config{Store: store, Tokens: tokens, Identity: gh, Logger: log, Driver: driver, Scheduler: sched, Logs: logs,
		Now: over.Now, Poll: 2 * time.Second, PublicCluster: public, Keys: signer}
	if getenv("PROVISIONER_GITHUB_TOKEN") != "" && getenv("PROVISIONER_GITHUB_ORG") != "" {
		appCfg.Membership = gh
	}
	if err := lambdaJobs(cfg, getenv, prefix, domain, store, &appCfg, over); err != nil {
		return nil, err
	}
	if appCfg.Affiliates, err = lambdaAffiliates(cfg, getenv, log); err != nil {
		return nil, err
	}
	if getenv("PROVISIONER_GITHUB_CLIENT_ID") != "" {
		appCfg.Device = gh
	}
	if getenv("PROVISIONER_ACTIONS_AUDIENCE") != "" {
		appCfg.Actions = gh
	}
	verifier, err := lambdaSignatures(cfg, getenv, store, bucket, emulated)
	if err != nil {
		return nil, err
	}
	appCfg.Signatures = verifier.Policy
	a := app.New(appCfg)
	// TrustedProxies stays 0: the Lambda adapter puts API Gateway's sourceIp in RemoteAddr.
	srv := phttp.NewServer(phttp.Config{App: a, Keys: signer, Issuer: issuer, Logger: log, Signatures: verifier})
	return &lambda.Handler{HTTP: srv, Destroy: a.FireDestroy, Reconcile: a.Reconcile, Logger: log}, nil
}

// lambdaAffiliates reads production's affiliates file from S3:
// PROVISIONER_AFFILIATES is s3://BUCKET/KEY, or a KEY in
// PROVISIONER_PROJECT_BUCKET (production's PROJECT_FOLDER/affiliates.json).
// It is read at first use, not at a cold start, and again when its ETag
// changes (looked at every 30 s); a bad object keeps the last good list and
// is logged, and with none yet nobody is an affiliate.
func lambdaAffiliates(cfg aws.Config, getenv func(string) string, log *slog.Logger) (provisioner.Affiliates, error) {
	v := getenv("PROVISIONER_AFFILIATES")
	if v == "" {
		return nil, nil
	}
	bucket, key := getenv("PROVISIONER_PROJECT_BUCKET"), v
	if strings.HasPrefix(v, "s3://") {
		var err error
		if bucket, key, err = s3.ParseObjectURL(v); err != nil {
			return nil, fmt.Errorf("PROVISIONER_AFFILIATES: %w", err)
		}
	} else if bucket == "" {
		return nil, fmt.Errorf("PROVISIONER_AFFILIATES names a key (%s) but PROVISIONER_PROJECT_BUCKET is not set", v)
	}
	client := s3sdk.NewFromConfig(cfg, func(o *s3sdk.Options) { o.UsePathStyle = getenv("PROVISIONER_AWS_ENDPOINT") != "" })
	return affiliates.NewLazy("s3://"+bucket+"/"+key, s3.ObjectLoader(client, bucket, key),
		affiliates.Options{Every: 30 * time.Second, Logger: log}), nil
}

func lambdaGitHub(getenv func(string) string) (*github.Provider, error) {
	var rules []github.ActionsRule
	if v := getenv("PROVISIONER_ACTIONS_RULES"); v != "" {
		var err error
		if rules, err = github.ParseActionsRules(v); err != nil {
			return nil, fmt.Errorf("PROVISIONER_ACTIONS_RULES: %w", err)
		}
	}
	var teams []string
	for t := range strings.SplitSeq(getenv("PROVISIONER_ALLOWED_TEAMS"), ",") {
		if t = strings.TrimSpace(t); t != "" {
			teams = append(teams, t)
		}
	}
	or := func(k, def string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return def
	}
	return github.New(github.Config{
		APIURL: or("PROVISIONER_GITHUB_API_URL", github.DefaultAPIURL), WebURL: or("PROVISIONER_GITHUB_URL", github.DefaultWebURL),
		Org: getenv("PROVISIONER_GITHUB_ORG"), AdminTeam: getenv("PROVISIONER_ADMIN_TEAM"), AllowedTeams: teams,
		ClientID: getenv("PROVISIONER_GITHUB_CLIENT_ID"), ActionsIssuer: or("PROVISIONER_ACTIONS_ISSUER", github.DefaultActionsIssuer),
		ActionsAudience: getenv("PROVISIONER_ACTIONS_AUDIENCE"), ActionsRules: rules,
		MemberToken: getenv("PROVISIONER_GITHUB_TOKEN"),
	})
}

// lambdaJobs wires TEST and RELEASE on job stacks (deploy/runner.yaml) when a sliderule repository is
// configured. Machines upload their logs where the log store reads them.
func lambdaJobs(cfg aws.Config, getenv func(string) string, prefix, domain string, store provisioner.Store, appCfg *app.Config, over lambdaOverrides) error {
	repo := getenv("PROVISIONER_SLIDERULE_REPO")
	if repo == "" {
		return nil
	}
	appCfg.TestCluster = getenv("PROVISIONER_TEST_CLUSTER")
	plans, err := plan.Load(getenv("PROVISIONER_PLANS"))
	if err != nil {
		return err
	}
	var groups []string
	for g := range strings.SplitSeq(getenv("PROVISIONER_JOB_SECURITY_GROUP_IDS"), ",") {
		if g = strings.TrimSpace(g); g != "" {
			groups = append(groups, g)
		}
	}
	env := map[string]string{"AWS_REGION": cfg.Region}
	if r := getenv("PROVISIONER_IMAGE_REGISTRY"); r != "" {
		env["REGISTRY"] = r
	}
	runner, err := cloudformation.NewRunner(cloudformation.RunnerConfig{Client: cfnsdk.NewFromConfig(cfg), S3: s3sdk.NewFromConfig(cfg),
		TemplateURL: getenv("PROVISIONER_RUNNER_TEMPLATE_URL"), TemplateBody: over.RunnerTemplateBody,
		RoleARN: getenv("PROVISIONER_RUNNER_STACK_ROLE_ARN"),
		Bucket:  getenv("PROVISIONER_LOG_BUCKET"), Prefix: logPrefix, Region: cfg.Region, Name: prefix,
		InstanceProfileARN: getenv("PROVISIONER_JOB_INSTANCE_PROFILE_ARN"), ReleaseInstanceProfileARN: getenv("PROVISIONER_JOB_RELEASE_INSTANCE_PROFILE_ARN"),
		SubnetID: getenv("PROVISIONER_JOB_SUBNET_ID"), SecurityGroupIDs: groups, InstanceType: getenv("PROVISIONER_JOB_INSTANCE_TYPE"),
		RepoURL: repo, Domain: domain, ContainerWrapper: cloudformation.BuildEnvWrapper, Env: env, Plans: plans,
		SecretsKey: getenv("PROVISIONER_JOB_SECRETS_OBJECT"),
		// The provisioner's role may create and delete only stacks with this tag.
		Tags: map[string]string{"provisioner": prefix}})
	if err != nil {
		return err
	}
	appCfg.Runner = runner
	appCfg.Reap = func(ctx context.Context) error {
		_, err := runner.Reap(ctx, store.GetJob)
		return err
	}
	return nil
}
