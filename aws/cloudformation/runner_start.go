package cloudformation

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"

	"provisioner"
	s3logs "provisioner/aws/s3"
	"provisioner/plan"
)

// The machine: Start creates one stack per job, <Name>-job-<id>, tagged
// provisioner:deployment, provisioner:job-id, provisioner:kind,
// provisioner:cluster, provisioner:version, provisioner:requested-by,
// provisioner:deadline (RFC 3339) and provisioner:market, plus
// RunnerConfig.Tags; CloudFormation propagates them to the instance. The
// template's launch template asks for a one-time spot instance (or
// on-demand) whose interruption and shutdown terminate it, IMDSv2 only, an
// encrypted gp3 root volume, the AMI named by a public SSM parameter
// (resolved by CloudFormation), the instance profile, and the job's user
// data (runner_userdata.go): it schedules `shutdown -h +N` for the job's
// hard deadline before anything else, runs the host setup and the job
// script, and uploads to s3://Bucket/Prefix/:
//
//	jobs/<id>/junit/STEP/N.xml   the JUnit reports the steps wrote
//	<the job's LogKey>          the log (default jobs/<id>/log), also every UploadInterval while it runs
//	jobs/<id>/result.json       the script's result, last; also every UploadInterval while it runs
//
// The runner writes job-plans/<id>.json (the plan the job runs) before it
// creates the stack, and job-plans/<id>.stack (the stack's id) once
// CloudFormation accepted it: the record that the job was launched, which
// outlives the stack.

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
//
// Start is idempotent per job id, proven by this code, not by AWS: it
// first describes the job's stack by name (one name per job: a second
// CreateStack of it fails with AlreadyExists, taken as success) and checks
// its provisioner:job-id tag; when there is none, a job-plans/<id>.stack
// record means its stack ran and was deleted, and it is not created again.
// CreateStack also carries a ClientRequestToken derived from the job id.
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
	stackID, exists, err := r.stacks.createStack(ctx, newStack{
		name:    name,
		token:   token,
		params:  r.parameters(s, market),
		tags:    r.jobTags(s, market),
		body:    r.cfg.TemplateBody,
		url:     r.cfg.TemplateURL,
		failure: "CloudFormation did not create the job's machine",
	})
	if err != nil || !exists {
		return stackID, false, err
	}
	// A concurrent call for this job (or a stranger's stack: refused).
	st, err := r.namedJobStack(ctx, j.ID, name)
	if err != nil {
		return "", false, err
	}
	if st == nil {
		return "", false, provisioner.Errorf(provisioner.ECONFLICT, "stack %s exists but is not job %s's", name, j.ID)
	}
	return aws.ToString(st.StackId), true, nil
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
	j := s.job
	m[JobTagDeployment] = r.cfg.Name
	m[JobTagJobID] = j.ID
	m[JobTagKind] = string(j.Kind)
	m[JobTagCluster] = j.Cluster
	m[JobTagVersion] = j.Version
	m[JobTagRequestedBy] = j.RequestedBy
	m[JobTagDeadline] = s.deadline.UTC().Format(time.RFC3339)
	m[JobTagMarket] = market
	m[TagOwner], m[TagKind] = j.RequestedBy, KindRunner
	return sortedTags(m)
}
