// Package aws is the AWS backend in one place: Config (read from the
// Lambda's environment by FromEnv, every variable in the Env table) and
// Open, which builds the backend's parts from the adapters under aws/:
// DynamoDB store, KMS signer, CloudFormation clusters and job stacks,
// EventBridge schedules, S3 logs, plus GitHub identity.
//
// It imports no embedded part (SQLite, the local driver), so the Lambda
// binary (cmd/provisioner-lambda) stays small.
package aws

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	cfnsdk "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	ddbsdk "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"

	"provisioner"
	"provisioner/affiliates"
	"provisioner/aws/cloudformation"
	"provisioner/aws/dynamodb"
	"provisioner/aws/kms"
	"provisioner/aws/s3"
	"provisioner/aws/scheduler"
	"provisioner/github"
	"provisioner/notify"
	"provisioner/plan"
	"provisioner/signature"
)

// LogPrefix is where job logs live in the log bucket, for the log store
// and the job machines alike.
const LogPrefix = "logs"

// Config is the AWS backend's configuration. The string fields are the
// variables of Env; the rest replace parts in tests.
type Config struct {
	Prefix, Issuer, Domain, Table, LogBucket string
	KMSKeyIDs                                []string
	Endpoint                                 string
	// AuditRetention and EventRetention: 0 the table's default, <0 forever.
	AuditRetention, EventRetention time.Duration
	PublicCluster                  string

	ClusterTemplateURL, GroupTemplateURL, ClusterStackRoleARN, HostedZoneID string
	ImageRegistry, ProjectBucket, ClusterRoleBoundaryARN                    string
	VPCID, PublicSubnetID, PrivateSubnetID                                  string
	ClusterReleaseURL, ClusterReleaseSHA256                                 string

	ScheduleGroup, FunctionARN, SchedulerRoleARN, DeadLetterARN string
	ScheduleMaxRetries                                          int
	ScheduleMaxEventAge                                         time.Duration

	GitHub     github.Config
	Affiliates string
	// OAuthTrustedHosts and OAuthThirdPartyHosts are the authorization
	// server's redirect hosts (production's TRUSTED_REDIRECT_HOSTS and
	// THIRD_PARTY_REDIRECT_HOSTS).
	OAuthTrustedHosts, OAuthThirdPartyHosts []string

	// Prices is the operator's price table override (an S3 object);
	// NoCostExplorer turns the spend report's Cost Explorer off.
	Prices         string
	NoCostExplorer bool
	// Budgets is the operator's budgets file: inline JSON, checked when
	// the function starts, or an S3 object (s3://BUCKET/KEY, or a KEY in
	// the project bucket), read and checked at first use.
	Budgets string

	SignaturePolicy                provisioner.SignaturePolicy
	SigningKeys, SigningKeysObject string
	SigningKeysGitHub              bool
	SlideruleRepo, TestCluster     string
	Plans                          string
	RunnerTemplateURL              string
	RunnerStackRoleARN             string
	JobInstanceProfileARN          string
	ReleaseInstanceProfileARN      string
	JobSubnetID, JobInstanceType   string
	JobSecurityGroupIDs            []string
	JobSecretsObject               string

	// Notify is who hears of destroys to come and of failures (the
	// PROVISIONER_NOTICE_* variables); email goes through SES.
	Notify notify.Config

	// Not from the environment: the emulator cannot reach a cluster's
	// endpoint, and templates are given inline rather than by URL;
	// SpendSource replaces Cost Explorer, whose emulator answers from
	// one queue that every test shares.
	HealthProbe                                         cloudformation.HealthProbe
	TemplateBody, GroupTemplateBody, RunnerTemplateBody string
	SpendSource                                         provisioner.SpendSource
	Logger                                              *slog.Logger
}

// Backend is the AWS backend's parts, with the request signature check the
// HTTP layer makes.
type Backend struct {
	provisioner.Backend
	Signatures *signature.Verifier
	// Notices are the notice sinks Config.Notify names.
	Notices []provisioner.NoticeSink
}

