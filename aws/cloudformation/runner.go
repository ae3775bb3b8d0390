package cloudformation

// The AWS job runner: every TEST or RELEASE job runs on an EC2 instance of
// its own, made by a CloudFormation stack of deploy/runner.yaml.
//
// # The machine
//
// Start creates one stack per job, <Name>-job-<id>, tagged
// provisioner:deployment, provisioner:job-id, provisioner:kind,
// provisioner:cluster, provisioner:version, provisioner:requested-by,
// provisioner:deadline (RFC 3339) and provisioner:market, plus
// RunnerConfig.Tags; CloudFormation propagates them to the instance. The
// template's launch template asks for a one-time spot instance (or
// on-demand) whose interruption and shutdown terminate it, IMDSv2 only, an
// encrypted gp3 root volume, the AMI named by a public SSM parameter (a
// parameter of type AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>,
// resolved by CloudFormation), the instance profile, and the job's user
// data: the bootstrap of runner_userdata.go, which schedules `shutdown -h
// +N` for the job's hard deadline before anything else, runs the host
// setup and the job script, and uploads to s3://Bucket/Prefix/:
//
//	jobs/<id>/junit/STEP/N.xml   the JUnit reports the steps wrote
//	<the job's LogKey>          the log (default jobs/<id>/log), also every UploadInterval while it runs
//	jobs/<id>/result.json       the script's result, last; also every UploadInterval while it runs
//
// The runner writes job-plans/<id>.json (the plan the job runs) before it
// creates the stack, and job-plans/<id>.stack (the stack's id) once
// CloudFormation accepted it: the record that the job was launched, which
// outlives the stack.
//
// # Idempotence
//
// Start is idempotent per job id, proven by this code, not by AWS: it
// first describes the job's stack by name (one name per job: a second
// CreateStack of it fails with AlreadyExists, taken as success) and checks
// its provisioner:job-id tag; when there is none, a job-plans/<id>.stack
// record means its stack ran and was deleted, and it is not created again.
// CreateStack also carries a ClientRequestToken derived from the job id.
//
// # Observing a job without EC2
//
// The runner makes no EC2 call (the EC2 SDK is not in the binary). Poll
// reads the result from S3 and evaluates it; without a final result it
// looks at the stack: CREATE_IN_PROGRESS is provisioning, CREATE_COMPLETE
// is running, a failed or rolled-back create is an error (CloudFormation's
// reason is the job's), except a spot stack's failed for spot capacity or
// price (IsSpotCapacityFailure of its reason or its instance's event):
// Poll then records job-plans/<id>.ondemand, deletes it and creates
// <Name>-job-<id>-od with Market=on-demand and the same deadline and plan,
// once per job (the record is checked first; a new name, not the spot
// one reused, so there is no wait for the delete and its name and request
// token make the create idempotent). An instance that ended
// without a final result (spot interruption, crash) leaves its stack
// CREATE_COMPLETE; the machine's heartbeat tells: it uploads its log every
// UploadInterval, so a log older than LostAfter (and a stack older than
// that) means the machine is gone: Poll deletes the stack and says error.
// A stack alive past the job's hard deadline is deleted and the job
// timed_out. Cancel records job-plans/<id>.cancelled and deletes the
// stack. Reap deletes this deployment's job stacks whose job is over,
// unknown or past its hard deadline, and retries stacks whose delete
// failed (FORCE_DELETE_STACK after DeleteRetries), as the cluster driver
// does.
//
// # Rights
//
// The instance profile allows s3:PutObject on PREFIX/jobs/* (no reads), ECR
// pulls of the build environment, and for RELEASE pushes of the cluster images. The
// provisioner needs cloudformation:CreateStack, DescribeStacks,
// DescribeStackEvents and DeleteStack on <Name>-job-* stacks, s3:GetObject
// on PREFIX/jobs/* and PREFIX/job-plans/*, s3:PutObject on
// PREFIX/job-plans/*, and either the EC2 rights the stack needs
// (launch templates, RunInstances, TerminateInstances, iam:PassRole on the
// instance roles, ssm:GetParameters on the AMI parameter) or a stack
// service role (RunnerConfig.RoleARN) that has them, plus iam:PassRole on
// that role.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	awss3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

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

