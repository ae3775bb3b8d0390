package cloudformation

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	cfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"

	"provisioner"
)

var (
	_ provisioner.NodeGroupDriver  = (*Driver)(nil)
	_ provisioner.GroupEventSource = (*Driver)(nil)
)

// TagUser marks a node group's stack with its user, beside TagCluster:
// a group stack is (cluster, user)'s only if it carries both.
const TagUser = "user"

// The parameters of deploy/userasg.yaml the driver sets for each group
// (besides ParamClusterName, ParamNodeCapacity, ParamVersion,
// ParamCreatedBy and ParamExpiresAt).
const (
	ParamUsername               = "Username"
	ParamSubnetID               = "SubnetId"
	ParamNodeSecurityGroupID    = "NodeSecurityGroupId"
	ParamNodeInstanceProfileARN = "NodeInstanceProfileArn"
	ParamOrchestratorIP         = "OrchestratorIp"
)

// groupOutputs are the cluster stack's outputs (deploy/cluster.yaml) a
// group stack's parameters come from: output -> parameter.
var groupOutputs = map[string]string{
	"NodeSubnetId":           ParamSubnetID,
	"NodeSecurityGroupId":    ParamNodeSecurityGroupID,
	"NodeInstanceProfileArn": ParamNodeInstanceProfileARN,
	"LoadBalancerPrivateIp":  ParamOrchestratorIP,
}

// groupSharedParams are the cluster stack's parameters a group stack
// takes as they are, so its nodes run as the cluster's do (same registry,
// project files, streams, image and instance type). A parameter the
// cluster stack does not report keeps userasg.yaml's default, which is
// cluster.yaml's.
var groupSharedParams = []string{
	ParamDomain, "ImageRegistry", "ProjectBucket", "ProjectFolder", "EnvironmentVersion", "AlertStream",
	"TelemetryStream", "ComposeURL", "ComposeSHA256", "AMI", "NodeInstanceType", "NodeVolumeSize",
}

// maxStackName is CloudFormation's limit on a stack name.
const maxStackName = 128

// ServiceProbe is a HealthProbe that counts the nodes registered under
// any service of a cluster's load balancer, not only the cluster's own:
// a user node group's nodes register under service = the user.
// HTTPProbe is one; a Driver with a group template needs one.
type ServiceProbe interface {
	CheckService(ctx context.Context, cluster, service, endpoint string) (nodes int, err error)
}

// GroupStackName is the one stack of a user node group, named exactly
// after its cluster and user as production's user Auto Scaling group
// stacks are (userasg.yml under "<cluster stack>-<user>-asg"):
// <StackPrefix>-<cluster>-<user>-asg. Names alone can be ambiguous
// (cluster "a-b" and user "c" vs cluster "a" and user "b-c"), so group
// stacks carry the tags cluster and user, and a stack is a group's only
// when both match.
func (d *Driver) GroupStackName(cluster, user string) string {
	return d.StackName(cluster) + "-" + user + "-asg"
}

// groupsEnabled reports a configured group template.
func (d *Driver) groupsEnabled() bool {
	return d.cfg.GroupTemplateBody != "" || d.cfg.GroupTemplateURL != ""
}

func (d *Driver) checkGroupName(cluster, user string) error {
	if err := provisioner.ValidateClusterName(cluster); err != nil {
		return err
	}
	if err := provisioner.ValidateUsername(user); err != nil {
		return err
	}
	if n := len(d.GroupStackName(cluster, user)); n > maxStackName {
		return provisioner.Errorf(provisioner.EINVALID, "the node group stack name of %s on %s would be %d characters, more than CloudFormation's %d", user, cluster, n, maxStackName)
	}
	return nil
}

// checkGroupSpec validates what DeployGroup sends to CloudFormation.
func (d *Driver) checkGroupSpec(spec provisioner.NodeGroupSpec) error {
	if err := d.checkGroupName(spec.Cluster, spec.User); err != nil {
		return err
	}
	if spec.Version != "" {
		if err := provisioner.ValidateVersion(spec.Version); err != nil {
			return err
		}
		if !versionRE.MatchString(spec.Version) {
			return provisioner.Errorf(provisioner.EINVALID, "invalid version %q", truncate(spec.Version, 64))
		}
	}
	return d.checkSizing(spec.NodeCapacity, spec.CreatedBy, spec.ExpiresAt, groupWhat(spec.Cluster, spec.User))
}