// Open builds the backend on the SDK configuration sdk. It makes no
// network call: a cold start stays cheap.
func (c Config) Open(ctx context.Context, sdk awssdk.Config) (*Backend, error) {
	log := c.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	emulated := c.Endpoint != ""
	var storeOpts []dynamodb.Option
	if c.AuditRetention != 0 {
		storeOpts = append(storeOpts, dynamodb.WithAuditRetention(max(c.AuditRetention, 0)))
	}
	if c.EventRetention != 0 {
		storeOpts = append(storeOpts, dynamodb.WithEventRetention(max(c.EventRetention, 0)))
	}
	store := dynamodb.New(ddbsdk.NewFromConfig(sdk), c.Table, storeOpts...)
	signer, err := kms.NewFromConfig(sdk, c.KMSKeyIDs)
	if err != nil {
		return nil, err
	}
	logs, err := s3.NewFromConfig(sdk, s3.Config{Bucket: c.LogBucket, Prefix: LogPrefix, PathStyle: emulated})
	if err != nil {
		return nil, err
	}
	sched, err := scheduler.New(sdk, scheduler.Config{Group: c.ScheduleGroup, Prefix: c.Prefix, TargetARN: c.FunctionARN,
		RoleARN: c.SchedulerRoleARN, DeadLetterARN: c.DeadLetterARN, MaxRetries: c.ScheduleMaxRetries, MaxEventAge: c.ScheduleMaxEventAge})
	if err != nil {
		return nil, err
	}
	driver, err := c.driver(sdk)
	if err != nil {
		return nil, err
	}
	gh, err := c.github()
	if err != nil {
		return nil, err
	}
	b := &Backend{Backend: provisioner.Backend{Store: store, Signer: signer, Driver: driver, Scheduler: sched, Logs: logs, Identity: gh}}
	if c.GitHub.MemberToken != "" && c.GitHub.Org != "" {
		b.Membership = gh
	}
	if c.GitHub.ClientID != "" {
		b.Device = gh
	}
	if c.GitHub.WebConfigured() {
		b.Web = gh
	}
	if c.GitHub.ActionsAudience != "" {
		b.Actions = gh
	}
	if err := c.jobs(sdk, store, &b.Backend); err != nil {
		return nil, err
	}
	if b.Affiliates, err = c.affiliates(sdk, log); err != nil {
		return nil, err
	}
	if b.Signatures, err = c.signatures(sdk, store); err != nil {
		return nil, err
	}
	if err := c.costs(sdk, &b.Backend, log); err != nil {
		return nil, err
	}
	if b.Budgets, b.LoadBudgets, err = c.budgets(sdk, log); err != nil {
		return nil, err
	}
	if b.Notices, err = c.noticeSinks(sdk); err != nil {
		return nil, err
	}
	return b, nil
}

func (c Config) s3(sdk awssdk.Config) *s3sdk.Client {
	return s3sdk.NewFromConfig(sdk, func(o *s3sdk.Options) { o.UsePathStyle = c.Endpoint != "" })
}

func (c Config) driver(sdk awssdk.Config) (*cloudformation.Driver, error) {
	params := map[string]string{
		"Domain": c.Domain, "HostedZoneId": c.HostedZoneID, "ProvisionerURL": c.Issuer,
		"ProvisionerReleaseURL": c.ClusterReleaseURL, "ProvisionerReleaseSHA256": c.ClusterReleaseSHA256,
		"ImageRegistry": c.ImageRegistry, "ProjectBucket": c.ProjectBucket, "RolePermissionsBoundary": c.ClusterRoleBoundaryARN,
	}
	// Clusters go into an existing VPC when one is named, else each gets its own.
	for param, v := range map[string]string{"VpcId": c.VPCID, "PublicSubnetId": c.PublicSubnetID, "PrivateSubnetId": c.PrivateSubnetID} {
		if v != "" {
			params[param] = v
		}
	}
	// The probe asks the cluster's ILB for its nodes, as the SlideRule
	// client does: /discovery/status needs no token, so a poll signs nothing.
	probe := c.HealthProbe
	if probe == nil {
		probe = &cloudformation.HTTPProbe{}
	}
	cfg := cloudformation.Config{Client: cfnsdk.NewFromConfig(sdk), StackPrefix: c.Prefix, TemplateURL: c.ClusterTemplateURL,
		RoleARN: c.ClusterStackRoleARN, Parameters: params, Tags: map[string]string{"provisioner": c.Prefix}, HealthProbe: probe,
		GroupTemplateURL: c.GroupTemplateURL}
	if c.TemplateBody != "" {
		cfg.TemplateURL, cfg.TemplateBody = "", c.TemplateBody
	}
	if c.GroupTemplateBody != "" {
		cfg.GroupTemplateURL, cfg.GroupTemplateBody = "", c.GroupTemplateBody
	}
	return cloudformation.New(cfg)
}

func (c Config) github() (*github.Provider, error) {
	g := c.GitHub
	if g.APIURL == "" {
		g.APIURL = github.DefaultAPIURL
	}
	if g.WebURL == "" {
		g.WebURL = github.DefaultWebURL
	}
	if g.ActionsIssuer == "" {
		g.ActionsIssuer = github.DefaultActionsIssuer
	}
	return github.New(g)
}