// Runner is the CloudFormation provisioner.JobRunner. It keeps no state of
// its own: everything is in CloudFormation and S3.
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
		if !tagKeyRE.MatchString(k) || !tagValueRE.MatchString(v) || strings.HasPrefix(lk, "aws:") || strings.HasPrefix(lk, "provisioner:") || k == "Name" {
			return nil, bad("tag %q is not allowed: not Name, not aws:* or provisioner:*", k)
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
	// The cluster driver's stack helpers (describe, delete with retries
	// and FORCE_DELETE_STACK, events) on the job stacks.
	r.stacks = &Driver{cfg: Config{Client: c.Client, StackPrefix: c.Name + "-job", RoleARN: c.RoleARN,
		DeleteRetries: c.DeleteRetries, Now: c.Now}}
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

// jobSpec is everything of one launch that needs no AWS call.
type jobSpec struct {
	job      provisioner.Job
	deadline time.Time
	plan     plan.Plan
	userData []byte
	profile  string
}

// launch validates a job and renders its user data, before any AWS call.
func (r *Runner) launch(j provisioner.Job) (*jobSpec, error) { return r.launchPlan(j, nil) }

// launchPlan is launch with the plan given (nil: the plan for the job's
// kind and version now).
func (r *Runner) launchPlan(j provisioner.Job, stored *plan.Plan) (*jobSpec, error) {
	if !jobIDRE.MatchString(j.ID) {
		return nil, provisioner.Errorf(provisioner.EINVALID, "invalid job id %q", truncate(j.ID, 64))
	}
	logKey := r.logKey(j)
	err := s3logs.ValidKey(logKey)
	if err != nil {
		return nil, err
	}
	if len(j.RequestedBy) > 256 || !tagValueRE.MatchString(j.RequestedBy) {
		return nil, provisioner.Errorf(provisioner.EINVALID, "requester name too long or not a tag value")
	}
	if !tagValueRE.MatchString(j.Version) || !tagValueRE.MatchString(j.Cluster) {
		return nil, provisioner.Errorf(provisioner.EINVALID, "version or cluster is not a tag value")
	}
	var p plan.Plan
	if stored != nil {
		p = *stored
	} else if p, err = r.cfg.Plans.For(j.Kind, j.Version); err != nil {
		return nil, err
	}
	deadline := j.Deadline
	if deadline.IsZero() {
		deadline = r.cfg.Now().Add(r.cfg.Timeout)
	}
	deadline = deadline.Truncate(time.Second)
	env, err := plan.Env(r.inputs(j, logKey, deadline))
	if err != nil {
		return nil, err
	}
	script, err := plan.Script(p)
	if err != nil {
		return nil, err
	}
	ud, err := userData(r.dir, env, script)
	if err != nil {
		return nil, err
	}
	if n := len(encodeUserData(ud)); n > userDataParams*userDataParamSize {
		return nil, provisioner.Errorf(provisioner.EINVALID, "the job's user data is %d bytes in base64; the template takes %d", n, userDataParams*userDataParamSize)
	}
	profile := r.cfg.InstanceProfileARN
	if j.Kind == provisioner.JobRelease {
		profile = r.cfg.ReleaseInstanceProfileARN
	}
	return &jobSpec{job: j, deadline: deadline, plan: p, userData: ud, profile: profile}, nil
}

func (r *Runner) logKey(j provisioner.Job) string {
	if j.LogKey != "" {
		return j.LogKey
	}
	return "jobs/" + j.ID + "/log"
}

func (r *Runner) inputs(j provisioner.Job, logKey string, deadline time.Time) plan.Inputs {
	extra := make(map[string]string, len(r.cfg.Env)+7)
	for k, v := range r.cfg.Env {
		extra[k] = v
	}
	for _, k := range []string{"AWS_REGION", "AWS_DEFAULT_REGION"} {
		if _, ok := extra[k]; !ok {
			extra[k] = r.cfg.Region
		}
	}
	extra[envJobURI] = "s3://" + r.cfg.Bucket + "/" + r.objectKey("jobs/"+j.ID)
	extra[envLogURI] = "s3://" + r.cfg.Bucket + "/" + r.objectKey(logKey)
	extra[envUploadInterval] = strconv.Itoa(int(r.cfg.UploadInterval.Round(time.Second) / time.Second))
	extra[envUploadGrace] = strconv.Itoa(int(UploadGrace / time.Second))
	extra[envHostSetup] = r.cfg.HostSetup
	secretsFile := ""
	if r.cfg.SecretsKey != "" {
		extra[envSecretsURI] = "s3://" + r.cfg.Bucket + "/" + r.cfg.SecretsKey
		secretsFile = r.dir + "/" + machineSecrets
	}
	return plan.Inputs{
		SecretsFile: secretsFile,
		JobID:       j.ID, Kind: j.Kind, Cluster: j.Cluster, Organization: r.cfg.Organization, Version: j.Version,
		RepoURL: r.cfg.RepoURL, Domain: r.cfg.Domain, WorkDir: r.dir + "/work", Deadline: deadline,
		KillGrace: r.cfg.KillGrace.Round(time.Second), DeadlineGrace: r.cfg.DeadlineGrace.Round(time.Second),
		ContainerWrapper: r.cfg.ContainerWrapper, OnExit: onExitCommand(r.dir), Extra: extra,
	}
}

func (r *Runner) objectKey(key string) string { return r.prefix + key }

// planKey, stackKey and cancelKey are the runner's own records of a job,
// outside jobs/, which the machines may write.
func (r *Runner) planKey(id string) string   { return r.objectKey("job-plans/" + id + ".json") }
func (r *Runner) stackKey(id string) string  { return r.objectKey("job-plans/" + id + ".stack") }
func (r *Runner) cancelKey(id string) string { return r.objectKey("job-plans/" + id + ".cancelled") }
func (r *Runner) fallbackKey(id string) string {
	return r.objectKey("job-plans/" + id + ".ondemand")
}

// hardDeadline is when a machine must be gone.
func (r *Runner) hardDeadline(deadline time.Time) time.Time {
	return plan.HardDeadline(deadline, r.cfg.KillGrace.Round(time.Second), r.cfg.DeadlineGrace.Round(time.Second)).Add(UploadGrace)
}

// JobToken is the ClientRequestToken of a job's CreateStack.
func JobToken(name, id string) string {
	sum := sha256.Sum256([]byte(name + "\x00" + id))
	return "job-" + hex.EncodeToString(sum[:20])
}

// Start creates the job's stack, or returns the one it created before. The
// job's "instance" is its stack's name.
func (r *Runner) Start(ctx context.Context, j provisioner.Job) (string, error) {
	s, err := r.launch(j)
	if err != nil {
		return "", err
	}
	name := r.StackName(j.ID)
	st, err := r.jobStack(ctx, j.ID)
	if err != nil {
		return "", err
	}
	if st != nil {
		return name, nil
	}
	launched, err := r.get(ctx, r.stackKey(j.ID), 4096)
	if err != nil {
		return "", err
	}
	if launched != nil {
		// Its stack ran and is gone: a job never runs twice.
		r.log.Warn("job was launched before and its stack is gone: not launching again", "job", j.ID, "stack", string(launched))
		return name, nil
	}
	if err := r.checkSecrets(ctx); err != nil {
		return "", err
	}
	if err := r.put(ctx, r.planKey(j.ID), "application/json", mustJSON(s.plan)); err != nil {
		return "", err
	}
	market := "spot"
	if r.cfg.OnDemand {
		market = "on-demand"
	}
	stackID, existed, err := r.createStack(ctx, s, name, JobToken(r.cfg.Name, j.ID), market)
	if err != nil || existed {
		return name, err
	}
	if err := r.put(ctx, r.stackKey(j.ID), "text/plain", []byte(stackID)); err != nil {
		r.log.Warn("recording a job's stack", "job", j.ID, "err", err)
	}
	r.log.Info("job stack created", "job", j.ID, "kind", j.Kind, "version", j.Version, "cluster", j.Cluster,
		"stack", name, "market", market, "type", r.cfg.InstanceType, "deadline", s.deadline)
	return name, nil
}

// createStack creates a job stack: its id, or existed if a concurrent
// call of this job created it.
func (r *Runner) createStack(ctx context.Context, s *jobSpec, name, token, market string) (stackID string, existed bool, err error) {
	j := s.job
	in := &cfn.CreateStackInput{
		StackName:          aws.String(name),
		Parameters:         r.parameters(s, market),
		Tags:               r.jobTags(s, market),
		ClientRequestToken: aws.String(token),
		// DELETE would lose CloudFormation's reason with the stack; Poll
		// reports it, then deletes the stack.
		OnFailure:        types.OnFailureRollback,
		TimeoutInMinutes: aws.Int32(30),
	}
	if r.cfg.TemplateBody != "" {
		in.TemplateBody = aws.String(r.cfg.TemplateBody)
	} else {
		in.TemplateURL = aws.String(r.cfg.TemplateURL)
	}
	if r.cfg.RoleARN != "" {
		in.RoleARN = aws.String(r.cfg.RoleARN)
	}
	out, err := r.cfg.Client.CreateStack(ctx, in)
	switch {
	case err == nil:
		return aws.ToString(out.StackId), false, nil
	case isAlreadyExists(err):
		// A concurrent call for this job (or a stranger's stack: refused).
		st, derr := r.namedJobStack(ctx, j.ID, name)
		if derr != nil {
			return "", false, derr
		}
		if st == nil {
			return "", false, provisioner.Errorf(provisioner.ECONFLICT, "stack %s exists but is not job %s's", name, j.ID)
		}
		return aws.ToString(st.StackId), true, nil
	default:
		return "", false, cfnError(ctx, err, "CloudFormation did not create the job's machine", "CreateStack "+name)
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// parameters are deploy/runner.yaml's parameters for one job.
func (r *Runner) parameters(s *jobSpec, market string) []types.Parameter {
	m := map[string]string{
		"ImageId":            r.cfg.AMIParameter,
		"InstanceType":       r.cfg.InstanceType,
		"InstanceProfileArn": s.profile,
		"SubnetId":           r.cfg.SubnetID,
		"SecurityGroupIds":   strings.Join(r.cfg.SecurityGroupIDs, ","),
		"Market":             market,
		"VolumeSizeGiB":      strconv.Itoa(int(r.cfg.VolumeSizeGiB)),
		"RootDevice":         r.cfg.RootDevice,
	}
	for i, chunk := range splitUserData(encodeUserData(s.userData)) {
		m["UserData"+strconv.Itoa(i)] = chunk
	}
	return sortedParams(m)
}

// splitUserData cuts base64 user data into the template's parameters.
func splitUserData(enc string) []string {
	out := make([]string, userDataParams)
	for i := range out {
		n := min(len(enc), userDataParamSize)
		out[i], enc = enc[:n], enc[n:]
	}
	return out
}

func (r *Runner) jobTags(s *jobSpec, market string) []types.Tag {
	m := clone(r.cfg.Tags)
	if m == nil {
		m = map[string]string{}
	}
	j := s.job
	m[JobTagDeployment] = r.cfg.Name
	m[JobTagJobID] = j.ID
	m[JobTagKind] = string(j.Kind)
	m[JobTagCluster] = j.Cluster
	m[JobTagVersion] = j.Version
	m[JobTagRequestedBy] = j.RequestedBy
	m[JobTagDeadline] = s.deadline.UTC().Format(time.RFC3339)
	m[JobTagMarket] = market
	return sortedTags(m)
}

// jobStack is the job's current stack (the on-demand one once the job
// fell back to it) if it is there and this deployment's job's.
func (r *Runner) jobStack(ctx context.Context, id string) (*types.Stack, error) {
	st, _, _, err := r.currentStack(ctx, id)
	return st, err
}

// currentStack is the job's current stack, its name and the on-demand
// fallback record (nil: the job has not fallen back).
func (r *Runner) currentStack(ctx context.Context, id string) (st *types.Stack, name string, fb *fallbackRecord, err error) {
	b, err := r.get(ctx, r.fallbackKey(id), 4096)
	if err != nil {
		return nil, "", nil, err
	}
	name = r.StackName(id)
	if b != nil {
		fb = parseFallback(b)
		name = r.OnDemandStackName(id)
	}
	st, err = r.namedJobStack(ctx, id, name)
	return st, name, fb, err
}

// namedJobStack is the job stack name if it is there and this
// deployment's job's.
func (r *Runner) namedJobStack(ctx context.Context, id, name string) (*types.Stack, error) {
	st, err := r.stacks.describe(ctx, name)
	if err != nil || st == nil {
		return nil, err
	}
	t := stackTags(st)
	if t[JobTagDeployment] != r.cfg.Name || t[JobTagJobID] != id {
		return nil, provisioner.Errorf(provisioner.ECONFLICT, "stack %s exists but is not job %s's; the provisioner leaves it alone", name, id)
	}
	if st.StackStatus == types.StackStatusDeleteComplete {
		return nil, nil
	}
	return st, nil
}

// Poll observes a job: its result in S3 first, then its stack.
func (r *Runner) Poll(ctx context.Context, j provisioner.Job) (provisioner.JobStatus, error) {
	if !jobIDRE.MatchString(j.ID) {
		return provisioner.JobStatus{}, provisioner.Errorf(provisioner.EINVALID, "invalid job id %q", truncate(j.ID, 64))
	}
	res, bad, err := r.result(ctx, j.ID)
	if err != nil {
		return provisioner.JobStatus{}, err
	}
	if res != nil && res.State != plan.ScriptRunning {
		return r.finish(ctx, j, res)
	}
	var steps []provisioner.StepResult
	if res != nil {
		st, err := r.evaluate(ctx, j, res)
		if err != nil {
			return provisioner.JobStatus{}, err
		}
		steps = st.Steps
	}
	cancelled, err := r.get(ctx, r.cancelKey(j.ID), 4096)
	if err != nil {
		return provisioner.JobStatus{}, err
	}
	st, name, fb, err := r.currentStack(ctx, j.ID)
	if err != nil {
		return provisioner.JobStatus{}, err
	}
	if cancelled != nil {
		if st != nil {
			if err := r.deleteStack(ctx, st); err != nil {
				return provisioner.JobStatus{}, err
			}
		}
		return jobEnded(provisioner.JobCancelled, "cancelled", steps), nil
	}
	now := r.cfg.Now()
	deadline := j.Deadline
	if deadline.IsZero() && st != nil {
		deadline, _ = time.Parse(time.RFC3339, stackTags(st)[JobTagDeadline])
	}
	if st == nil && fb != nil {
		if !deadline.IsZero() && now.After(r.hardDeadline(deadline)) {
			return r.gone(ctx, j, name, "its on-demand stack is gone", deadline, bad, steps)
		}
		if fb.stackID == "" {
			// A fallback interrupted before CloudFormation took the
			// on-demand stack: finish it (same name and token).
			return r.fallBack(ctx, j, nil, fb, deadline, "", steps)
		}
		if now.Sub(fb.at) < VisibilityGrace {
			return provisioner.JobStatus{State: provisioner.JobProvisioning, Steps: steps}, nil
		}
		return r.gone(ctx, j, name, "its on-demand stack is gone", deadline, bad, steps)
	}
	if st == nil {
		if started := later(j.StartedAt, j.CreatedAt); !started.IsZero() && now.Sub(started) < VisibilityGrace {
			return provisioner.JobStatus{State: provisioner.JobProvisioning}, nil
		}
		if j.Instance == "" {
			return provisioner.JobStatus{}, provisioner.Errorf(provisioner.ENOTFOUND, "job %s has no machine", j.ID)
		}
		return r.gone(ctx, j, name, "its stack is gone", deadline, bad, steps)
	}
	if !deadline.IsZero() && now.After(r.hardDeadline(deadline)) {
		r.log.Warn("job stack alive past its deadline: deleting it", "job", j.ID, "stack", name, "deadline", deadline)
		if err := r.deleteStack(ctx, st); err != nil {
			return provisioner.JobStatus{}, err
		}
		return jobEnded(provisioner.JobTimedOut, fmt.Sprintf("the job did not end by its deadline (%s); stack %s was deleted",
			deadline.UTC().Format(time.RFC3339), name), steps), nil
	}
	switch status := st.StackStatus; status {
	case types.StackStatusCreateInProgress:
		return provisioner.JobStatus{State: provisioner.JobProvisioning, Steps: steps}, nil
	case types.StackStatusCreateComplete:
		last, err := r.heartbeat(ctx, j)
		if err != nil {
			return provisioner.JobStatus{}, err
		}
		if created := aws.ToTime(st.CreationTime); last.Before(created) {
			last = created
		}
		if now.Sub(last) > LostAfter {
			if err := r.deleteStack(ctx, st); err != nil {
				return provisioner.JobStatus{}, err
			}
			return r.gone(ctx, j, name, fmt.Sprintf("no upload from the machine since %s", last.UTC().Format(time.RFC3339)), deadline, bad, steps)
		}
		return provisioner.JobStatus{State: provisioner.JobRunning, Steps: steps}, nil
	case types.StackStatusDeleteInProgress:
		return r.gone(ctx, j, name, "its stack is being deleted", deadline, bad, steps)
	default:
		// The create failed (CloudFormation's reason says why: no spot
		// capacity, a bad image, rights): the job cannot run.
		why := "stack " + name + " is " + string(status)
		if reason := aws.ToString(st.StackStatusReason); reason != "" {
			why += ": " + reason
		}
		if fb == nil && failedCreate(status) && stackTags(st)[JobTagMarket] == "spot" {
			reason, err := r.capacityFailure(ctx, st)
			if err != nil {
				return provisioner.JobStatus{}, err
			}
			if reason != "" {
				return r.fallBack(ctx, j, st, nil, deadline, reason, steps)
			}
		}
		if fb != nil {
			why += " (after the spot stack failed for capacity; no further fallback)"
		}
		if deletable(status) {
			if err := r.deleteStack(ctx, st); err != nil {
				r.log.Warn("deleting a failed job stack", "job", j.ID, "err", err)
			}
		} else if strings.HasSuffix(string(status), "_IN_PROGRESS") {
			return provisioner.JobStatus{State: provisioner.JobProvisioning, Steps: steps}, nil
		}
		return jobEnded(provisioner.JobError, why, steps), nil
	}
}

// fallbackRecord is job-plans/<id>.ondemand: written ("pending") before
// the on-demand stack is created, then its stack id. Its existence means
// the job fell back, once: no later Poll makes another stack.
type fallbackRecord struct {
	stackID string // "" while pending
	at      time.Time
}

func (f fallbackRecord) bytes() []byte {
	id := f.stackID
	if id == "" {
		id = "pending"
	}
	return []byte(id + "\n" + f.at.UTC().Format(time.RFC3339) + "\n")
}

func parseFallback(b []byte) *fallbackRecord {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	f := &fallbackRecord{}
	if lines[0] != "pending" {
		f.stackID = lines[0]
	}
	if len(lines) > 1 {
		f.at, _ = time.Parse(time.RFC3339, lines[1])
	}
	return f
}

// failedCreate is a create that ended failed (not one still rolling back).
func failedCreate(s types.StackStatus) bool {
	return s == types.StackStatusCreateFailed || s == types.StackStatusRollbackComplete || s == types.StackStatusRollbackFailed
}

// capacityCodes are EC2's answers (error codes of RunInstances and spot
// request status codes) that mean no spot capacity at our price now:
// another market may have it. Matched case-sensitively as written.
var capacityCodes = []string{
	"InsufficientInstanceCapacity",
	"UnfulfillableCapacity",
	"SpotMaxPriceTooLow",
	"MaxSpotInstanceCountExceeded",
	"capacity-not-available",
	"capacity-oversubscribed",
	"price-too-low",
}

// IsSpotCapacityFailure says whether a CloudFormation status reason is a
// spot capacity or price failure.
func IsSpotCapacityFailure(reason string) bool {
	for _, c := range capacityCodes {
		if strings.Contains(reason, c) {
			return true
		}
	}
	return false
}

// capacityFailure is the reason of a failed spot stack when it failed for
// spot capacity or price: the stack's reason, or its instance's failed
// create event; "" otherwise.
func (r *Runner) capacityFailure(ctx context.Context, st *types.Stack) (string, error) {
	if reason := aws.ToString(st.StackStatusReason); IsSpotCapacityFailure(reason) {
		return reason, nil
	}
	found := ""
	err := r.stacks.events(ctx, aws.ToString(st.StackId), 200, func(e types.StackEvent) bool {
		if e.ResourceStatus == types.ResourceStatusCreateFailed && aws.ToString(e.ResourceType) == "AWS::EC2::Instance" &&
			IsSpotCapacityFailure(aws.ToString(e.ResourceStatusReason)) {
			found = aws.ToString(e.ResourceStatusReason)
			return false
		}
		return true
	})
	return found, err
}

// fallBack replaces a job's spot stack that failed for capacity with an
// on-demand stack, <name>-od, once: the record is written first, so no
// other Poll makes a third stack; a record still pending (an interrupted
// fallback) is finished with the same stack name and request token. The
// job keeps its deadline and its stored plan.
func (r *Runner) fallBack(ctx context.Context, j provisioner.Job, spot *types.Stack, fb *fallbackRecord, deadline time.Time, reason string, steps []provisioner.StepResult) (provisioner.JobStatus, error) {
	if fb == nil {
		fb = &fallbackRecord{at: r.cfg.Now()}
		if err := r.put(ctx, r.fallbackKey(j.ID), "text/plain", fb.bytes()); err != nil {
			return provisioner.JobStatus{}, err
		}
		r.log.Warn("job's spot stack failed for capacity: falling back to on-demand", "job", j.ID,
			"stack", aws.ToString(spot.StackName), "reason", reason)
	}
	if spot != nil {
		if err := r.deleteStack(ctx, spot); err != nil {
			r.log.Warn("deleting a job's failed spot stack", "job", j.ID, "err", err)
		}
	}
	if !deadline.IsZero() {
		j.Deadline = deadline
	}
	p, err := r.jobPlan(ctx, j)
	if err != nil {
		return provisioner.JobStatus{}, err
	}
	s, err := r.launchPlan(j, &p)
	if err != nil {
		return provisioner.JobStatus{}, err
	}
	name := r.OnDemandStackName(j.ID)
	stackID, _, err := r.createStack(ctx, s, name, JobToken(r.cfg.Name, j.ID+OnDemandSuffix), "on-demand")
	if err != nil {
		return provisioner.JobStatus{}, err
	}
	fb.stackID, fb.at = stackID, r.cfg.Now()
	if err := r.put(ctx, r.fallbackKey(j.ID), "text/plain", fb.bytes()); err != nil {
		r.log.Warn("recording a job's on-demand stack", "job", j.ID, "err", err)
	}
	r.log.Info("job on-demand stack created", "job", j.ID, "stack", name, "deadline", s.deadline)
	return provisioner.JobStatus{State: provisioner.JobProvisioning, Steps: steps}, nil
}

// gone reports a job whose machine ended: its result if one arrived
// meanwhile, else an error or a time-out.
func (r *Runner) gone(ctx context.Context, j provisioner.Job, name, what string, deadline time.Time, bad error, steps []provisioner.StepResult) (provisioner.JobStatus, error) {
	if res, bad2, err := r.result(ctx, j.ID); err != nil {
		return provisioner.JobStatus{}, err
	} else if res != nil && res.State != plan.ScriptRunning {
		return r.finish(ctx, j, res)
	} else if bad2 != nil {
		bad = bad2
	}
	switch {
	case bad != nil:
		return jobEnded(provisioner.JobError, fmt.Sprintf("the machine of stack %s ended with an unreadable result (%v); see the job log", name, bad), steps), nil
	case !deadline.IsZero() && !r.cfg.Now().Before(deadline):
		return jobEnded(provisioner.JobTimedOut, fmt.Sprintf("the machine of stack %s ended at the job's deadline without a result (%s)", name, what), steps), nil
	}
	return jobEnded(provisioner.JobError, fmt.Sprintf("the machine of stack %s ended without a result (spot interruption?): %s", name, what), steps), nil
}

// heartbeat is when the machine last uploaded the job's log (zero: never).
func (r *Runner) heartbeat(ctx context.Context, j provisioner.Job) (time.Time, error) {
	key := r.objectKey(r.logKey(j))
	out, err := r.cfg.S3.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(r.cfg.Bucket), Key: aws.String(key)})
	if s3NotFound(err) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, cfnError(ctx, err, "cannot read the job's log", "head "+key)
	}
	return aws.ToTime(out.LastModified), nil
}

