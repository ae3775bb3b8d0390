// Package ec2 is the provisioner.JobRunner of the AWS backend: every TEST or
// RELEASE job runs on an EC2 instance of its own, a one-time spot instance
// by default, that ends itself.
//
// # The machine
//
// Start launches one instance per job (RunInstances, MinCount = MaxCount =
// 1) from the AWS-provided Amazon Linux 2023 image named by a public SSM
// parameter, with InstanceInitiatedShutdownBehavior=terminate, a one-time
// spot request whose interruption terminates the machine, an instance
// profile, IMDSv2 only, and tags (Name "<Name>-job-<id>", and the
// provisioner:* tags below) on the instance and its volume. Its user data
// is a constant bash bootstrap around two data sections: the job's
// environment file (plan.Env: every value validated and single-quoted) and
// the job script (plan.Script: the operator's plan, gzip+base64). No
// request value appears anywhere else. The bootstrap schedules
// `shutdown -h +N` for the job's hard deadline (plan.HardDeadline plus
// UploadGrace) before anything else, runs the operator's host setup
// (DefaultHostSetup), and runs the job script, whose ON_EXIT uploads to
// s3://Bucket/Prefix/:
//
//	jobs/<id>/junit/STEP/N.xml   the JUnit reports the steps wrote
//	<the job's LogKey>          the log (default jobs/<id>/log), also every UploadInterval while it runs
//	jobs/<id>/result.json       the script's result, last; also every UploadInterval while it runs
//
// and then ends the machine (shutdown -h now; terminate on shutdown).
// The runner itself writes job-plans/<id>.json (the plan the job runs, for
// Poll), outside the jobs/ prefix the machines may write.
//
// Start is idempotent per job id: it first looks for an instance tagged
// with the job's id (in any state: a job that ran is never launched again)
// and returns it; RunInstances also carries a ClientToken derived from the
// job id, so that AWS itself drops a retried launch.
//
// Poll reads the result from S3 and evaluates it (plan.Evaluate, JUnit
// reports from S3); without a final result it asks EC2: pending is
// provisioning, running is running, an instance that ended without a final
// result (spot interruption, crash) is an error, one alive past the hard
// deadline is terminated and timed_out. Cancel terminates the instance.
// Reap terminates tagged instances that outlived their job.
//
// # Tags
//
// Every instance and volume carries provisioner:deployment (Config.Name),
// provisioner:job-id, provisioner:kind, provisioner:cluster,
// provisioner:version, provisioner:requested-by, provisioner:deadline (the
// job's deadline, RFC 3339) and provisioner:market (spot or on-demand),
// plus Config.Tags. Cancel adds provisioner:cancelled.
//
// # The instance profile
//
// The machines run code of the sliderule repository at any version; their
// role should allow only what the job needs. For TEST (BUCKET, PREFIX,
// REGION, ACCOUNT as configured):
//
//	{"Version": "2012-10-17", "Statement": [
//	  {"Sid": "JobResults", "Effect": "Allow",
//	   "Action": ["s3:PutObject", "s3:AbortMultipartUpload"],
//	   "Resource": "arn:aws:s3:::BUCKET/PREFIX/jobs/*"},
//	  {"Sid": "RegistryLogin", "Effect": "Allow",
//	   "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
//	  {"Sid": "PullBuildEnvironment", "Effect": "Allow",
//	   "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
//	   "Resource": "arn:aws:ecr:REGION:ACCOUNT:repository/sliderule-buildenv"}]}
//
// No s3:GetObject, s3:ListBucket or s3:DeleteObject: a machine cannot read
// or remove what other jobs wrote, nor the runner's job-plans/. (One role
// serves every job, so a machine could overwrite another job's objects
// under jobs/; IAM cannot tie an object key to a job id.) Lua selftests that
// read project data need s3:GetObject on that data as well. For RELEASE
// (ReleaseInstanceProfileARN, or the same profile), add pushing the
// cluster's images:
//
//	{"Sid": "PushClusterImages", "Effect": "Allow",
//	 "Action": ["ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart",
//	            "ecr:CompleteLayerUpload", "ecr:PutImage", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
//	 "Resource": "arn:aws:ecr:REGION:ACCOUNT:repository/sliderule*"}
//
// The role's trust policy allows ec2.amazonaws.com to assume it. The
// provisioner itself needs ec2:RunInstances (instance, volume, network
// interface, subnet, security group, image), ec2:CreateTags (on launch, and
// on instances tagged provisioner:deployment), ec2:DescribeInstances,
// ec2:TerminateInstances (condition: ec2:ResourceTag/provisioner:deployment),
// iam:PassRole on the instance roles, ssm:GetParameter on the AMI parameter,
// s3:GetObject on PREFIX/jobs/* and s3:PutObject + s3:GetObject on
// PREFIX/job-plans/*; spot needs the AWSServiceRoleForEC2Spot
// service-linked role to exist.
package ec2

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
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"provisioner"
	s3logs "provisioner/aws/s3"
	"provisioner/plan"
)