// DeployGroup creates the group's stack of deploy/userasg.yaml, its
// parameters read from the cluster's stack, and returns once
// CloudFormation has accepted it. It refuses ENOTFOUND when the cluster's
// stack does not exist, ECONFLICT when it is not created (or not this
// driver's, or predates node groups), EUNAVAILABLE without a group
// template. Like Deploy it is idempotent: a group stack that exists with
// the same capacity is left alone, one with another is refused, a dead one
// is deleted and created again.
func (d *Driver) DeployGroup(ctx context.Context, spec provisioner.NodeGroupSpec) error {
	if err := d.checkGroupSpec(spec); err != nil {
		return err
	}
	if !d.groupsEnabled() {
		return provisioner.Errorf(provisioner.EUNAVAILABLE, "user node groups are not configured on this provisioner (no group template)")
	}
	parent, err := d.describe(ctx, d.StackName(spec.Cluster))
	if err != nil {
		return err
	}
	if parent == nil || parent.StackStatus == types.StackStatusDeleteComplete {
		return provisioner.Errorf(provisioner.ENOTFOUND, "cluster %s does not exist", spec.Cluster)
	}
	if err := d.owned(parent, spec.Cluster); err != nil {
		return err
	}
	if state, _ := stackState(parent); state != stateCreated {
		return provisioner.Errorf(provisioner.ECONFLICT, "the stack of cluster %s is %s; a node group attaches to a running cluster only", spec.Cluster, parent.StackStatus)
	}
	params, err := groupParameters(parent, spec)
	if err != nil {
		return err
	}
	return d.deploy(ctx, deployment{
		name:    d.GroupStackName(spec.Cluster, spec.User),
		what:    groupWhat(spec.Cluster, spec.User),
		earlier: fmt.Sprintf("an earlier node group of %s on %s", spec.User, spec.Cluster),
		owned:   func(st *types.Stack) error { return ownedGroup(st, spec.Cluster, spec.User) },
		same: func(st *types.Stack) error {
			if got := stackParams(st)[ParamNodeCapacity]; got != strconv.Itoa(spec.NodeCapacity) {
				return provisioner.Errorf(provisioner.ECONFLICT, "the node group of %s on %s already exists with %s %q (asked %d); destroy it first",
					spec.User, spec.Cluster, ParamNodeCapacity, got, spec.NodeCapacity)
			}
			return nil
		},
		create: func(ctx context.Context, replaces string) (bool, error) {
			return d.createGroup(ctx, spec, params, replaces)
		},
	})
}

// groupWhat names a node group in messages.
func groupWhat(cluster, user string) string {
	return fmt.Sprintf("the node group of %s on %s", user, cluster)
}