// finish evaluates a final result and deletes the stack (the machine ends
// itself; this is the backstop, Reap the next one).
func (r *Runner) finish(ctx context.Context, j provisioner.Job, res *plan.Result) (provisioner.JobStatus, error) {
	st, err := r.evaluate(ctx, j, res)
	if err != nil {
		return st, err
	}
	if s, err := r.jobStack(ctx, j.ID); err != nil {
		r.log.Warn("finding a finished job's stack", "job", j.ID, "err", err)
	} else if s != nil {
		if err := r.deleteStack(ctx, s); err != nil {
			r.log.Warn("deleting a finished job's stack", "job", j.ID, "err", err)
		}
	}
	return st, nil
}

// deleteStack deletes a job stack with the cluster driver's rules: by id,
// idempotent, retried then forced after DELETE_FAILED; one busy rolling
// back is left for the next call.
func (r *Runner) deleteStack(ctx context.Context, st *types.Stack) error {
	switch status := st.StackStatus; {
	case status == types.StackStatusDeleteComplete || status == types.StackStatusDeleteInProgress:
		return nil
	case strings.HasSuffix(string(status), "_IN_PROGRESS") && status != types.StackStatusCreateInProgress &&
		status != types.StackStatusReviewInProgress:
		return provisioner.Errorf(provisioner.EUNAVAILABLE, "job stack %s is %s; it can be deleted once that ends", aws.ToString(st.StackName), status)
	}
	return r.stacks.delete(ctx, st)
}