// EC2API is the part of the EC2 client the runner uses; *ec2.Client
// implements it.
type EC2API interface {
	RunInstances(ctx context.Context, in *awsec2.RunInstancesInput, optFns ...func(*awsec2.Options)) (*awsec2.RunInstancesOutput, error)
	DescribeInstances(ctx context.Context, in *awsec2.DescribeInstancesInput, optFns ...func(*awsec2.Options)) (*awsec2.DescribeInstancesOutput, error)
	TerminateInstances(ctx context.Context, in *awsec2.TerminateInstancesInput, optFns ...func(*awsec2.Options)) (*awsec2.TerminateInstancesOutput, error)
	CreateTags(ctx context.Context, in *awsec2.CreateTagsInput, optFns ...func(*awsec2.Options)) (*awsec2.CreateTagsOutput, error)
}

// SSMAPI is the part of the SSM client the runner uses.
type SSMAPI interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, optFns ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
}

// S3API is the part of the S3 client the runner uses.
type S3API interface {
	GetObject(ctx context.Context, in *awss3.GetObjectInput, optFns ...func(*awss3.Options)) (*awss3.GetObjectOutput, error)
	PutObject(ctx context.Context, in *awss3.PutObjectInput, optFns ...func(*awss3.Options)) (*awss3.PutObjectOutput, error)
}

// Tag keys on every job instance and its volume.
const (
	TagDeployment  = "provisioner:deployment"
	TagJobID       = "provisioner:job-id"
	TagKind        = "provisioner:kind"
	TagCluster     = "provisioner:cluster"
	TagVersion     = "provisioner:version"
	TagRequestedBy = "provisioner:requested-by"
	TagDeadline    = "provisioner:deadline"
	TagMarket      = "provisioner:market"
	TagCancelled   = "provisioner:cancelled"
)

// Defaults.
const (
	DefaultName           = "provisioner"
	DefaultInstanceType   = "c7g.2xlarge" // arm64: the SlideRule images are aarch64 only
	DefaultAMIParameter   = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"
	DefaultRepoURL        = "https://github.com/SlideRuleEarth/sliderule.git"
	DefaultDomain         = "slideruleearth.io"
	DefaultVolumeSizeGiB  = 100
	DefaultRootDevice     = "/dev/xvda" // Amazon Linux 2023
	DefaultTimeout        = 2 * time.Hour
	DefaultUploadInterval = 30 * time.Second
	// UploadGrace is the time a machine has, after the script's hard
	// deadline (plan.HardDeadline), to upload and end itself; past it Poll
	// and Reap terminate it.
	UploadGrace = 5 * time.Minute
	// ReapGrace spares the instance of a job the store does not know yet
	// (a Start racing the store) from Reap.
	ReapGrace = 10 * time.Minute
	// VisibilityGrace is how long after its start a job's machine may
	// not show in EC2 yet (eventual consistency) without being lost.
	VisibilityGrace = 5 * time.Minute
	// MachineDir is the job's directory on the machine.
	MachineDir = "/var/lib/sliderule-job"
)

// Extra variables the runner sets in the job environment; Config.Env may
// not set them.
const (
	envJobURI         = "S3_JOB_URI"
	envLogURI         = "S3_LOG_URI"
	envUploadInterval = "S3_UPLOAD_INTERVAL"
	envUploadGrace    = "UPLOAD_GRACE"
	envHostSetup      = "HOST_SETUP"
)

