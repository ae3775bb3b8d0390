package cloudformation

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"provisioner"
	s3logs "provisioner/aws/s3"
	"provisioner/plan"
)

// RunnerS3 is the part of the S3 client the runner uses.
type RunnerS3 interface {
	GetObject(ctx context.Context, in *awss3.GetObjectInput, optFns ...func(*awss3.Options)) (*awss3.GetObjectOutput, error)
	PutObject(ctx context.Context, in *awss3.PutObjectInput, optFns ...func(*awss3.Options)) (*awss3.PutObjectOutput, error)
	HeadObject(ctx context.Context, in *awss3.HeadObjectInput, optFns ...func(*awss3.Options)) (*awss3.HeadObjectOutput, error)
}

// Tag keys on every job stack (and so its instance).
const (
	JobTagDeployment  = "provisioner:deployment"
	JobTagJobID       = "provisioner:job-id"
	JobTagKind        = "provisioner:kind"
	JobTagCluster     = "provisioner:cluster"
	JobTagVersion     = "provisioner:version"
	JobTagRequestedBy = "provisioner:requested-by"
	JobTagDeadline    = "provisioner:deadline"
	JobTagMarket      = "provisioner:market"
	// OnDemandSuffix ends the name of a job's on-demand fallback stack.
	OnDemandSuffix = "-od"
)

// Defaults of RunnerConfig.
const (
	DefaultRunnerName     = "provisioner"
	DefaultInstanceType   = "c7g.2xlarge" // arm64: the SlideRule images are aarch64 only
	DefaultAMIParameter   = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"
	DefaultRepoURL        = "https://github.com/SlideRuleEarth/sliderule.git"
	DefaultJobDomain      = "slideruleearth.io"
	DefaultVolumeSizeGiB  = 100
	DefaultRootDevice     = "/dev/xvda" // Amazon Linux 2023
	DefaultJobTimeout     = 2 * time.Hour
	DefaultUploadInterval = 30 * time.Second
	// UploadGrace is the time a machine has, after the script's hard
	// deadline (plan.HardDeadline), to upload and end itself; past it Poll
	// and Reap delete its stack.
	UploadGrace = 5 * time.Minute
	// ReapGrace spares the stack of a job the store does not know yet
	// (a Start racing the store) from Reap.
	ReapGrace = 10 * time.Minute
	// VisibilityGrace is how long after its start a job's stack may not
	// show yet without the job being lost.
	VisibilityGrace = 5 * time.Minute
	// LostAfter is how long a running machine may go without uploading
	// its log (it does every UploadInterval) before Poll takes it for gone.
	LostAfter = 15 * time.Minute
	// MachineDir is the job's directory on the machine.
	MachineDir = "/var/lib/sliderule-job"
	// userDataParams is how many UserDataN parameters deploy/runner.yaml
	// has, and userDataParamSize the size of each.
	userDataParams    = 6
	userDataParamSize = 4096
	// jobStackTimeout bounds a job stack's creation.
	jobStackTimeout = 30 * time.Minute
)

// Extra variables the runner sets in the job environment.
const (
	envJobURI         = "S3_JOB_URI"
	envLogURI         = "S3_LOG_URI"
	envUploadInterval = "S3_UPLOAD_INTERVAL"
	envUploadGrace    = "UPLOAD_GRACE"
	envHostSetup      = "HOST_SETUP"
	envSecretsURI     = "SECRETS_URI"
)

// machineSecrets is the job's secrets file on the machine (SECRETS_FILE),
// written by the bootstrap from SecretsKey.
const machineSecrets = "secrets.env"

// RunnerConfig configures a Runner.
type RunnerConfig struct {
	// Client calls CloudFormation; S3 reads and writes the jobs' objects.
	Client API
	S3     RunnerS3
	// TemplateBody or TemplateURL (exactly one) is deploy/runner.yaml.
	TemplateBody string
	TemplateURL  string
	// RoleARN, if set, is the service role CloudFormation uses for the
	// job stacks.
	RoleARN string
	// Bucket and Prefix locate the jobs' objects: those of the S3
	// LogStore (aws/s3), so that a job's LogKey there is the machine's log.
	Bucket string
	Prefix string
	// Region is where the machines run, for the AWS CLI on them.
	Region string
	// Name names this deployment: stacks are "<Name>-job-<id>", tagged
	// provisioner:deployment=Name; Reap only touches its own.
	Name string
	// InstanceProfileARN is the machines' instance profile;
	// ReleaseInstanceProfileARN, when set, the one of RELEASE jobs.
	InstanceProfileARN        string
	ReleaseInstanceProfileARN string
	SubnetID                  string
	SecurityGroupIDs          []string
	InstanceType              string
	// AMIParameter is the public SSM parameter naming the image.
	AMIParameter string
	// OnDemand launches on-demand instances; the default is one-time spot.
	OnDemand      bool
	VolumeSizeGiB int32
	RootDevice    string
	// RepoURL, Domain, Organization, ContainerWrapper, HostSetup ("" is
	// DefaultHostSetup, ":" nothing), Env and Plans are the job's, as for
	// the local runner.
	RepoURL          string
	Domain           string
	Organization     string
	ContainerWrapper string
	HostSetup        string
	Env              map[string]string
	// SecretsKey, when set, is the key in Bucket of the operator's job
	// secrets: NAME=VALUE lines (the value is the rest of the line), blank
	// lines and # comments, as serve --job-secrets; stored server-side
	// encrypted. Start reads and checks it; the values go nowhere else: the
	// machine (whose role may read that key) fetches the object itself and
	// writes the job's SECRETS_FILE (mode 0600) before the job script.
	SecretsKey string
	Plans      *plan.Set
	// Tags are added to every stack.
	Tags map[string]string
	// Timeout bounds a job without a deadline; KillGrace and DeadlineGrace
	// are the job script's.
	Timeout        time.Duration
	KillGrace      time.Duration
	DeadlineGrace  time.Duration
	UploadInterval time.Duration
	// DeleteRetries is as for Config.
	DeleteRetries int
	Logger        *slog.Logger
	Now           func() time.Time
}