// jobEnded is a final status; the step a stopped job was running ends with it.
func jobEnded(state provisioner.JobState, reason string, steps []provisioner.StepResult) provisioner.JobStatus {
	for i := range steps {
		if steps[i].Status == plan.StepRunning || steps[i].Status == plan.StepFailed && steps[i].ExitCode == -1 {
			switch state {
			case provisioner.JobTimedOut:
				steps[i].Status = plan.StepTimedOut
			case provisioner.JobCancelled:
				steps[i].Status = plan.StepCancelled
			default:
				steps[i].Status = plan.StepFailed
			}
		}
	}
	return provisioner.JobStatus{State: state, Reason: reason, Steps: steps}
}

// Cancel records the cancellation (so that Poll says cancelled rather than
// lost) and deletes the job's stack; a job without one is left as it is.
func (r *Runner) Cancel(ctx context.Context, j provisioner.Job) error {
	if !jobIDRE.MatchString(j.ID) {
		return provisioner.Errorf(provisioner.EINVALID, "invalid job id %q", truncate(j.ID, 64))
	}
	st, err := r.jobStack(ctx, j.ID)
	if err != nil || st == nil || st.StackStatus == types.StackStatusDeleteInProgress {
		return err
	}
	if err := r.put(ctx, r.cancelKey(j.ID), "text/plain", []byte(r.cfg.Now().UTC().Format(time.RFC3339))); err != nil {
		return err
	}
	if err := r.deleteStack(ctx, st); err != nil {
		return err
	}
	r.log.Info("job cancelled: stack deleted", "job", j.ID, "stack", aws.ToString(st.StackName))
	return nil
}

