// Package cloudformation runs SlideRule clusters as AWS CloudFormation
// stacks of deploy/cluster.yaml: it implements provisioner.ClusterDriver.
//
// Each cluster is exactly one stack, named <StackPrefix>-<cluster> and
// tagged cluster=<cluster>; every call names that one stack (never a name
// prefix or a listing), and a stack without the tag is never changed, so a
// cluster "foo" can never touch the stack of "foo-bar" or a stranger's.
// A user node group (group.go) is one more stack of deploy/userasg.yaml,
// <StackPrefix>-<cluster>-<user>-asg, tagged cluster and user; Destroy
// deletes a cluster's group stacks before its own.
//
// The driver keeps no state of its own: CloudFormation is the record.
// Deploy and Destroy start the work and return; Status observes it, and
// reports running only once the stack is CREATE_COMPLETE and the cluster
// answers its health check (HealthProbe) with at least the requested nodes.
package cloudformation

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"

	"provisioner"
)

// API is the part of the CloudFormation client the driver uses;
// *cloudformation.Client implements it.
type API interface {
	CreateStack(ctx context.Context, in *cfn.CreateStackInput, optFns ...func(*cfn.Options)) (*cfn.CreateStackOutput, error)
	DescribeStacks(ctx context.Context, in *cfn.DescribeStacksInput, optFns ...func(*cfn.Options)) (*cfn.DescribeStacksOutput, error)
	DeleteStack(ctx context.Context, in *cfn.DeleteStackInput, optFns ...func(*cfn.Options)) (*cfn.DeleteStackOutput, error)
	DescribeStackEvents(ctx context.Context, in *cfn.DescribeStackEventsInput, optFns ...func(*cfn.Options)) (*cfn.DescribeStackEventsOutput, error)
	ListStacks(ctx context.Context, in *cfn.ListStacksInput, optFns ...func(*cfn.Options)) (*cfn.ListStacksOutput, error)
}

var _ API = (*cfn.Client)(nil)

// The parameters of deploy/cluster.yaml the driver sets from each
// ClusterSpec; Config.Parameters may not set them. ParamDomain is the one
// per-deployment value that comes from Config.Parameters: the driver needs
// it for the endpoint.
const (
	ParamClusterName  = "ClusterName"
	ParamNodeCapacity = "NodeCapacity"
	ParamVersion      = "Version"
	ParamIsPublic     = "IsPublic"
	ParamCreatedBy    = "CreatedBy"
	ParamExpiresAt    = "ExpiresAt"
	ParamDomain       = "Domain"
)

// The tags the driver puts on every stack (CloudFormation propagates stack
// tags to the resources that take tags); Config.Tags may not set them.
// TagCluster is also the mark of ownership: a stack without it, or with
// another value, is not this driver's and is never changed.
const (
	TagCluster   = "cluster"
	TagCreatedBy = "created-by"
	TagExpiresAt = "expires-at"
)

// Defaults and limits of Config.
const (
	// MaxNodeCapacity is the template's NodeCapacity MaxValue.
	MaxNodeCapacity = 100
	// DefaultCreateTimeout bounds a stack's creation (TimeoutInMinutes):
	// a cold deploy takes 15-20 minutes, most of it after CREATE_COMPLETE.
	DefaultCreateTimeout = 30 * time.Minute
	// DefaultDeleteRetries is how many times a DELETE_FAILED stack is
	// deleted again before FORCE_DELETE_STACK.
	DefaultDeleteRetries = 2
	// DefaultMaxEvents is how many stack events Events returns at most.
	DefaultMaxEvents = 100
)

// HealthProbe asks a cluster how many nodes serve it. HTTPProbe is the real
// one; tests point a fake or HTTPProbe at a local server.
type HealthProbe interface {
	// Check returns the number of registered, healthy nodes of cluster,
	// whose load balancer is at endpoint (https://<cluster>.<domain>).
	Check(ctx context.Context, cluster, endpoint string) (nodes int, err error)
}