// Runner is the CloudFormation provisioner.JobRunner: every TEST or
// RELEASE job runs on an EC2 instance of its own, made by a stack of
// deploy/runner.yaml (runner_start.go), observed through S3 and
// CloudFormation only (runner_poll.go: the runner makes no EC2 call), and
// ended by Cancel, its own shutdown or Reap (runner_stop.go). It keeps no
// state of its own: everything is in CloudFormation and S3. The rights it
// and the machines need are in deploy/README.md.
type Runner struct {
	cfg    RunnerConfig
	stacks *Driver // the cluster driver's stack helpers, on the job stacks
	log    *slog.Logger
	prefix string // "" or ends in "/"
	dir    string
}

var _ provisioner.JobRunner = (*Runner)(nil)

var (
	jobIDRE        = regexp.MustCompile(`^[0-9a-f]{8,64}$`)
	subnetRE       = regexp.MustCompile(`^subnet-[0-9a-f]{8,17}$`)
	sgRE           = regexp.MustCompile(`^sg-[0-9a-f]{8,17}$`)
	instanceTypeRE = regexp.MustCompile(`^[a-z][a-z0-9-]*\.[a-z0-9]+$`)
	profileARNRE   = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:instance-profile/[\w+=,.@/-]{1,128}$`)
	runnerNameRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,38}$`)
	ssmParamRE     = regexp.MustCompile(`^/[A-Za-z0-9_.\-/]{1,1000}$`)
	regionRE       = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]$`)
)

// nopS3 lets NewRunner check the bucket and prefix with the LogStore's rules.
type nopS3 struct{ s3logs.API }

// NewRunner checks cfg and returns a Runner. It makes no AWS call.
func NewRunner(cfg RunnerConfig) (*Runner, error) {
	bad := func(format string, args ...any) error {
		return provisioner.Errorf(provisioner.EINVALID, "CloudFormation job runner: "+format, args...)
	}
	if cfg.Client == nil || cfg.S3 == nil {
		return nil, bad("CloudFormation and S3 clients are required")
	}
	if (cfg.TemplateBody == "") == (cfg.TemplateURL == "") {
		return nil, bad("give exactly one of TemplateBody and TemplateURL")
	}
	if _, err := s3logs.New(nopS3{}, s3logs.Config{Bucket: cfg.Bucket, Prefix: cfg.Prefix}); err != nil {
		return nil, bad("%s", provisioner.ErrorMessage(err))
	}
	if cfg.SecretsKey != "" {
		if err := s3logs.ValidKey(cfg.SecretsKey); err != nil || strings.ContainsAny(cfg.SecretsKey, " '\"$`\\") {
			return nil, bad("invalid secrets key %q", truncate(cfg.SecretsKey, 64))
		}
	}
	r := &Runner{cfg: cfg, dir: MachineDir}
	if p := strings.TrimSuffix(cfg.Prefix, "/"); p != "" {
		r.prefix = p + "/"
	}
	c := &r.cfg
	if !regionRE.MatchString(c.Region) {
		return nil, bad("invalid or missing region %q", c.Region)
	}
	if c.Name == "" {
		c.Name = DefaultRunnerName
	}
	if !runnerNameRE.MatchString(c.Name) {
		return nil, bad("invalid name %q: lower-case letters, digits and '-', at most 39", c.Name)
	}
	for _, a := range []string{c.InstanceProfileARN, c.ReleaseInstanceProfileARN} {
		if a != "" && !profileARNRE.MatchString(a) {
			return nil, bad("invalid instance profile ARN %q", a)
		}
	}
	if c.InstanceProfileARN == "" {
		return nil, bad("an instance profile is required (the machines upload their results with it)")
	}
	if c.ReleaseInstanceProfileARN == "" {
		c.ReleaseInstanceProfileARN = c.InstanceProfileARN
	}
	if c.SubnetID != "" && !subnetRE.MatchString(c.SubnetID) {
		return nil, bad("invalid subnet id %q", c.SubnetID)
	}
	for _, sg := range c.SecurityGroupIDs {
		if !sgRE.MatchString(sg) {
			return nil, bad("invalid security group id %q", sg)
		}
	}
	if c.InstanceType == "" {
		c.InstanceType = DefaultInstanceType
	}
	if !instanceTypeRE.MatchString(c.InstanceType) || len(c.InstanceType) > 64 {
		return nil, bad("invalid instance type %q", c.InstanceType)
	}
	if c.AMIParameter == "" {
		c.AMIParameter = DefaultAMIParameter
	}
	if !ssmParamRE.MatchString(c.AMIParameter) || strings.Contains(c.AMIParameter, "//") {
		return nil, bad("invalid SSM parameter name %q", c.AMIParameter)
	}
	if c.VolumeSizeGiB == 0 {
		c.VolumeSizeGiB = DefaultVolumeSizeGiB
	}
	if c.VolumeSizeGiB < 8 || c.VolumeSizeGiB > 16384 {
		return nil, bad("volume size %d GiB is not between 8 and 16384", c.VolumeSizeGiB)
	}
	if c.RootDevice == "" {
		c.RootDevice = DefaultRootDevice
	}
	if !regexp.MustCompile(`^/dev/[a-z0-9]{2,16}$`).MatchString(c.RootDevice) {
		return nil, bad("invalid root device name %q", c.RootDevice)
	}
	if c.RepoURL == "" {
		c.RepoURL = DefaultRepoURL
	}
	if c.Domain == "" {
		c.Domain = DefaultJobDomain
	}
	if c.HostSetup == "" {
		c.HostSetup = DefaultHostSetup
	}
	for _, k := range []string{envJobURI, envLogURI, envUploadInterval, envUploadGrace, envHostSetup} {
		if _, ok := c.Env[k]; ok {
			return nil, bad("the extra variable %s is the runner's own", k)
		}
	}
	if len(c.Tags) > 30 {
		return nil, bad("at most 30 extra tags")
	}
	for k, v := range c.Tags {
		lk := strings.ToLower(k)
		if !tagKeyRE.MatchString(k) || !tagValueRE.MatchString(v) || strings.HasPrefix(lk, "aws:") || strings.HasPrefix(lk, "provisioner:") || k == "Name" || k == TagOwner || k == TagKind {
			return nil, bad("tag %q is not allowed: not Name, not aws:* or provisioner:*, not a cost allocation tag", k)
		}
	}
	if c.Plans == nil {
		var err error
		if c.Plans, err = plan.Default(); err != nil {
			return nil, err
		}
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultJobTimeout
	}
	if c.KillGrace <= 0 {
		c.KillGrace = plan.DefaultKillGrace
	}
	if c.DeadlineGrace <= 0 {
		c.DeadlineGrace = plan.DefaultDeadlineGrace
	}
	if c.UploadInterval <= 0 {
		c.UploadInterval = DefaultUploadInterval
	}
	if c.UploadInterval < time.Second || c.UploadInterval > time.Hour {
		return nil, bad("upload interval %s is not between 1s and 1h", c.UploadInterval)
	}
	if c.DeleteRetries == 0 {
		c.DeleteRetries = DefaultDeleteRetries
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	r.log = c.Logger
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	// The cluster driver's stack helpers (create, describe, delete with
	// retries and FORCE_DELETE_STACK, events) on the job stacks.
	r.stacks = &Driver{cfg: Config{Client: c.Client, StackPrefix: c.Name + "-job", RoleARN: c.RoleARN,
		CreateTimeout: jobStackTimeout, DeleteRetries: c.DeleteRetries, Now: c.Now}}
	// Check the settings once, as jobs with the longest values would use
	// them: no valid job fails for the size of its user data later.
	for _, kind := range []provisioner.JobKind{provisioner.JobTest, provisioner.JobRelease} {
		if _, ok := c.Plans.Plan(kind); !ok {
			continue
		}
		check := provisioner.Job{ID: strings.Repeat("0", 64), Kind: kind, Cluster: strings.Repeat("c", 40),
			Version: strings.Repeat("v", 128), Deadline: c.Now().Add(c.Timeout)}
		if _, err := r.launch(check); err != nil {
			return nil, fmt.Errorf("CloudFormation job runner: %w", err)
		}
	}
	return r, nil
}

// StackName is the job's stack.
func (r *Runner) StackName(jobID string) string { return r.cfg.Name + "-job-" + jobID }

// OnDemandStackName is the job's on-demand stack, made once when its spot
// stack failed for spot capacity or price.
func (r *Runner) OnDemandStackName(jobID string) string { return r.StackName(jobID) + OnDemandSuffix }