// Reaped is a stack Reap deleted, and why.
type Reaped struct {
	Stack  string
	JobID  string
	Reason string
}

// JobLookup finds a job by id; an error with code ENOTFOUND means there is
// no such job (a provisioner.JobStore's GetJob is one).
type JobLookup func(ctx context.Context, id string) (provisioner.Job, error)

// Reap deletes this deployment's job stacks that outlived their job: past
// the hard deadline of their provisioner:deadline tag or of the job, the
// job final or unknown (and the stack older than ReapGrace). A stack whose
// delete failed is deleted again (forced after DeleteRetries). A stack
// whose job cannot be looked up now is left for the next sweep.
func (r *Runner) Reap(ctx context.Context, lookup JobLookup) ([]Reaped, error) {
	var all []types.Stack
	pages := cfn.NewDescribeStacksPaginator(r.cfg.Client, &cfn.DescribeStacksInput{})
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return nil, cfnError(ctx, err, "CloudFormation did not list the job stacks", "DescribeStacks")
		}
		all = append(all, out.Stacks...)
	}
	now := r.cfg.Now()
	var reaped []Reaped
	var errs []error
	for i := range all {
		st := &all[i]
		t := stackTags(st)
		jobID := t[JobTagJobID]
		if sn := aws.ToString(st.StackName); t[JobTagDeployment] != r.cfg.Name || jobID == "" ||
			sn != r.StackName(jobID) && sn != r.OnDemandStackName(jobID) {
			continue
		}
		if st.StackStatus == types.StackStatusDeleteComplete || st.StackStatus == types.StackStatusDeleteInProgress {
			continue
		}
		why := ""
		deadline, derr := time.Parse(time.RFC3339, t[JobTagDeadline])
		switch {
		case st.StackStatus == types.StackStatusDeleteFailed:
			why = "its delete failed"
		case derr == nil && now.After(r.hardDeadline(deadline)):
			why = "past the job's deadline " + deadline.UTC().Format(time.RFC3339)
		default:
			j, err := lookup(ctx, jobID)
			switch {
			case provisioner.ErrorCode(err) == provisioner.ENOTFOUND:
				if now.Sub(aws.ToTime(st.CreationTime)) > ReapGrace {
					why = "the job does not exist"
				}
			case err != nil:
				errs = append(errs, err)
			case j.State.Final():
				why = "the job is " + string(j.State)
			case !j.Deadline.IsZero() && now.After(r.hardDeadline(j.Deadline)):
				why = "past the job's deadline " + j.Deadline.UTC().Format(time.RFC3339)
			}
		}
		if why == "" {
			continue
		}
		if err := r.deleteStack(ctx, st); err != nil {
			errs = append(errs, err)
			continue
		}
		r.log.Warn("reaped a job stack", "stack", aws.ToString(st.StackName), "job", jobID, "reason", why)
		reaped = append(reaped, Reaped{Stack: aws.ToString(st.StackName), JobID: jobID, Reason: why})
	}
	if err := errors.Join(errs...); err != nil {
		return reaped, fmt.Errorf("reaping job stacks: %w", err)
	}
	return reaped, nil
}