// Config configures a Runner.
type Config struct {
	EC2 EC2API
	SSM SSMAPI // for the AMI parameter; unused when AMI is set
	S3  S3API
	// Bucket and Prefix locate the jobs' objects: the same bucket and
	// prefix as the S3 LogStore (aws/s3), so that a job's LogKey there is
	// the log the machine uploads.
	Bucket string
	Prefix string
	// Region is where the machines run, for the AWS CLI on them; empty:
	// the EC2 client's region, when EC2 is an *ec2.Client.
	Region string
	// Name names this provisioner deployment: instances are named
	// "<Name>-job-<id>" and tagged provisioner:deployment=Name; Reap only
	// touches its own. Default "provisioner".
	Name string
	// InstanceProfileARN is the machines' instance profile (see the package
	// documentation for its policy). ReleaseInstanceProfileARN, when set,
	// is used for RELEASE jobs instead (the one that may push images).
	InstanceProfileARN        string
	ReleaseInstanceProfileARN string
	SubnetID                  string
	SecurityGroupIDs          []string
	// InstanceType defaults to DefaultInstanceType (arm64).
	InstanceType string
	// AMIParameter is the SSM parameter naming the image (default: Amazon
	// Linux 2023, arm64); AMI, when set, is used instead, without SSM.
	AMIParameter string
	AMI          string
	// OnDemand launches on-demand instances; the default is one-time spot.
	// OnDemandFallback launches on-demand when spot has no capacity.
	OnDemand         bool
	OnDemandFallback bool
	// VolumeSizeGiB is the root volume (gp3, encrypted); default 100.
	VolumeSizeGiB int32
	// RootDevice is the image's root device name; default /dev/xvda.
	RootDevice string
	// RepoURL is the sliderule repository; Domain the clusters' domain;
	// Organization, when set, what the client tests call every cluster.
	RepoURL      string
	Domain       string
	Organization string
	// ContainerWrapper runs container steps in the build environment (see
	// plan.Inputs; BuildEnvWrapper is the one for the SlideRule build
	// environment image); "" runs them directly on the machine.
	ContainerWrapper string
	// HostSetup is bash run as root before the job script; "" means
	// DefaultHostSetup, ":" nothing.
	HostSetup string
	// Env holds extra variables for the steps (REGISTRY, ...). AWS_REGION
	// and AWS_DEFAULT_REGION default to Region.
	Env map[string]string
	// Plans are the plans; nil means the embedded ones.
	Plans *plan.Set
	// Tags are added to every instance and volume.
	Tags map[string]string
	// Timeout bounds a job without a deadline (default 2h). KillGrace and
	// DeadlineGrace are the job script's (defaults 10s and 60s).
	Timeout       time.Duration
	KillGrace     time.Duration
	DeadlineGrace time.Duration
	// UploadInterval is how often a running machine uploads its log and
	// result (default 30s).
	UploadInterval time.Duration
	Logger         *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Runner is the EC2 provisioner.JobRunner. It keeps no state of its own:
// everything is in EC2 tags and S3, so any number of service instances
// (Lambda invocations) share it.
type Runner struct {
	cfg    Config
	log    *slog.Logger
	prefix string // "" or ends in "/"
	dir    string // the job directory on the machine
}

var _ provisioner.JobRunner = (*Runner)(nil)

var (
	jobIDRE        = regexp.MustCompile(`^[0-9a-f]{8,64}$`)
	instanceIDRE   = regexp.MustCompile(`^i-[0-9a-f]{8,17}$`)
	amiRE          = regexp.MustCompile(`^ami-[0-9a-f]{8,17}$`)
	subnetRE       = regexp.MustCompile(`^subnet-[0-9a-f]{8,17}$`)
	sgRE           = regexp.MustCompile(`^sg-[0-9a-f]{8,17}$`)
	instanceTypeRE = regexp.MustCompile(`^[a-z][a-z0-9-]*\.[a-z0-9]+$`)
	profileARNRE   = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:instance-profile/[\w+=,.@/-]{1,128}$`)
	nameRE         = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,38}$`)
	paramRE        = regexp.MustCompile(`^/[A-Za-z0-9_.\-/]{1,1000}$`)
)