// jobs wires TEST and RELEASE on job stacks (deploy/runner.yaml) when a
// sliderule repository is configured. Machines upload their logs where the
// log store reads them.
func (c Config) jobs(sdk awssdk.Config, store provisioner.Store, b *provisioner.Backend) error {
	if c.SlideruleRepo == "" {
		return nil
	}
	plans, err := plan.Load(c.Plans)
	if err != nil {
		return err
	}
	env := map[string]string{"AWS_REGION": sdk.Region}
	if c.ImageRegistry != "" {
		env["REGISTRY"] = c.ImageRegistry
	}
	runner, err := cloudformation.NewRunner(cloudformation.RunnerConfig{Client: cfnsdk.NewFromConfig(sdk), S3: s3sdk.NewFromConfig(sdk),
		TemplateURL: c.RunnerTemplateURL, TemplateBody: c.RunnerTemplateBody, RoleARN: c.RunnerStackRoleARN,
		Bucket: c.LogBucket, Prefix: LogPrefix, Region: sdk.Region, Name: c.Prefix,
		InstanceProfileARN: c.JobInstanceProfileARN, ReleaseInstanceProfileARN: c.ReleaseInstanceProfileARN,
		SubnetID: c.JobSubnetID, SecurityGroupIDs: c.JobSecurityGroupIDs, InstanceType: c.JobInstanceType,
		RepoURL: c.SlideruleRepo, Domain: c.Domain, ContainerWrapper: cloudformation.BuildEnvWrapper, Env: env, Plans: plans,
		SecretsKey: c.JobSecretsObject,
		// The provisioner's role may create and delete only stacks with this tag.
		Tags: map[string]string{"provisioner": c.Prefix}})
	if err != nil {
		return err
	}
	b.Runner = runner
	b.Reap = func(ctx context.Context) error {
		_, err := runner.Reap(ctx, store.GetJob)
		return err
	}
	return nil
}

// affiliates reads production's affiliates file from S3 (s3://BUCKET/KEY,
// or a KEY in the project bucket: production's PROJECT_FOLDER/affiliates.json)
// at first use, not at a cold start, and again when its ETag changes
// (looked at every 30 s); a bad object keeps the last good list and is
// logged, and with none yet nobody is an affiliate.
func (c Config) affiliates(sdk awssdk.Config, log *slog.Logger) (provisioner.Affiliates, error) {
	if c.Affiliates == "" {
		return nil, nil
	}
	bucket, key := c.ProjectBucket, c.Affiliates
	if strings.HasPrefix(key, "s3://") {
		var err error
		if bucket, key, err = s3.ParseObjectURL(key); err != nil {
			return nil, fmt.Errorf("PROVISIONER_AFFILIATES: %w", err)
		}
	} else if bucket == "" {
		return nil, fmt.Errorf("PROVISIONER_AFFILIATES names a key (%s) but PROVISIONER_PROJECT_BUCKET is not set", key)
	}
	return affiliates.NewLazy("s3://"+bucket+"/"+key, s3.ObjectLoader(c.s3(sdk), bucket, key),
		affiliates.Options{Every: 30 * time.Second, Logger: log}), nil
}

// signatures builds the request signature check from the policy and the
// key sources. Accepted signatures are claimed in the table (a conditional
// put with a TTL), so that of several Lambda instances only one accepts a
// signature. Keys are read on the first signed request.
func (c Config) signatures(sdk awssdk.Config, store *dynamodb.Store) (*signature.Verifier, error) {
	var keys signature.Multi
	if strings.TrimSpace(c.SigningKeys) != "" {
		k, err := signature.ParseKeys([]byte(c.SigningKeys))
		if err != nil {
			return nil, fmt.Errorf("PROVISIONER_SIGNING_KEYS: %v", err)
		}
		keys = append(keys, signature.StaticKeys(k))
	}
	if obj := c.SigningKeysObject; obj != "" {
		client, bucket := c.s3(sdk), c.LogBucket
		load := s3.ObjectLoader(client, bucket, obj)
		keys = append(keys, &signature.FetchedKeys{What: "s3://" + bucket + "/" + obj, Fetch: func(ctx context.Context) ([]byte, error) {
			data, _, err := load(ctx, "")
			return data, err
		}})
	}
	if c.SigningKeysGitHub {
		api := c.GitHub.APIURL
		if api == "" {
			api = github.DefaultAPIURL
		}
		keys = append(keys, &signature.GitHubKeys{APIURL: api})
	}
	policy := c.SignaturePolicy
	if policy == "" {
		policy = provisioner.SignaturesOff
	}
	if policy != provisioner.SignaturesOff && len(keys) == 0 {
		return nil, fmt.Errorf("PROVISIONER_SIGNATURE_POLICY=%s needs PROVISIONER_SIGNING_KEYS, PROVISIONER_SIGNING_KEYS_OBJECT or PROVISIONER_SIGNING_KEYS_GITHUB=true", policy)
	}
	return &signature.Verifier{Policy: policy, Keys: keys, Replays: signature.ReplaysFunc(store.ClaimSignature)}, nil
}