// jobPlan is the plan a job runs: what Start stored, else the plan for its
// kind and version now.
func (r *Runner) jobPlan(ctx context.Context, j provisioner.Job) (plan.Plan, error) {
	b, err := r.get(ctx, r.planKey(j.ID), 4<<20)
	if err != nil {
		return plan.Plan{}, err
	}
	if b != nil {
		var p plan.Plan
		if err := json.Unmarshal(b, &p); err == nil && p.Validate() == nil && p.Kind == j.Kind {
			return p, nil
		}
		r.log.Warn("unreadable stored plan: using the current one", "job", j.ID)
	}
	return r.cfg.Plans.For(j.Kind, j.Version)
}

func (r *Runner) put(ctx context.Context, key, contentType string, b []byte) error {
	_, err := r.cfg.S3.PutObject(ctx, &awss3.PutObjectInput{
		Bucket: aws.String(r.cfg.Bucket), Key: aws.String(key), Body: bytes.NewReader(b),
		ContentLength: aws.Int64(int64(len(b))), ContentType: aws.String(contentType),
	})
	if err != nil {
		return cfnError(ctx, err, "cannot store the job's record", "put "+key)
	}
	return nil
}

// get reads an object of at most limit bytes; nil if there is none.
func (r *Runner) get(ctx context.Context, key string, limit int64) ([]byte, error) {
	out, err := r.cfg.S3.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(r.cfg.Bucket), Key: aws.String(key)})
	if s3NotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, cfnError(ctx, err, "cannot read the job's results", "get "+key)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(io.LimitReader(out.Body, limit+1))
	if err != nil {
		return nil, cfnError(ctx, err, "cannot read the job's results", "read "+key)
	}
	if int64(len(b)) > limit {
		return nil, provisioner.Errorf(provisioner.EINTERNAL, "%s is larger than %d bytes", key, limit)
	}
	return b, nil
}