// New checks cfg and returns a Runner. It makes no AWS call.
func New(cfg Config) (*Runner, error) {
	bad := func(format string, args ...any) error {
		return provisioner.Errorf(provisioner.EINVALID, "EC2 job runner: "+format, args...)
	}
	if cfg.EC2 == nil || cfg.S3 == nil || cfg.SSM == nil && cfg.AMI == "" {
		return nil, bad("EC2, S3 and SSM clients are required (SSM unless AMI is set)")
	}
	if _, err := s3logs.New(nopS3{}, s3logs.Config{Bucket: cfg.Bucket, Prefix: cfg.Prefix}); err != nil {
		return nil, bad("%s", provisioner.ErrorMessage(err))
	}
	r := &Runner{cfg: cfg, dir: MachineDir}
	if p := strings.TrimSuffix(cfg.Prefix, "/"); p != "" {
		r.prefix = p + "/"
	}
	c := &r.cfg
	if c.Region == "" {
		if cl, ok := c.EC2.(*awsec2.Client); ok {
			c.Region = cl.Options().Region
		}
	}
	if c.Region == "" || !regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]$`).MatchString(c.Region) {
		return nil, bad("invalid or missing region %q", c.Region)
	}
	if c.Name == "" {
		c.Name = DefaultName
	}
	if !nameRE.MatchString(c.Name) {
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
	if c.AMI != "" && !amiRE.MatchString(c.AMI) {
		return nil, bad("invalid AMI id %q", c.AMI)
	}
	if !paramRE.MatchString(c.AMIParameter) || strings.Contains(c.AMIParameter, "//") {
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
		c.Domain = DefaultDomain
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
		if k == "" || len(k) > 128 || len(v) > 256 || strings.HasPrefix(lk, "aws:") || strings.HasPrefix(lk, "provisioner:") || k == "Name" {
			return nil, bad("tag %q is not allowed: 1-128 characters, not Name, not aws:* or provisioner:*, value at most 256", k)
		}
	}
	if c.Plans == nil {
		var err error
		if c.Plans, err = plan.Default(); err != nil {
			return nil, err
		}
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
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
	if c.Now == nil {
		c.Now = time.Now
	}
	r.log = c.Logger
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	// Check the settings once, as jobs with the longest values would use
	// them: no valid job fails for the size of its user data later.
	for _, kind := range []provisioner.JobKind{provisioner.JobTest, provisioner.JobRelease} {
		if _, ok := c.Plans.Plan(kind); !ok {
			continue
		}
		check := provisioner.Job{ID: strings.Repeat("0", 64), Kind: kind, Cluster: strings.Repeat("c", 40),
			Version: strings.Repeat("v", 128), Deadline: c.Now().Add(c.Timeout)}
		if _, err := r.launch(check); err != nil {
			return nil, fmt.Errorf("EC2 job runner: %w", err)
		}
	}
	return r, nil
}

// nopS3 lets New check the bucket and prefix with the LogStore's rules.
type nopS3 struct{ s3logs.API }

// spec is everything of one launch that needs no AWS call.
type spec struct {
	job      provisioner.Job
	deadline time.Time
	plan     plan.Plan
	userData []byte
	profile  string
}

// launch validates a job and renders its user data. Invalid input is
// refused here, before any AWS call.
func (r *Runner) launch(j provisioner.Job) (*spec, error) {
	if !jobIDRE.MatchString(j.ID) {
		return nil, provisioner.Errorf(provisioner.EINVALID, "invalid job id %q", trunc(j.ID))
	}
	logKey := r.logKey(j)
	if err := s3logs.ValidKey(logKey); err != nil {
		return nil, err
	}
	if len(j.RequestedBy) > 256 {
		return nil, provisioner.Errorf(provisioner.EINVALID, "requester name too long")
	}
	p, err := r.cfg.Plans.For(j.Kind, j.Version)
	if err != nil {
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
	profile := r.cfg.InstanceProfileARN
	if j.Kind == provisioner.JobRelease {
		profile = r.cfg.ReleaseInstanceProfileARN
	}
	return &spec{job: j, deadline: deadline, plan: p, userData: ud, profile: profile}, nil
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
	return plan.Inputs{
		JobID: j.ID, Kind: j.Kind, Cluster: j.Cluster, Organization: r.cfg.Organization, Version: j.Version,
		RepoURL: r.cfg.RepoURL, Domain: r.cfg.Domain, WorkDir: r.dir + "/work", Deadline: deadline,
		KillGrace: r.cfg.KillGrace.Round(time.Second), DeadlineGrace: r.cfg.DeadlineGrace.Round(time.Second),
		ContainerWrapper: r.cfg.ContainerWrapper, OnExit: onExitCommand(r.dir), Extra: extra,
	}
}

func (r *Runner) objectKey(key string) string { return r.prefix + key }

// planKey is where Start keeps the plan a job runs: outside jobs/, which
// the machines may write.
func (r *Runner) planKey(id string) string { return r.objectKey("job-plans/" + id + ".json") }

// hardDeadline is when a machine must be gone.
func (r *Runner) hardDeadline(deadline time.Time) time.Time {
	return plan.HardDeadline(deadline, r.cfg.KillGrace.Round(time.Second), r.cfg.DeadlineGrace.Round(time.Second)).Add(UploadGrace)
}

// clientToken is the job's RunInstances idempotency token, one per market
// (a spot launch refused for capacity launched nothing; the on-demand one
// that follows is another request).
func (r *Runner) clientToken(id, market string) string {
	sum := sha256.Sum256([]byte(r.cfg.Name + "\x00" + id))
	return "pj-" + hex.EncodeToString(sum[:20]) + "-" + market
}

// Start launches the job's machine, or returns the one it launched before.
func (r *Runner) Start(ctx context.Context, j provisioner.Job) (string, error) {
	s, err := r.launch(j)
	if err != nil {
		return "", err
	}
	existing, err := r.jobInstances(ctx, j.ID)
	if err != nil {
		return "", err
	}
	if len(existing) > 0 {
		// The machine the job records, else the first launched.
		for i := range existing {
			if aws.ToString(existing[i].InstanceId) == j.Instance {
				existing[0], existing[i] = existing[i], existing[0]
			}
		}
		keep := existing[0]
		if extra := existing[1:]; len(extra) > 0 {
			// Only a launch race can make these (EC2 honours the client
			// token); no job runs twice.
			ids := make([]string, 0, len(extra))
			for i := range extra {
				if in := &extra[i]; alive(in) {
					ids = append(ids, aws.ToString(in.InstanceId))
				}
			}
			if len(ids) > 0 {
				r.log.Warn("job has more than one instance: terminating the later ones", "job", j.ID, "keep", aws.ToString(keep.InstanceId), "terminate", ids)
				if err := r.terminate(ctx, ids...); err != nil {
					return "", err
				}
			}
		}
		return aws.ToString(keep.InstanceId), nil
	}
	ami, err := r.ami(ctx)
	if err != nil {
		return "", err
	}
	if err := r.putPlan(ctx, j.ID, s.plan); err != nil {
		return "", err
	}
	market := "spot"
	if r.cfg.OnDemand {
		market = "on-demand"
	}
	out, err := r.cfg.EC2.RunInstances(ctx, r.runInput(s, ami, market))
	if err != nil && market == "spot" && r.cfg.OnDemandFallback && capacityError(err) {
		r.log.Warn("no spot capacity: launching on-demand", "job", j.ID, "type", r.cfg.InstanceType, "err", err)
		market = "on-demand"
		out, err = r.cfg.EC2.RunInstances(ctx, r.runInput(s, ami, market))
	}
	if err != nil && apiCode(err) == "IdempotentParameterMismatch" {
		// This client token launched before, with other settings (the
		// runner's configuration changed between two Starts): that
		// machine is the job's, if EC2 shows it yet.
		if ins, derr := r.jobInstances(ctx, j.ID); derr == nil && len(ins) > 0 {
			return aws.ToString(ins[0].InstanceId), nil
		}
	}
	if err != nil {
		if capacityError(err) {
			return "", provisioner.Wrap(provisioner.EUNAVAILABLE, err, "EC2 has no %s capacity for %s now; try again later", market, r.cfg.InstanceType)
		}
		return "", awsError(ctx, err, "cannot launch the job's machine", "run instances for job "+j.ID)
	}
	if len(out.Instances) != 1 || !instanceIDRE.MatchString(aws.ToString(out.Instances[0].InstanceId)) {
		return "", provisioner.Errorf(provisioner.EINTERNAL, "EC2 launched %d instances for job %s", len(out.Instances), j.ID)
	}
	id := aws.ToString(out.Instances[0].InstanceId)
	r.log.Info("job machine launched", "job", j.ID, "kind", j.Kind, "version", j.Version, "cluster", j.Cluster,
		"instance", id, "market", market, "type", r.cfg.InstanceType, "ami", ami, "deadline", s.deadline)
	return id, nil
}

func (r *Runner) runInput(s *spec, ami, market string) *awsec2.RunInstancesInput {
	j := s.job
	tags := []types.Tag{
		{Key: aws.String("Name"), Value: aws.String(r.cfg.Name + "-job-" + j.ID)},
		{Key: aws.String(TagDeployment), Value: aws.String(r.cfg.Name)},
		{Key: aws.String(TagJobID), Value: aws.String(j.ID)},
		{Key: aws.String(TagKind), Value: aws.String(string(j.Kind))},
		{Key: aws.String(TagCluster), Value: aws.String(j.Cluster)},
		{Key: aws.String(TagVersion), Value: aws.String(j.Version)},
		{Key: aws.String(TagRequestedBy), Value: aws.String(j.RequestedBy)},
		{Key: aws.String(TagDeadline), Value: aws.String(s.deadline.UTC().Format(time.RFC3339))},
		{Key: aws.String(TagMarket), Value: aws.String(market)},
	}
	keys := make([]string, 0, len(r.cfg.Tags))
	for k := range r.cfg.Tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		tags = append(tags, types.Tag{Key: aws.String(k), Value: aws.String(r.cfg.Tags[k])})
	}
	in := &awsec2.RunInstancesInput{
		ImageId:                           aws.String(ami),
		InstanceType:                      types.InstanceType(r.cfg.InstanceType),
		MinCount:                          aws.Int32(1),
		MaxCount:                          aws.Int32(1),
		ClientToken:                       aws.String(r.clientToken(j.ID, market)),
		InstanceInitiatedShutdownBehavior: types.ShutdownBehaviorTerminate,
		IamInstanceProfile:                &types.IamInstanceProfileSpecification{Arn: aws.String(s.profile)},
		UserData:                          aws.String(encodeUserData(s.userData)),
		MetadataOptions: &types.InstanceMetadataOptionsRequest{
			HttpEndpoint: types.InstanceMetadataEndpointStateEnabled,
			HttpTokens:   types.HttpTokensStateRequired,
			// 2: containers on the machine (the build environment) reach
			// the instance role too.
			HttpPutResponseHopLimit: aws.Int32(2),
		},
		BlockDeviceMappings: []types.BlockDeviceMapping{{
			DeviceName: aws.String(r.cfg.RootDevice),
			Ebs: &types.EbsBlockDevice{VolumeSize: aws.Int32(r.cfg.VolumeSizeGiB), VolumeType: types.VolumeTypeGp3,
				DeleteOnTermination: aws.Bool(true), Encrypted: aws.Bool(true)},
		}},
		TagSpecifications: []types.TagSpecification{
			{ResourceType: types.ResourceTypeInstance, Tags: tags},
			{ResourceType: types.ResourceTypeVolume, Tags: tags},
		},
	}
	if r.cfg.SubnetID != "" {
		in.SubnetId = aws.String(r.cfg.SubnetID)
	}
	if len(r.cfg.SecurityGroupIDs) > 0 {
		in.SecurityGroupIds = slices.Clone(r.cfg.SecurityGroupIDs)
	}
	if market == "spot" {
		in.InstanceMarketOptions = &types.InstanceMarketOptionsRequest{
			MarketType: types.MarketTypeSpot,
			SpotOptions: &types.SpotMarketOptions{
				SpotInstanceType:             types.SpotInstanceTypeOneTime,
				InstanceInterruptionBehavior: types.InstanceInterruptionBehaviorTerminate,
			},
		}
	}
	return in
}

// ami resolves the image: the public SSM parameter's value.
func (r *Runner) ami(ctx context.Context) (string, error) {
	if r.cfg.AMI != "" {
		return r.cfg.AMI, nil
	}
	out, err := r.cfg.SSM.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(r.cfg.AMIParameter)})
	if err != nil {
		return "", awsError(ctx, err, "cannot find the machine image", "get SSM parameter "+r.cfg.AMIParameter)
	}
	v := ""
	if out.Parameter != nil {
		v = aws.ToString(out.Parameter.Value)
	}
	if !amiRE.MatchString(v) {
		return "", provisioner.Errorf(provisioner.EINTERNAL, "the SSM parameter %s holds %q, not an AMI id", r.cfg.AMIParameter, trunc(v))
	}
	return v, nil
}

func (r *Runner) putPlan(ctx context.Context, id string, p plan.Plan) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	_, err = r.cfg.S3.PutObject(ctx, &awss3.PutObjectInput{
		Bucket: aws.String(r.cfg.Bucket), Key: aws.String(r.planKey(id)), Body: bytes.NewReader(b),
		ContentLength: aws.Int64(int64(len(b))), ContentType: aws.String("application/json"),
	})
	if err != nil {
		return awsError(ctx, err, "cannot store the job's plan", "put "+r.planKey(id))
	}
	return nil
}

// jobPlan is the plan a job runs: what Start stored, else (a job started
// by an older runner) the plan for its kind and version now.
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

// get reads an object of at most limit bytes; nil if there is none.
func (r *Runner) get(ctx context.Context, key string, limit int64) ([]byte, error) {
	out, err := r.cfg.S3.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(r.cfg.Bucket), Key: aws.String(key)})
	if s3NotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, awsError(ctx, err, "cannot read the job's results", "get "+key)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(io.LimitReader(out.Body, limit+1))
	if err != nil {
		return nil, awsError(ctx, err, "cannot read the job's results", "read "+key)
	}
	if int64(len(b)) > limit {
		return nil, provisioner.Errorf(provisioner.EINTERNAL, "%s is larger than %d bytes", key, limit)
	}
	return b, nil
}

// result reads the job's result.json: nil if there is none; an error
// (with a nil result) if S3 failed or the result is unreadable (bad).
func (r *Runner) result(ctx context.Context, id string) (res *plan.Result, bad error, err error) {
	b, err := r.get(ctx, r.objectKey("jobs/"+id+"/result.json"), plan.MaxResultSize)
	if err != nil || b == nil {
		return nil, nil, err
	}
	res, bad = plan.ParseResult(b)
	if bad == nil && res.JobID != id {
		res, bad = nil, fmt.Errorf("the result is job %s's", trunc(res.JobID))
	}
	return res, bad, nil
}

// evaluate applies the plan's rule to a result, reading JUnit reports from
// S3. An S3 failure (not a missing report) is an error: a job must not
// fail because S3 was slow.
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
			s3err = awsError(ctx, err, "cannot read the job's JUnit reports", "get "+key)
			return nil, err
		}
		return out.Body, nil
	})
	if s3err != nil {
		return provisioner.JobStatus{}, s3err
	}
	return st, nil
}

// Poll observes a job: its result in S3 first, then its machine.
func (r *Runner) Poll(ctx context.Context, j provisioner.Job) (provisioner.JobStatus, error) {
	if !jobIDRE.MatchString(j.ID) {
		return provisioner.JobStatus{}, provisioner.Errorf(provisioner.EINVALID, "invalid job id %q", trunc(j.ID))
	}
	res, bad, err := r.result(ctx, j.ID)
	if err != nil {
		return provisioner.JobStatus{}, err
	}
	if res != nil && res.State != plan.ScriptRunning {
		return r.finish(ctx, j, res)
	}
	in, err := r.instance(ctx, j)
	if err != nil {
		return provisioner.JobStatus{}, err
	}
	if in == nil {
		// EC2 is eventually consistent: a machine just launched may not
		// show yet. One that has ended shows, terminated, for about an hour.
		if started := later(j.StartedAt, j.CreatedAt); !started.IsZero() && r.cfg.Now().Sub(started) < VisibilityGrace {
			return provisioner.JobStatus{State: provisioner.JobProvisioning}, nil
		}
		if j.Instance == "" {
			return provisioner.JobStatus{}, provisioner.Errorf(provisioner.ENOTFOUND, "job %s has no machine", j.ID)
		}
		in = &types.Instance{InstanceId: aws.String(j.Instance), State: &types.InstanceState{Name: types.InstanceStateNameTerminated}}
	}
	id := aws.ToString(in.InstanceId)
	// The steps so far, from a running result.
	var steps []provisioner.StepResult
	if res != nil {
		st, err := r.evaluate(ctx, j, res)
		if err != nil {
			return provisioner.JobStatus{}, err
		}
		steps = st.Steps
	}
	deadline := j.Deadline
	if deadline.IsZero() {
		deadline, _ = time.Parse(time.RFC3339, tag(in, TagDeadline))
	}
	now := r.cfg.Now()
	if tag(in, TagCancelled) != "" {
		if alive(in) {
			if err := r.terminate(ctx, id); err != nil {
				return provisioner.JobStatus{}, err
			}
		}
		return ended(provisioner.JobCancelled, "cancelled", steps), nil
	}
	if alive(in) {
		if !deadline.IsZero() && now.After(r.hardDeadline(deadline)) {
			r.log.Warn("job machine alive past its deadline: terminating it", "job", j.ID, "instance", id, "deadline", deadline)
			if err := r.terminate(ctx, id); err != nil {
				return provisioner.JobStatus{}, err
			}
			return ended(provisioner.JobTimedOut, fmt.Sprintf("the job did not end by its deadline (%s); instance %s was terminated",
				deadline.UTC().Format(time.RFC3339), id), steps), nil
		}
		state := provisioner.JobRunning
		if in.State.Name == types.InstanceStateNamePending {
			state = provisioner.JobProvisioning
		}
		return provisioner.JobStatus{State: state, Steps: steps}, nil
	}
	// The machine has ended. It uploads its result before it shuts down,
	// so a result may have arrived since it was read.
	if res2, bad2, err := r.result(ctx, j.ID); err != nil {
		return provisioner.JobStatus{}, err
	} else if res2 != nil && res2.State != plan.ScriptRunning {
		return r.finish(ctx, j, res2)
	} else if bad2 != nil {
		bad = bad2
	}
	if in.State.Name == types.InstanceStateNameStopped || in.State.Name == types.InstanceStateNameStopping {
		// Stopped, not terminated (someone changed it): no leak.
		if err := r.terminate(ctx, id); err != nil {
			return provisioner.JobStatus{}, err
		}
	}
	why := ""
	if in.StateReason != nil && aws.ToString(in.StateReason.Message) != "" {
		why = ": " + aws.ToString(in.StateReason.Message)
	}
	switch {
	case bad != nil:
		return ended(provisioner.JobError, fmt.Sprintf("instance %s ended with an unreadable result (%v); see the job log", id, bad), steps), nil
	case !deadline.IsZero() && !now.Before(deadline):
		return ended(provisioner.JobTimedOut, fmt.Sprintf("instance %s ended at the job's deadline without a result%s", id, why), steps), nil
	}
	return ended(provisioner.JobError, fmt.Sprintf("instance %s ended without a result (spot interruption?)%s", id, why), steps), nil
}

// finish evaluates a final result, and makes sure the machine goes.
func (r *Runner) finish(ctx context.Context, j provisioner.Job, res *plan.Result) (provisioner.JobStatus, error) {
	st, err := r.evaluate(ctx, j, res)
	if err != nil {
		return st, err
	}
	if instanceIDRE.MatchString(j.Instance) {
		// It ends itself once its result is uploaded; this is the backstop
		// (Reap is the next one).
		if err := r.terminate(ctx, j.Instance); err != nil {
			r.log.Warn("terminating a finished job's machine", "job", j.ID, "instance", j.Instance, "err", err)
		}
	}
	return st, nil
}

// ended is a final status; the step a stopped job was running ends with it.
func ended(state provisioner.JobState, reason string, steps []provisioner.StepResult) provisioner.JobStatus {
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

// Cancel terminates the job's machine; a job without one, or whose machine
// is gone, is left as it is.
func (r *Runner) Cancel(ctx context.Context, j provisioner.Job) error {
	if !jobIDRE.MatchString(j.ID) {
		return provisioner.Errorf(provisioner.EINVALID, "invalid job id %q", trunc(j.ID))
	}
	var ids []string
	if instanceIDRE.MatchString(j.Instance) {
		ids = []string{j.Instance}
	} else {
		ins, err := r.jobInstances(ctx, j.ID)
		if err != nil {
			return err
		}
		for i := range ins {
			if in := &ins[i]; alive(in) {
				ids = append(ids, aws.ToString(in.InstanceId))
			}
		}
	}
	if len(ids) == 0 {
		return nil
	}
	// Mark first, so that Poll says cancelled rather than lost.
	_, err := r.cfg.EC2.CreateTags(ctx, &awsec2.CreateTagsInput{Resources: ids,
		Tags: []types.Tag{{Key: aws.String(TagCancelled), Value: aws.String(r.cfg.Now().UTC().Format(time.RFC3339))}}})
	if err != nil && !instanceNotFound(err) {
		r.log.Warn("marking a cancelled job's machine", "job", j.ID, "err", err)
	}
	if err := r.terminate(ctx, ids...); err != nil {
		return err
	}
	r.log.Info("job cancelled: machine terminated", "job", j.ID, "instances", ids)
	return nil
}

// terminate ends instances; ones that are gone already are fine.
func (r *Runner) terminate(ctx context.Context, ids ...string) error {
	_, err := r.cfg.EC2.TerminateInstances(ctx, &awsec2.TerminateInstancesInput{InstanceIds: ids})
	switch {
	case err == nil, instanceNotFound(err) && len(ids) == 1:
		return nil
	case instanceNotFound(err):
		// One unknown id fails the whole request: one at a time.
		for _, id := range ids {
			if err := r.terminate(ctx, id); err != nil {
				return err
			}
		}
		return nil
	}
	return awsError(ctx, err, "cannot terminate the job's machine", fmt.Sprintf("terminate %v", ids))
}

// instance returns the job's machine: Job.Instance, or the one tagged with
// the job's id; nil if there is none (or it is long gone).
func (r *Runner) instance(ctx context.Context, j provisioner.Job) (*types.Instance, error) {
	if !instanceIDRE.MatchString(j.Instance) {
		ins, err := r.jobInstances(ctx, j.ID)
		if err != nil || len(ins) == 0 {
			return nil, err
		}
		return &ins[0], nil
	}
	out, err := r.cfg.EC2.DescribeInstances(ctx, &awsec2.DescribeInstancesInput{InstanceIds: []string{j.Instance}})
	if instanceNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, awsError(ctx, err, "cannot observe the job's machine", "describe "+j.Instance)
	}
	for _, rv := range out.Reservations {
		for _, in := range rv.Instances {
			if aws.ToString(in.InstanceId) != j.Instance {
				continue
			}
			if got := tag(&in, TagJobID); got != j.ID {
				return nil, provisioner.Errorf(provisioner.EINTERNAL, "instance %s belongs to job %q, not %s", j.Instance, trunc(got), j.ID)
			}
			return &in, nil
		}
	}
	return nil, nil
}

// jobInstances lists the instances of one job of this deployment, in any
// state, the earliest launched (the one to keep) first; live ones before
// ended ones launched at the same time.
func (r *Runner) jobInstances(ctx context.Context, id string) ([]types.Instance, error) {
	ins, err := r.describe(ctx, []types.Filter{
		{Name: aws.String("tag:" + TagDeployment), Values: []string{r.cfg.Name}},
		{Name: aws.String("tag:" + TagJobID), Values: []string{id}},
	})
	if err != nil {
		return nil, err
	}
	sort.SliceStable(ins, func(a, b int) bool {
		ta, tb := aws.ToTime(ins[a].LaunchTime), aws.ToTime(ins[b].LaunchTime)
		if !ta.Equal(tb) {
			return ta.Before(tb)
		}
		if alive(&ins[a]) != alive(&ins[b]) {
			return alive(&ins[a])
		}
		return aws.ToString(ins[a].InstanceId) < aws.ToString(ins[b].InstanceId)
	})
	return ins, nil
}

func (r *Runner) describe(ctx context.Context, filters []types.Filter) ([]types.Instance, error) {
	var ins []types.Instance
	pages := awsec2.NewDescribeInstancesPaginator(r.cfg.EC2, &awsec2.DescribeInstancesInput{Filters: filters, MaxResults: aws.Int32(1000)})
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return nil, awsError(ctx, err, "cannot list the job machines", "describe instances")
		}
		for _, rv := range out.Reservations {
			ins = append(ins, rv.Instances...)
		}
	}
	return ins, nil
}

// alive: the instance runs, or will, or could again.
func alive(in *types.Instance) bool {
	if in.State == nil {
		return true
	}
	switch in.State.Name {
	case types.InstanceStateNameShuttingDown, types.InstanceStateNameTerminated:
		return false
	}
	return true
}

func tag(in *types.Instance, key string) string {
	for _, t := range in.Tags {
		if aws.ToString(t.Key) == key {
			return aws.ToString(t.Value)
		}
	}
	return ""
}

// Reaped is an instance Reap terminated, and why.
type Reaped struct {
	Instance string
	JobID    string
	Reason   string
}

// JobLookup finds a job by id; an error with code ENOTFOUND means there is
// no such job (a provisioner.JobStore's GetJob is one).
type JobLookup func(ctx context.Context, id string) (provisioner.Job, error)

// Reap terminates this deployment's job instances that outlived their job:
// the job is final, unknown (and the instance older than ReapGrace), or
// past its hard deadline, or the instance is not the one the job records.
// An instance whose job cannot be looked up now is left for the next
// sweep. It returns what it terminated.
func (r *Runner) Reap(ctx context.Context, lookup JobLookup) ([]Reaped, error) {
	ins, err := r.describe(ctx, []types.Filter{
		{Name: aws.String("tag:" + TagDeployment), Values: []string{r.cfg.Name}},
		{Name: aws.String("tag-key"), Values: []string{TagJobID}},
		{Name: aws.String("instance-state-name"), Values: []string{"pending", "running", "stopping", "stopped"}},
	})
	if err != nil {
		return nil, err
	}
	now := r.cfg.Now()
	var reap []Reaped
	var lookupErr error
	for i := range ins {
		in := &ins[i]
		id, jobID := aws.ToString(in.InstanceId), tag(in, TagJobID)
		why := ""
		deadline, derr := time.Parse(time.RFC3339, tag(in, TagDeadline))
		switch {
		case derr == nil && now.After(r.hardDeadline(deadline)):
			why = "past the job's deadline " + deadline.UTC().Format(time.RFC3339)
		case !jobIDRE.MatchString(jobID):
			if now.Sub(aws.ToTime(in.LaunchTime)) > ReapGrace {
				why = "not a job's instance"
			}
		default:
			j, err := lookup(ctx, jobID)
			switch {
			case provisioner.ErrorCode(err) == provisioner.ENOTFOUND:
				if now.Sub(aws.ToTime(in.LaunchTime)) > ReapGrace {
					why = "the job does not exist"
				}
			case err != nil:
				lookupErr = err
			case j.State.Final():
				why = "the job is " + string(j.State)
			case instanceIDRE.MatchString(j.Instance) && j.Instance != id:
				why = "the job runs on " + j.Instance
			case !j.Deadline.IsZero() && now.After(r.hardDeadline(j.Deadline)):
				why = "past the job's deadline " + j.Deadline.UTC().Format(time.RFC3339)
			}
		}
		if why != "" {
			reap = append(reap, Reaped{Instance: id, JobID: jobID, Reason: why})
		}
	}
	for batch := range slices.Chunk(reap, 500) {
		ids := make([]string, len(batch))
		for i, x := range batch {
			ids[i] = x.Instance
		}
		if err := r.terminate(ctx, ids...); err != nil {
			return nil, err
		}
		for _, x := range batch {
			r.log.Warn("reaped a job machine", "instance", x.Instance, "job", x.JobID, "reason", x.Reason)
		}
	}
	if lookupErr != nil {
		return reap, fmt.Errorf("reaping job machines: some jobs could not be looked up: %w", lookupErr)
	}
	return reap, nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func trunc(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return strings.ToValidUTF8(s, "?")
}