// groupParameters are a group stack's parameters: the spec's, the
// cluster stack's outputs, and the cluster stack's shared parameters.
func groupParameters(parent *types.Stack, spec provisioner.NodeGroupSpec) (map[string]string, error) {
	outputs := map[string]string{}
	for _, o := range parent.Outputs {
		outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	m := map[string]string{}
	var missing []string
	for out, param := range groupOutputs {
		v := outputs[out]
		if v == "" {
			missing = append(missing, out)
		}
		m[param] = v
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return nil, provisioner.Errorf(provisioner.ECONFLICT, "the stack of cluster %s has no output %s (it predates node groups); redeploy the cluster to attach node groups",
			spec.Cluster, strings.Join(missing, ", "))
	}
	pp := stackParams(parent)
	for _, k := range groupSharedParams {
		v, ok := pp[k]
		// AMI is an SSM parameter name (AWS reports the name, its
		// ResolvedValue the image); a value that is not a name (the
		// emulator reports the image) keeps the group template's default.
		if ok && (k != "AMI" || strings.HasPrefix(v, "/")) {
			m[k] = v
		}
	}
	m[ParamClusterName] = spec.Cluster
	m[ParamUsername] = spec.User
	m[ParamNodeCapacity] = strconv.Itoa(spec.NodeCapacity)
	m[ParamVersion] = spec.Version
	if spec.Version == "" {
		m[ParamVersion] = pp[ParamVersion]
	}
	m[ParamCreatedBy] = creator(spec.CreatedBy)
	m[ParamExpiresAt] = expiry(spec.ExpiresAt)
	// Values from the cluster stack passed its template's patterns; these
	// are checked again, as shell-safe words, before they reach another.
	for k, v := range m {
		if !safeParamRE.MatchString(v) {
			return nil, provisioner.Errorf(provisioner.ECONFLICT, "the stack of cluster %s gives %s a value the node group refuses: %q", spec.Cluster, k, truncate(v, 64))
		}
	}
	return m, nil
}

// safeParamRE admits what the group template's patterns can admit: no
// quote, space, "$", backslash, newline or other shell syntax.
var safeParamRE = regexp.MustCompile(`^[A-Za-z0-9._:/@+=%~,-]*$`)

// createGroup sends CreateStack for the group; exists reports a stack of
// that name already there.
func (d *Driver) createGroup(ctx context.Context, spec provisioner.NodeGroupSpec, params map[string]string, replaces string) (exists bool, err error) {
	name := d.GroupStackName(spec.Cluster, spec.User)
	tags := clone(d.cfg.Tags)
	tags[TagCluster] = spec.Cluster
	tags[TagUser] = spec.User
	tags[TagCreatedBy] = creator(spec.CreatedBy)
	tags[TagExpiresAt] = expiry(spec.ExpiresAt)
	// The group's nodes are its user's to pay; its cluster's team, if any,
	// is read from the cluster's own resources (aws/costexplorer).
	tags[TagOwner], tags[TagKind] = spec.User, KindGroup
	_, exists, err = d.createStack(ctx, newStack{
		name:    name,
		token:   GroupDeployToken(name, spec, replaces),
		params:  sortedParams(params),
		tags:    sortedTags(tags),
		body:    d.cfg.GroupTemplateBody,
		url:     d.cfg.GroupTemplateURL,
		failure: "CloudFormation did not create the stack of " + groupWhat(spec.Cluster, spec.User),
	})
	return exists, err
}

// GroupDeployToken is the ClientRequestToken of a group's CreateStack:
// the same for every retry of one deployment, different for the next.
func GroupDeployToken(stack string, spec provisioner.NodeGroupSpec, replaces string) string {
	h := sha256.New()
	fmt.Fprintf(h, "group\x00%s\x00%s\x00%s\x00%d\x00%s\x00%s\x00%d\x00%s",
		stack, spec.Cluster, spec.User, spec.NodeCapacity, spec.Version, spec.CreatedBy, spec.ExpiresAt.UnixNano(), replaces)
	return "group-" + hex.EncodeToString(h.Sum(nil))[:40]
}

// ownedGroup refuses a stack that is not (cluster, user)'s group stack.
func ownedGroup(st *types.Stack, cluster, user string) error {
	t := stackTags(st)
	if t[TagCluster] == cluster && t[TagUser] == user {
		return nil
	}
	return provisioner.Errorf(provisioner.ECONFLICT, "stack %s exists but is not the node group of %s on %s (no tags %s=%s, %s=%s); the provisioner leaves it alone",
		aws.ToString(st.StackName), user, cluster, TagCluster, cluster, TagUser, user)
}

// GroupStatus observes the group's stack; a created stack is running
// when the cluster's load balancer counts at least the stack's
// NodeCapacity nodes under the user's service (POST /discovery/status
// {"service": user}).
func (d *Driver) GroupStatus(ctx context.Context, cluster, user string) (provisioner.DriverStatus, error) {
	if err := d.checkGroupName(cluster, user); err != nil {
		return provisioner.DriverStatus{}, err
	}
	name := d.GroupStackName(cluster, user)
	st, err := d.describe(ctx, name)
	if err != nil {
		return provisioner.DriverStatus{}, err
	}
	if st == nil {
		return provisioner.DriverStatus{State: provisioner.StateAbsent}, nil
	}
	if err := ownedGroup(st, cluster, user); err != nil {
		return provisioner.DriverStatus{State: provisioner.StateFailed, Reason: provisioner.ErrorMessage(err)}, nil
	}
	state, reason := stackState(st)
	out := provisioner.DriverStatus{State: state, Reason: reason}
	if state != provisioner.StateAbsent {
		out.Endpoint = d.Endpoint(cluster)
	}
	if state != stateCreated {
		return out, nil
	}
	h := health{uncounted: "the health probe cannot count a node group's nodes",
		check: "the health check of service " + user, countNote: " as service " + user}
	if sp, ok := d.cfg.HealthProbe.(ServiceProbe); ok {
		h.count = func(ctx context.Context) (int, error) { return sp.CheckService(ctx, cluster, user, out.Endpoint) }
	}
	return createdStatus(ctx, st, out, h), nil
}

// DestroyGroup deletes the group's stack (never its cluster's), with
// Destroy's rules: absent or being deleted is success, a rollback or
// update in progress EUNAVAILABLE, DELETE_FAILED retried then forced.
func (d *Driver) DestroyGroup(ctx context.Context, cluster, user string) error {
	if err := d.checkGroupName(cluster, user); err != nil {
		return err
	}
	st, err := d.describe(ctx, d.GroupStackName(cluster, user))
	if err != nil || st == nil {
		return err
	}
	if err := ownedGroup(st, cluster, user); err != nil {
		return err
	}
	return d.remove(ctx, st, "the stack of "+groupWhat(cluster, user))
}

// groupStacks returns the live group stacks of cluster: stacks named
// <StackName(cluster)>-<user>-asg whose tags say cluster and that user
// (a name alone may be another cluster's group, or a cluster's own stack).
func (d *Driver) groupStacks(ctx context.Context, cluster string) ([]*types.Stack, error) {
	base := d.StackName(cluster) + "-"
	var names []string
	in := &cfn.ListStacksInput{StackStatusFilter: liveStatuses}
	for page := 0; page < 100; page++ {
		out, err := d.cfg.Client.ListStacks(ctx, in)
		if err != nil {
			return nil, cfnError(ctx, err, "CloudFormation did not list the stacks", "ListStacks")
		}
		for _, s := range out.StackSummaries {
			n := aws.ToString(s.StackName)
			if s.StackStatus != types.StackStatusDeleteComplete && strings.HasPrefix(n, base) && strings.HasSuffix(n, "-asg") && !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
		if aws.ToString(out.NextToken) == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	slices.Sort(names)
	var stacks []*types.Stack
	for _, n := range names {
		st, err := d.describe(ctx, n)
		if err != nil {
			return nil, err
		}
		if st == nil {
			continue
		}
		user := stackTags(st)[TagUser]
		if user != "" && provisioner.ValidateUsername(user) == nil && n == d.GroupStackName(cluster, user) && ownedGroup(st, cluster, user) == nil {
			stacks = append(stacks, st)
		}
	}
	return stacks, nil
}

// liveStatuses is every stack status but DELETE_COMPLETE.
var liveStatuses = func() []types.StackStatus {
	var out []types.StackStatus
	for _, s := range types.StackStatus("").Values() {
		if s != types.StackStatusDeleteComplete {
			out = append(out, s)
		}
	}
	return out
}()

// destroyGroups deletes every group stack of cluster, as production
// deletes a cluster's user stacks before the cluster's own.
func (d *Driver) destroyGroups(ctx context.Context, cluster string) error {
	stacks, err := d.groupStacks(ctx, cluster)
	if err != nil {
		return err
	}
	var errs []string
	for _, st := range stacks {
		if err := d.remove(ctx, st, "the stack of "+groupWhat(cluster, stackTags(st)[TagUser])); err != nil {
			errs = append(errs, provisioner.ErrorMessage(err))
		}
	}
	if len(errs) > 0 {
		return provisioner.Errorf(provisioner.EUNAVAILABLE, "node groups of cluster %s: %s", cluster, strings.Join(errs, "; "))
	}
	return nil
}

// GroupEvents returns the newest events of the group's stack (at most
// MaxEvents), oldest first, as Events does for a cluster; keyed by the
// group's GroupKey.
func (d *Driver) GroupEvents(ctx context.Context, cluster, user string) ([]provisioner.Event, error) {
	if err := d.checkGroupName(cluster, user); err != nil {
		return nil, err
	}
	st, err := d.describe(ctx, d.GroupStackName(cluster, user))
	if err != nil || st == nil {
		return nil, err
	}
	if err := ownedGroup(st, cluster, user); err != nil {
		return nil, err
	}
	return d.stackEvents(ctx, st, provisioner.GroupKey(cluster, user))
}
