package cloudformation

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"regexp"
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

// The cost allocation tags (provisioner.CostTag*) on every stack beside
// those: who pays (a cluster's owner, a group's user, a job's requester),
// the kind of stack, and a cluster's team. Cost Explorer groups the bill
// by them (aws/costexplorer).
const (
	TagOwner = provisioner.CostTagOwner
	TagKind  = provisioner.CostTagKind
	TagTeam  = provisioner.CostTagTeam

	KindCluster = "cluster"
	KindGroup   = "group"
	KindRunner  = "runner"
)

// driverTag tells the tags the driver (or runner) sets itself.
func driverTag(k string) bool {
	switch k {
	case TagCluster, TagUser, TagCreatedBy, TagExpiresAt, TagOwner, TagKind, TagTeam:
		return true
	}
	return false
}

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
//
// Each cluster is exactly one stack, named <StackPrefix>-<cluster> and
// tagged cluster=<cluster>; every call names that one stack, and a stack
// without the tag is never changed, so a cluster "foo" can never touch the
// stack of "foo-bar" or a stranger's. A user node group (group.go) is one
// more stack of deploy/userasg.yaml, <StackPrefix>-<cluster>-<user>-asg,
// tagged cluster and user; Destroy deletes a cluster's group stacks before
// its own. Deploy and Destroy start the work and return; Status observes
// it, and reports running only once the stack is CREATE_COMPLETE and the
// cluster answers its health check (HealthProbe) with at least the
// requested nodes.
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
		case driverTag(k):
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
	return d.deploy(ctx, deployment{
		name:    d.StackName(spec.Name),
		what:    "cluster " + spec.Name,
		earlier: "an earlier deployment of " + spec.Name,
		owned:   func(st *types.Stack) error { return d.owned(st, spec.Name) },
		same:    func(st *types.Stack) error { return sameSettings(st, spec) },
		create: func(ctx context.Context, replaces string) (bool, error) {
			return d.create(ctx, spec, replaces)
		},
	})
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
	if len(spec.Team) > 100 || !tagValueRE.MatchString(spec.Team) {
		return provisioner.Errorf(provisioner.EINVALID, "invalid team %q: not a tag value", truncate(spec.Team, 64))
	}
	return d.checkSizing(spec.NodeCapacity, spec.CreatedBy, spec.ExpiresAt, "cluster "+spec.Name)
}

// create sends the cluster's CreateStack; exists reports that a stack of
// that name is there already (err is nil then).
func (d *Driver) create(ctx context.Context, spec provisioner.ClusterSpec, replaces string) (exists bool, err error) {
	name := d.StackName(spec.Name)
	_, exists, err = d.createStack(ctx, newStack{
		name:         name,
		token:        DeployToken(name, spec, replaces),
		params:       d.parameters(spec),
		tags:         d.tags(spec),
		capabilities: []types.Capability{types.CapabilityCapabilityIam},
		body:         d.cfg.TemplateBody,
		url:          d.cfg.TemplateURL,
		failure:      "CloudFormation did not create the stack of cluster " + spec.Name,
	})
	return exists, err
}

// parameters are the static parameters plus the cluster's, sorted by name.
func (d *Driver) parameters(spec provisioner.ClusterSpec) []types.Parameter {
	m := clone(d.cfg.Parameters)
	m[ParamClusterName] = spec.Name
	m[ParamNodeCapacity] = strconv.Itoa(spec.NodeCapacity)
	m[ParamVersion] = spec.Version
	m[ParamIsPublic] = strconv.FormatBool(spec.IsPublic)
	m[ParamCreatedBy] = creator(spec.CreatedBy)
	m[ParamExpiresAt] = expiry(spec.ExpiresAt)
	return sortedParams(m)
}

// tags are the configured tags plus the cluster's, sorted by key.
func (d *Driver) tags(spec provisioner.ClusterSpec) []types.Tag {
	m := clone(d.cfg.Tags)
	m[TagCluster] = spec.Name
	m[TagCreatedBy] = creator(spec.CreatedBy)
	m[TagExpiresAt] = expiry(spec.ExpiresAt)
	m[TagOwner], m[TagKind] = creator(spec.CreatedBy), KindCluster
	if spec.Team != "" {
		m[TagTeam] = spec.Team
	}
	return sortedTags(m)
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