// result reads the job's result.json: nil if there is none; bad if it is
// unreadable; err if S3 failed.
func (r *Runner) result(ctx context.Context, id string) (res *plan.Result, bad error, err error) {
	b, err := r.get(ctx, r.objectKey("jobs/"+id+"/result.json"), plan.MaxResultSize)
	if err != nil || b == nil {
		return nil, nil, err
	}
	res, bad = plan.ParseResult(b)
	if bad == nil && res.JobID != id {
		res, bad = nil, fmt.Errorf("the result is job %s's", truncate(res.JobID, 64))
	}
	return res, bad, nil
}

// evaluate applies the plan's rule to a result, reading JUnit reports from
// S3. An S3 failure (not a missing report) is an error.
func (r *Runner) evaluate(ctx context.Context, j provisioner.Job, res *plan.Result) (provisioner.JobStatus, error) {
	p, err := r.jobPlan(ctx, j)
	if err != nil {
		return provisioner.JobStatus{}, err
	}
	var s3err error
	st := plan.Evaluate(p, res, func(rel string) (io.ReadCloser, error) {
		key := r.objectKey("jobs/" + j.ID + "/" + rel)
		out, err := r.cfg.S3.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(r.cfg.Bucket), Key: aws.String(key)})
		if err != nil {
			if s3NotFound(err) {
				return nil, errors.New("not uploaded")
			}
			s3err = cfnError(ctx, err, "cannot read the job's JUnit reports", "get "+key)
			return nil, err
		}
		return out.Body, nil
	})
	if s3err != nil {
		return provisioner.JobStatus{}, s3err
	}
	return st, nil
}

func s3NotFound(err error) bool {
	var nsk *awss3types.NoSuchKey
	var nf *awss3types.NotFound
	return errors.As(err, &nsk) || errors.As(err, &nf) || apiCode(err) == "NoSuchKey" || apiCode(err) == "NotFound"
}

func apiCode(err error) string {
	var ae interface{ ErrorCode() string }
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