// Config configures a Driver.
type Config struct {
	// Client calls CloudFormation (cloudformation.NewFromConfig).
	Client API
	// StackPrefix names the stacks: exactly <StackPrefix>-<cluster>.
	// A letter, then letters, digits and hyphens; at most 80 characters.
	StackPrefix string
	// TemplateBody or TemplateURL (exactly one) is the cluster template,
	// deploy/cluster.yaml. A body is limited to 51,200 bytes by
	// CloudFormation; a URL must point to S3.
	TemplateBody string
	TemplateURL  string
	// GroupTemplateBody or GroupTemplateURL (at most one) is the template
	// of user node groups, deploy/userasg.yaml; without either, DeployGroup
	// answers EUNAVAILABLE. Its parameters come from each group and from
	// the cluster's stack, never from Parameters.
	GroupTemplateBody string
	GroupTemplateURL  string
	// Parameters are the template parameters that are the same for every
	// cluster: Domain (required: the endpoint is https://<cluster>.<Domain>),
	// HostedZoneId, ProvisionerURL (the token issuer), ImageRegistry,
	// ProjectBucket, and optionally ProjectFolder, instance types, VpcId and
	// subnets, .... The Param* values that come
	// from each ClusterSpec may not be set here.
	Parameters map[string]string
	// Tags are added to every stack besides the driver's own (Tag*).
	Tags map[string]string
	// HealthProbe decides whether a created stack is a running cluster;
	// with a group template it must be a ServiceProbe too, which decides
	// whether a group's stack is a running node group.
	HealthProbe HealthProbe
	// RoleARN, if set, is the service role CloudFormation uses for the
	// stacks, so the caller itself needs no rights on the resources.
	RoleARN string
	// CreateTimeout bounds a stack's creation; 0 means DefaultCreateTimeout.
	CreateTimeout time.Duration
	// DeleteRetries is how many times a DELETE_FAILED stack is deleted
	// again before FORCE_DELETE_STACK; 0 means DefaultDeleteRetries, a
	// negative value forces at the first retry.
	DeleteRetries int
	// MaxEvents bounds Events; 0 means DefaultMaxEvents.
	MaxEvents int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Driver implements provisioner.ClusterDriver on CloudFormation. It is safe
// for concurrent use and keeps no state: two Drivers (two Lambda
// instances) with the same Config see and do the same.
type Driver struct {
	cfg    Config
	domain string
}

var (
	_ provisioner.ClusterDriver = (*Driver)(nil)
	_ provisioner.EventSource   = (*Driver)(nil)
)

var (
	prefixRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{0,79}$`)
	domainRE = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)
	// versionRE is the template's Version pattern. It is a little
	// stricter than provisioner.ValidateVersion (no leading "/", as git
	// check-ref-format), and the driver checks both, so CloudFormation
	// never refuses a version the driver passed.
	versionRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*(\.?/[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*)*$`)
	// createdByRE is the template's CreatedBy pattern: a tag-safe login.
	createdByRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@+=:-]{0,99}$`)
	// tagKeyRE and tagValueRE are what CloudFormation stack tags allow.
	tagKeyRE   = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+@-]{1,128}$`)
	tagValueRE = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+@-]{0,256}$`)
)

// New checks cfg and returns a Driver. It makes no AWS call.
func New(cfg Config) (*Driver, error) {
	switch {
	case cfg.Client == nil:
		return nil, errors.New("cloudformation: a client is required")
	case !prefixRE.MatchString(cfg.StackPrefix) || strings.HasSuffix(cfg.StackPrefix, "-"):
		return nil, fmt.Errorf("cloudformation: invalid stack prefix %q: a letter, then up to 79 letters, digits and hyphens, not ending in a hyphen", cfg.StackPrefix)
	case (cfg.TemplateBody == "") == (cfg.TemplateURL == ""):
		return nil, errors.New("cloudformation: give exactly one of TemplateBody and TemplateURL")
	case cfg.HealthProbe == nil:
		return nil, errors.New("cloudformation: a health probe is required")
	case cfg.CreateTimeout < 0 || cfg.MaxEvents < 0:
		return nil, errors.New("cloudformation: negative CreateTimeout or MaxEvents")
	}
	for _, tu := range []string{cfg.TemplateURL, cfg.GroupTemplateURL} {
		if tu == "" {
			continue
		}
		if u, err := url.Parse(tu); err != nil || u.Scheme != "https" || u.Host == "" {
			return nil, fmt.Errorf("cloudformation: template URL %q is not an https URL", tu)
		}
	}
	if cfg.GroupTemplateBody != "" && cfg.GroupTemplateURL != "" {
		return nil, errors.New("cloudformation: give at most one of GroupTemplateBody and GroupTemplateURL")
	}
	if _, ok := cfg.HealthProbe.(ServiceProbe); !ok && (cfg.GroupTemplateBody != "" || cfg.GroupTemplateURL != "") {
		return nil, errors.New("cloudformation: a group template needs a health probe that counts a service's nodes (ServiceProbe)")
	}
	domain := cfg.Parameters[ParamDomain]
	if !domainRE.MatchString(domain) {
		return nil, fmt.Errorf("cloudformation: parameter %s %q is not a DNS domain", ParamDomain, domain)
	}
	for k := range cfg.Parameters {
		if k == "" {
			return nil, errors.New("cloudformation: a parameter has an empty name")
		}
		if perCluster(k) {
			return nil, fmt.Errorf("cloudformation: parameter %s is set per cluster by the driver", k)
		}
	}
	for k, v := range cfg.Tags {
		switch {
		case k == TagCluster || k == TagUser || k == TagCreatedBy || k == TagExpiresAt:
			return nil, fmt.Errorf("cloudformation: tag %q is set by the driver", k)
		case strings.HasPrefix(strings.ToLower(k), "aws:"):
			return nil, fmt.Errorf("cloudformation: tag %q: the aws: prefix is reserved", k)
		case !tagKeyRE.MatchString(k) || !tagValueRE.MatchString(v):
			return nil, fmt.Errorf("cloudformation: invalid tag %q=%q", k, v)
		}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.CreateTimeout == 0 {
		cfg.CreateTimeout = DefaultCreateTimeout
	}
	if cfg.DeleteRetries == 0 {
		cfg.DeleteRetries = DefaultDeleteRetries
	}
	if cfg.MaxEvents == 0 {
		cfg.MaxEvents = DefaultMaxEvents
	}
	cfg.Parameters = clone(cfg.Parameters)
	cfg.Tags = clone(cfg.Tags)
	return &Driver{cfg: cfg, domain: domain}, nil
}

func perCluster(param string) bool {
	switch param {
	case ParamClusterName, ParamNodeCapacity, ParamVersion, ParamIsPublic, ParamCreatedBy, ParamExpiresAt:
		return true
	}
	return false
}

func clone(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// StackName is the one stack of a cluster: <StackPrefix>-<cluster>.
func (d *Driver) StackName(cluster string) string { return d.cfg.StackPrefix + "-" + cluster }

// Endpoint is the cluster's URL: https://<cluster>.<domain>.
func (d *Driver) Endpoint(cluster string) string { return "https://" + cluster + "." + d.domain }

// Deploy creates the cluster's stack, and returns once CloudFormation has
// accepted it. It is idempotent: the create request carries a token
// derived from the spec, so a retry is the same request, and a stack that
// already exists with the same settings (being created, or created) is
// left alone. It refuses (ECONFLICT) a stack that exists with other
// settings, one being deleted, and one that is not this driver's; a stack
// left failed by an earlier deployment is deleted first.
func (d *Driver) Deploy(ctx context.Context, spec provisioner.ClusterSpec) error {
	if err := d.checkSpec(spec); err != nil {
		return err
	}
	name := d.StackName(spec.Name)
	if exists, err := d.create(ctx, spec, ""); !exists {
		return err
	}
	// A stack of that name exists: this deployment's (a retry whose token
	// CloudFormation no longer remembers), an earlier one's, or a stranger's.
	st, err := d.describe(ctx, name)
	if err != nil {
		return err
	}
	if st == nil { // deleted in between
		return d.createOnce(ctx, spec, "")
	}
	if err := d.owned(st, spec.Name); err != nil {
		return err
	}
	status := st.StackStatus
	switch {
	case live(status):
		return sameSettings(st, spec)
	case status == types.StackStatusDeleteInProgress:
		return provisioner.Errorf(provisioner.ECONFLICT, "cluster %s is still being destroyed; deploy it again once that is done", spec.Name)
	case !deletable(status):
		return provisioner.Errorf(provisioner.ECONFLICT, "the stack of an earlier deployment of %s is %s; deploy again in a few minutes", spec.Name, status)
	}
	// A dead stack (rolled back, failed): it holds the name, and
	// CloudFormation cannot revive it. Delete it and, if that is done at
	// once (an empty rolled-back stack often is), create the new one.
	if err := d.delete(ctx, st); err != nil {
		return err
	}
	again, err := d.describe(ctx, name)
	if err != nil {
		return err
	}
	if again == nil || again.StackStatus == types.StackStatusDeleteComplete {
		return d.createOnce(ctx, spec, aws.ToString(st.StackId))
	}
	return provisioner.Errorf(provisioner.ECONFLICT, "the stack of an earlier deployment of %s was %s and is being deleted; deploy again in a few minutes", spec.Name, status)
}

// checkSpec validates what Deploy sends to CloudFormation, whatever the
// caller checked already: nothing unvalidated reaches a parameter or tag.
func (d *Driver) checkSpec(spec provisioner.ClusterSpec) error {
	if err := provisioner.ValidateClusterName(spec.Name); err != nil {
		return err
	}
	if err := provisioner.ValidateVersion(spec.Version); err != nil {
		return err
	}
	if !versionRE.MatchString(spec.Version) {
		return provisioner.Errorf(provisioner.EINVALID, "invalid version %q: a git tag or branch such as v4.5.1, or latest", truncate(spec.Version, 64))
	}
	if spec.NodeCapacity < 1 || spec.NodeCapacity > MaxNodeCapacity {
		return provisioner.Errorf(provisioner.EINVALID, "node capacity must be between 1 and %d", MaxNodeCapacity)
	}
	if spec.CreatedBy != "" && !createdByRE.MatchString(spec.CreatedBy) {
		return provisioner.Errorf(provisioner.EINVALID, "creator %q cannot be a tag value", truncate(spec.CreatedBy, 64))
	}
	if !spec.ExpiresAt.IsZero() && !spec.ExpiresAt.After(d.cfg.Now()) {
		return provisioner.Errorf(provisioner.EINVALID, "cluster %s would expire at %s, which is past", spec.Name, spec.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return nil
}

// createOnce is create when the name was just seen free: a stack that
// appeared meanwhile is another deployment's, racing this one.
func (d *Driver) createOnce(ctx context.Context, spec provisioner.ClusterSpec, replaces string) error {
	exists, err := d.create(ctx, spec, replaces)
	if exists {
		return provisioner.Errorf(provisioner.ECONFLICT, "another deployment of cluster %s created its stack meanwhile; deploy again", spec.Name)
	}
	return err
}

// create sends CreateStack; exists reports that a stack of that name is
// there already (err is nil then). replaces is the id of a dead stack just
// deleted for this one ("" for none): it makes the token differ from a
// create that may have been made, with the same spec, for the dead stack.
func (d *Driver) create(ctx context.Context, spec provisioner.ClusterSpec, replaces string) (exists bool, err error) {
	in := &cfn.CreateStackInput{
		StackName:          aws.String(d.StackName(spec.Name)),
		Parameters:         d.parameters(spec),
		Tags:               d.tags(spec),
		Capabilities:       []types.Capability{types.CapabilityCapabilityIam},
		ClientRequestToken: aws.String(DeployToken(d.StackName(spec.Name), spec, replaces)),
		// ROLLBACK, not DELETE: the failed stack stays, empty, with its
		// status reason and events, so Status and Events can say why it
		// failed; the application then destroys it. DELETE would make a
		// failed cluster look absent, the reason lost with the stack.
		OnFailure:        types.OnFailureRollback,
		TimeoutInMinutes: aws.Int32(int32(max(1, d.cfg.CreateTimeout.Round(time.Minute)/time.Minute))),
	}
	exists, err = d.createStack(ctx, in, d.cfg.TemplateBody, d.cfg.TemplateURL)
	if err != nil {
		return false, cfnError(ctx, err, fmt.Sprintf("CloudFormation did not create the stack of cluster %s", spec.Name), "CreateStack "+d.StackName(spec.Name))
	}
	return exists, nil
}

// parameters are the static parameters plus the cluster's, sorted by name.
func (d *Driver) parameters(spec provisioner.ClusterSpec) []types.Parameter {
	m := clone(d.cfg.Parameters)
	m[ParamClusterName] = spec.Name
	m[ParamNodeCapacity] = strconv.Itoa(spec.NodeCapacity)
	m[ParamVersion] = spec.Version
	m[ParamIsPublic] = strconv.FormatBool(spec.IsPublic)
	m[ParamCreatedBy] = createdBy(spec)
	m[ParamExpiresAt] = expiresAt(spec)
	out := make([]types.Parameter, 0, len(m))
	for _, k := range sortedKeys(m) {
		out = append(out, types.Parameter{ParameterKey: aws.String(k), ParameterValue: aws.String(m[k])})
	}
	return out
}

// tags are the configured tags plus the cluster's, sorted by key.
func (d *Driver) tags(spec provisioner.ClusterSpec) []types.Tag {
	m := clone(d.cfg.Tags)
	m[TagCluster] = spec.Name
	m[TagCreatedBy] = createdBy(spec)
	m[TagExpiresAt] = expiresAt(spec)
	out := make([]types.Tag, 0, len(m))
	for _, k := range sortedKeys(m) {
		out = append(out, types.Tag{Key: aws.String(k), Value: aws.String(m[k])})
	}
	return out
}

func createdBy(spec provisioner.ClusterSpec) string {
	if spec.CreatedBy == "" {
		return "provisioner"
	}
	return spec.CreatedBy
}

func expiresAt(spec provisioner.ClusterSpec) string {
	if spec.ExpiresAt.IsZero() {
		return "none"
	}
	return spec.ExpiresAt.UTC().Format(time.RFC3339)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// DeployToken is the ClientRequestToken of a cluster's CreateStack: the
// same for every retry of one deployment, different for the next. The
// deployment's generation is its spec as a whole, ExpiresAt included, which
// the application sets anew for each DEPLOY (now + TTL). replaces is the id
// of a dead stack the create replaces, "" for none.
func DeployToken(stack string, spec provisioner.ClusterSpec, replaces string) string {
	h := sha256.New()
	fmt.Fprintf(h, "deploy\x00%s\x00%s\x00%t\x00%d\x00%s\x00%s\x00%d\x00%s",
		stack, spec.Name, spec.IsPublic, spec.NodeCapacity, spec.Version, spec.CreatedBy, spec.ExpiresAt.UnixNano(), replaces)
	return "deploy-" + spec.Name + "-" + hex.EncodeToString(h.Sum(nil))[:24]
}

// destroyToken is the ClientRequestToken of a DeleteStack: the same for
// every retry of one attempt on one stack (the stack id names its
// incarnation), new for the attempt after a DELETE_FAILED, which
// CloudFormation would otherwise take for the failed request again.
func destroyToken(cluster, stackID string, attempt int, force bool) string {
	h := sha256.Sum256(fmt.Appendf(nil, "destroy\x00%s\x00%d\x00%t", stackID, attempt, force))
	return "destroy-" + cluster + "-" + hex.EncodeToString(h[:])[:24]
}

// sameSettings accepts an existing stack as this deployment only if it
// runs what spec asks: a no-op must not hand back a cluster with another
// visibility, version or size.
func sameSettings(st *types.Stack, spec provisioner.ClusterSpec) error {
	p := stackParams(st)
	want := map[string]string{
		ParamIsPublic:     strconv.FormatBool(spec.IsPublic),
		ParamNodeCapacity: strconv.Itoa(spec.NodeCapacity),
		ParamVersion:      spec.Version,
	}
	var diff []string
	for _, k := range []string{ParamIsPublic, ParamNodeCapacity, ParamVersion} {
		if p[k] != want[k] {
			diff = append(diff, fmt.Sprintf("%s %q (asked %q)", k, p[k], want[k]))
		}
	}
	if len(diff) > 0 {
		return provisioner.Errorf(provisioner.ECONFLICT, "cluster %s already exists with %s; destroy it first", spec.Name, strings.Join(diff, ", "))
	}
	return nil
}

func stackParams(st *types.Stack) map[string]string {
	m := make(map[string]string, len(st.Parameters))
	for _, p := range st.Parameters {
		m[aws.ToString(p.ParameterKey)] = aws.ToString(p.ParameterValue)
	}
	return m
}

// Status observes the cluster's stack. See stackState for the mapping;
// a created stack is running only when the health probe reports at least
// the stack's NodeCapacity nodes.
func (d *Driver) Status(ctx context.Context, name string) (provisioner.DriverStatus, error) {
	if err := provisioner.ValidateClusterName(name); err != nil {
		return provisioner.DriverStatus{}, err
	}
	st, err := d.describe(ctx, d.StackName(name))
	if err != nil {
		return provisioner.DriverStatus{}, err
	}
	if st == nil {
		return d.absent(ctx, name)
	}
	if err := d.owned(st, name); err != nil {
		return provisioner.DriverStatus{State: provisioner.StateFailed, Reason: provisioner.ErrorMessage(err)}, nil
	}
	state, reason := stackState(st)
	if state == provisioner.StateAbsent {
		return d.absent(ctx, name)
	}
	out := provisioner.DriverStatus{State: state, Reason: reason}
	if state != provisioner.StateAbsent {
		out.Endpoint = d.Endpoint(name)
	}
	if state != stateCreated {
		return out, nil
	}
	want, err := strconv.Atoi(stackParams(st)[ParamNodeCapacity])
	if err != nil || want < 1 {
		return provisioner.DriverStatus{State: provisioner.StateFailed, Endpoint: out.Endpoint,
			Reason: fmt.Sprintf("stack %s has no valid %s parameter", d.StackName(name), ParamNodeCapacity)}, nil
	}
	out.State = provisioner.StateDeploying
	since := ""
	if t := aws.ToTime(st.CreationTime); !t.IsZero() {
		since = fmt.Sprintf(" (stack created %s ago)", d.cfg.Now().Sub(t).Round(time.Second))
	}
	nodes, err := d.cfg.HealthProbe.Check(ctx, name, out.Endpoint)
	switch {
	case err != nil:
		out.Reason = fmt.Sprintf("stack %s; waiting for the health check: %v%s", st.StackStatus, err, since)
	case nodes < want:
		out.Nodes = max(nodes, 0)
		out.Reason = fmt.Sprintf("%d of %d nodes registered%s", out.Nodes, want, since)
	default:
		out.State, out.Nodes, out.Reason = provisioner.StateRunning, nodes, ""
	}
	return out, nil
}

// absent is Status of a cluster whose stack is gone: absent, unless stacks
// of its node groups are still there (Destroy deleted them first, but a
// group stack may take longer, or fail to delete): destroying then, so
// the cluster is not taken for gone, and its groups forgotten, before
// they are; a DELETE_FAILED one waits for the next Destroy.
func (d *Driver) absent(ctx context.Context, name string) (provisioner.DriverStatus, error) {
	groups, err := d.groupStacks(ctx, name)
	if err != nil {
		return provisioner.DriverStatus{}, err
	}
	if len(groups) == 0 {
		return provisioner.DriverStatus{State: provisioner.StateAbsent}, nil
	}
	var left []string
	for _, g := range groups {
		left = append(left, aws.ToString(g.StackName)+" "+string(g.StackStatus))
	}
	return provisioner.DriverStatus{State: provisioner.StateDestroying,
		Reason: "the stacks of its node groups are still there: " + strings.Join(left, ", ")}, nil
}

// stateCreated is stackState's answer for a stack whose resources exist:
// running or deploying, as the health check decides.
const stateCreated provisioner.ClusterState = "created"

// stackState maps a stack status to a cluster state, with a reason for
// what is not plain progress.
func stackState(st *types.Stack) (provisioner.ClusterState, string) {
	status := st.StackStatus
	switch status {
	case types.StackStatusCreateComplete, types.StackStatusUpdateComplete,
		types.StackStatusUpdateRollbackComplete, types.StackStatusImportComplete:
		return stateCreated, ""
	case types.StackStatusCreateInProgress:
		return provisioner.StateDeploying, "CloudFormation is creating the stack"
	case types.StackStatusUpdateInProgress, types.StackStatusUpdateCompleteCleanupInProgress,
		types.StackStatusUpdateRollbackInProgress, types.StackStatusUpdateRollbackCompleteCleanupInProgress,
		types.StackStatusImportInProgress:
		return provisioner.StateDeploying, "the stack is " + string(status)
	case types.StackStatusDeleteInProgress:
		return provisioner.StateDestroying, ""
	case types.StackStatusDeleteComplete:
		return provisioner.StateAbsent, ""
	}
	// CREATE_FAILED, ROLLBACK_*, DELETE_FAILED, UPDATE_FAILED,
	// UPDATE_ROLLBACK_FAILED, IMPORT_ROLLBACK_*, REVIEW_IN_PROGRESS and
	// whatever status AWS adds next.
	reason := "the stack is " + string(status)
	if r := aws.ToString(st.StackStatusReason); r != "" {
		reason += ": " + r
	}
	return provisioner.StateFailed, reason
}

// live reports a stack that is, or is becoming, a cluster: Deploy leaves it.
func live(s types.StackStatus) bool {
	switch s {
	case types.StackStatusCreateInProgress, types.StackStatusCreateComplete,
		types.StackStatusUpdateInProgress, types.StackStatusUpdateCompleteCleanupInProgress,
		types.StackStatusUpdateComplete, types.StackStatusUpdateRollbackComplete,
		types.StackStatusImportInProgress, types.StackStatusImportComplete:
		return true
	}
	return false
}

// deletable reports a dead stack that DeleteStack may remove now.
func deletable(s types.StackStatus) bool {
	switch s {
	case types.StackStatusCreateFailed, types.StackStatusRollbackComplete, types.StackStatusRollbackFailed,
		types.StackStatusDeleteFailed, types.StackStatusUpdateRollbackFailed, types.StackStatusUpdateFailed,
		types.StackStatusImportRollbackComplete, types.StackStatusImportRollbackFailed,
		types.StackStatusReviewInProgress:
		return true
	}
	return false
}

// Destroy deletes the cluster's stack and returns once CloudFormation has
// accepted that; Status reports destroying, then absent. It is idempotent:
// an absent stack or one being deleted is success. A stack being created
// is deleted too (CloudFormation cancels the creation); one rolling back
// or updating is EUNAVAILABLE until that ends. A DELETE_FAILED stack is
// deleted again, DeleteRetries times, then with FORCE_DELETE_STACK, which
// removes the stack and leaves behind (tagged cluster=<name>) the
// resources that would not go. The cluster's node group stacks are
// deleted first, with the same rules, whether or not its stack exists;
// Status reports destroying while any of them is left.
func (d *Driver) Destroy(ctx context.Context, name string) error {
	if err := provisioner.ValidateClusterName(name); err != nil {
		return err
	}
	st, err := d.describe(ctx, d.StackName(name))
	if err != nil {
		return err
	}
	if st != nil {
		if err := d.owned(st, name); err != nil {
			return err
		}
	}
	// Its node groups' stacks first, as production deletes them before
	// the cluster's: they use its subnet, security group and instance
	// profile. The cluster's stack is deleted even when one of them could
	// not be (the application's sweep calls Destroy again).
	groupErr := d.destroyGroups(ctx, name)
	if st == nil {
		return groupErr
	}
	if err := d.destroyCluster(ctx, st, name); err != nil {
		return err
	}
	return groupErr
}

// destroyCluster deletes the cluster's own stack st.
func (d *Driver) destroyCluster(ctx context.Context, st *types.Stack, name string) error {
	switch status := st.StackStatus; {
	case status == types.StackStatusDeleteComplete || status == types.StackStatusDeleteInProgress:
		return nil
	case strings.HasSuffix(string(status), "_IN_PROGRESS") && status != types.StackStatusCreateInProgress &&
		status != types.StackStatusReviewInProgress:
		// CloudFormation refuses DeleteStack during a rollback or update;
		// the caller retries (the application's sweep does).
		return provisioner.Errorf(provisioner.EUNAVAILABLE, "the stack of cluster %s is %s; it can be deleted once that ends", name, status)
	}
	return d.delete(ctx, st)
}

// delete sends DeleteStack for the stack st names, by its id, so a stack
// created meanwhile under the same name is not the one deleted.
func (d *Driver) delete(ctx context.Context, st *types.Stack) error {
	id := aws.ToString(st.StackId)
	cluster := strings.TrimPrefix(aws.ToString(st.StackName), d.cfg.StackPrefix+"-")
	in := &cfn.DeleteStackInput{StackName: aws.String(id)}
	attempt, force := 0, false
	if st.StackStatus == types.StackStatusDeleteFailed {
		n, err := d.deleteFailures(ctx, st)
		if err != nil {
			return err
		}
		attempt, force = n, n > max(d.cfg.DeleteRetries, 0)
		if force {
			in.DeletionMode = types.DeletionModeForceDeleteStack
		}
	}
	in.ClientRequestToken = aws.String(destroyToken(cluster, id, attempt, force))
	if d.cfg.RoleARN != "" {
		in.RoleARN = aws.String(d.cfg.RoleARN)
	}
	if _, err := d.cfg.Client.DeleteStack(ctx, in); err != nil {
		return cfnError(ctx, err, fmt.Sprintf("CloudFormation did not delete the stack of cluster %s", cluster), "DeleteStack "+id)
	}
	return nil
}

// deleteFailures counts the stack's own DELETE_FAILED events: how many
// deletes failed so far. The count lives in CloudFormation, so it survives
// restarts and is the same for every instance of the provisioner.
func (d *Driver) deleteFailures(ctx context.Context, st *types.Stack) (int, error) {
	n := 0
	err := d.events(ctx, aws.ToString(st.StackId), 0, func(e types.StackEvent) bool {
		if e.ResourceStatus == types.ResourceStatusDeleteFailed && aws.ToString(e.ResourceType) == "AWS::CloudFormation::Stack" {
			n++
		}
		return true
	})
	return max(n, 1), err // the status itself says it failed at least once
}

// Events returns the newest stack events of the cluster (at most
// MaxEvents), oldest first, as provisioner events: Type "stack.<status>"
// for the stack itself and "resource.<status>" for its resources, the
// message naming the resource and CloudFormation's reason. An absent
// cluster has none.
func (d *Driver) Events(ctx context.Context, name string) ([]provisioner.Event, error) {
	if err := provisioner.ValidateClusterName(name); err != nil {
		return nil, err
	}
	st, err := d.describe(ctx, d.StackName(name))
	if err != nil || st == nil {
		return nil, err
	}
	if err := d.owned(st, name); err != nil {
		return nil, err
	}
	var out []provisioner.Event
	err = d.events(ctx, aws.ToString(st.StackId), d.cfg.MaxEvents, func(e types.StackEvent) bool {
		out = append(out, event(name, e))
		return len(out) < d.cfg.MaxEvents
	})
	if err != nil {
		return nil, err
	}
	slices.Reverse(out) // CloudFormation lists the newest first
	return out, nil
}

func event(cluster string, e types.StackEvent) provisioner.Event {
	kind := "resource."
	if aws.ToString(e.ResourceType) == "AWS::CloudFormation::Stack" {
		kind = "stack."
	}
	msg := fmt.Sprintf("%s (%s) %s", aws.ToString(e.LogicalResourceId), aws.ToString(e.ResourceType), e.ResourceStatus)
	if r := aws.ToString(e.ResourceStatusReason); r != "" {
		msg += ": " + r
	}
	return provisioner.Event{
		ID:      aws.ToString(e.EventId),
		Cluster: cluster,
		Time:    aws.ToTime(e.Timestamp).UTC(),
		Type:    kind + strings.ToLower(string(e.ResourceStatus)),
		Actor:   "cloudformation",
		Message: msg,
	}
}

// events pages through a stack's events, newest first, until yield says
// stop or limit events were read (0: all of them, at most 100 pages).
func (d *Driver) events(ctx context.Context, stackID string, limit int, yield func(types.StackEvent) bool) error {
	in := &cfn.DescribeStackEventsInput{StackName: aws.String(stackID)}
	read := 0
	for page := 0; page < 100; page++ {
		out, err := d.cfg.Client.DescribeStackEvents(ctx, in)
		if err != nil {
			if isNotFound(err) {
				return nil
			}
			return cfnError(ctx, err, "CloudFormation did not list the stack's events", "DescribeStackEvents "+stackID)
		}
		for _, e := range out.StackEvents {
			read++
			if !yield(e) || (limit > 0 && read >= limit) {
				return nil
			}
		}
		if aws.ToString(out.NextToken) == "" {
			return nil
		}
		in.NextToken = out.NextToken
	}
	return nil
}

// describe returns the stack named exactly name, or nil if there is none.
func (d *Driver) describe(ctx context.Context, name string) (*types.Stack, error) {
	out, err := d.cfg.Client.DescribeStacks(ctx, &cfn.DescribeStacksInput{StackName: aws.String(name)})
	if err != nil {
		if isNotFound(err) {
			return nil, nil
		}
		return nil, cfnError(ctx, err, "CloudFormation did not describe the cluster's stack", "DescribeStacks "+name)
	}
	for i := range out.Stacks {
		if aws.ToString(out.Stacks[i].StackName) == name {
			return &out.Stacks[i], nil
		}
	}
	return nil, nil
}

// owned refuses a stack that does not carry this cluster's tag: a stack
// the driver did not create is never deleted or passed off as a cluster.
func (d *Driver) owned(st *types.Stack, cluster string) error {
	t := stackTags(st)
	if t[TagCluster] == cluster && t[TagUser] == "" {
		return nil
	}
	return provisioner.Errorf(provisioner.ECONFLICT, "stack %s exists but is not cluster %s's (no tag %s=%s); the provisioner leaves it alone",
		aws.ToString(st.StackName), cluster, TagCluster, cluster)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// createStack creates the stack of in from the template body, or else the
// template URL, with the driver's role. A stack of that name that already
// exists is no error: it reports exists, and the caller decides.
func (d *Driver) createStack(ctx context.Context, in *cfn.CreateStackInput, body, url string) (exists bool, err error) {
	if body != "" {
		in.TemplateBody = aws.String(body)
	} else {
		in.TemplateURL = aws.String(url)
	}
	if d.cfg.RoleARN != "" {
		in.RoleARN = aws.String(d.cfg.RoleARN)
	}
	_, err = d.cfg.Client.CreateStack(ctx, in)
	if err != nil && isAlreadyExists(err) {
		return true, nil
	}
	return false, err
}
