package cloudformation

// The stack handling that clusters, node groups and job stacks share:
// create, describe, idempotent deploy, delete (retried, then forced),
// events, and reading a stack's status, tags and parameters.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"

	"provisioner"
)

// newStack is a CreateStack to send.
type newStack struct {
	name, token  string
	params       []types.Parameter
	tags         []types.Tag
	capabilities []types.Capability
	// body or else url is the template.
	body, url string
	// failure is the message of the error when CloudFormation refuses.
	failure string
}

// createStack creates s with the driver's role and create timeout. A stack
// of that name that already exists is no error: it reports exists, and the
// caller decides.
func (d *Driver) createStack(ctx context.Context, s newStack) (stackID string, exists bool, err error) {
	in := &cfn.CreateStackInput{
		StackName:          aws.String(s.name),
		Parameters:         s.params,
		Tags:               s.tags,
		Capabilities:       s.capabilities,
		ClientRequestToken: aws.String(s.token),
		// ROLLBACK, not DELETE: the failed stack stays, empty, with its
		// status reason and events, so Status, Events and Poll can say why
		// it failed; the application (or Poll) then deletes it. DELETE would
		// make a failed stack look absent, the reason lost with the stack.
		OnFailure:        types.OnFailureRollback,
		TimeoutInMinutes: aws.Int32(int32(max(1, d.cfg.CreateTimeout.Round(time.Minute)/time.Minute))),
	}
	if s.body != "" {
		in.TemplateBody = aws.String(s.body)
	} else {
		in.TemplateURL = aws.String(s.url)
	}
	if d.cfg.RoleARN != "" {
		in.RoleARN = aws.String(d.cfg.RoleARN)
	}
	out, err := d.cfg.Client.CreateStack(ctx, in)
	switch {
	case err == nil:
		return aws.ToString(out.StackId), false, nil
	case isAlreadyExists(err):
		return "", true, nil
	}
	return "", false, cfnError(ctx, err, s.failure, "CreateStack "+s.name)
}

// deployment is one stack that Deploy or DeployGroup makes idempotently.
type deployment struct {
	name string
	// what and earlier name it in messages: "cluster foo" and "an earlier
	// deployment of foo".
	what, earlier string
	// owned refuses a stack that is not this one's; same refuses a live
	// one that runs other settings.
	owned, same func(*types.Stack) error
	// create sends CreateStack; replaces is the id of a dead stack just
	// deleted for this one ("" for none): it makes the request token
	// differ from a create that may have been made for the dead stack.
	create func(ctx context.Context, replaces string) (exists bool, err error)
}

// deploy creates dep's stack, or leaves the one there if it is dep's and
// live with the same settings. It refuses (ECONFLICT) a stack that exists
// with other settings, one being deleted, and one that is not dep's; a
// dead stack of an earlier deployment is deleted first.
func (d *Driver) deploy(ctx context.Context, dep deployment) error {
	if exists, err := dep.create(ctx, ""); !exists {
		return err
	}
	// A stack of that name exists: this deployment's (a retry whose token
	// CloudFormation no longer remembers), an earlier one's, or a stranger's.
	st, err := d.describe(ctx, dep.name)
	if err != nil {
		return err
	}
	if st == nil { // deleted in between
		return d.createOnce(ctx, dep, "")
	}
	if err := dep.owned(st); err != nil {
		return err
	}
	status := st.StackStatus
	switch {
	case live(status):
		return dep.same(st)
	case status == types.StackStatusDeleteInProgress:
		return provisioner.Errorf(provisioner.ECONFLICT, "%s is still being destroyed; deploy it again once that is done", dep.what)
	case !deletable(status):
		return provisioner.Errorf(provisioner.ECONFLICT, "the stack of %s is %s; deploy again in a few minutes", dep.earlier, status)
	}
	// A dead stack (rolled back, failed): it holds the name, and
	// CloudFormation cannot revive it. Delete it and, if that is done at
	// once (an empty rolled-back stack often is), create the new one.
	if err := d.delete(ctx, st); err != nil {
		return err
	}
	again, err := d.describe(ctx, dep.name)
	if err != nil {
		return err
	}
	if again == nil || again.StackStatus == types.StackStatusDeleteComplete {
		return d.createOnce(ctx, dep, aws.ToString(st.StackId))
	}
	return provisioner.Errorf(provisioner.ECONFLICT, "the stack of %s was %s and is being deleted; deploy again in a few minutes", dep.earlier, status)
}

// createOnce is create when the name was just seen free: a stack that
// appeared meanwhile is another deployment's, racing this one.
func (d *Driver) createOnce(ctx context.Context, dep deployment, replaces string) error {
	exists, err := dep.create(ctx, replaces)
	if exists {
		return provisioner.Errorf(provisioner.ECONFLICT, "another deployment of %s created its stack meanwhile; deploy again", dep.what)
	}
	return err
}

// checkSizing validates what a cluster's and a node group's specs share;
// what names the subject ("cluster foo").
func (d *Driver) checkSizing(nodes int, createdBy string, expiresAt time.Time, what string) error {
	if nodes < 1 || nodes > MaxNodeCapacity {
		return provisioner.Errorf(provisioner.EINVALID, "node capacity must be between 1 and %d", MaxNodeCapacity)
	}
	if createdBy != "" && !createdByRE.MatchString(createdBy) {
		return provisioner.Errorf(provisioner.EINVALID, "creator %q cannot be a tag value", truncate(createdBy, 64))
	}
	if !expiresAt.IsZero() && !expiresAt.After(d.cfg.Now()) {
		return provisioner.Errorf(provisioner.EINVALID, "%s would expire at %s, which is past", what, expiresAt.UTC().Format(time.RFC3339))
	}
	return nil
}

// creator and expiry are the CreatedBy and ExpiresAt parameter and tag
// values of a spec.
func creator(createdBy string) string {
	if createdBy == "" {
		return "provisioner"
	}
	return createdBy
}

func expiry(expiresAt time.Time) string {
	if expiresAt.IsZero() {
		return "none"
	}
	return expiresAt.UTC().Format(time.RFC3339)
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

// health is how a created stack's nodes are counted (see createdStatus).
type health struct {
	// count counts the nodes registered; nil when the probe cannot, and
	// uncounted says so.
	count     func(ctx context.Context) (nodes int, err error)
	uncounted string
	// check names what is waited for; waitNote and countNote end the
	// reasons while the check fails and while nodes are missing.
	check, waitNote, countNote string
}

// createdStatus is the status of a stack whose resources exist (out is
// stateCreated so far): running once the health check counts at least the
// stack's NodeCapacity nodes, deploying until then.
func createdStatus(ctx context.Context, st *types.Stack, out provisioner.DriverStatus, h health) provisioner.DriverStatus {
	want, err := strconv.Atoi(stackParams(st)[ParamNodeCapacity])
	if err != nil || want < 1 {
		return provisioner.DriverStatus{State: provisioner.StateFailed, Endpoint: out.Endpoint,
			Reason: fmt.Sprintf("stack %s has no valid %s parameter", aws.ToString(st.StackName), ParamNodeCapacity)}
	}
	out.State = provisioner.StateDeploying
	if h.count == nil {
		out.Reason = h.uncounted
		return out
	}
	nodes, err := h.count(ctx)
	switch {
	case err != nil:
		out.Reason = fmt.Sprintf("stack %s; waiting for %s: %v%s", st.StackStatus, h.check, err, h.waitNote)
	case nodes < want:
		out.Nodes = max(nodes, 0)
		out.Reason = fmt.Sprintf("%d of %d nodes registered%s", out.Nodes, want, h.countNote)
	default:
		out.State, out.Nodes, out.Reason = provisioner.StateRunning, nodes, ""
	}
	return out
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

// remove deletes st unless it is gone or going already: a stack being
// created is deleted too (CloudFormation cancels the creation); one rolling
// back or updating is EUNAVAILABLE until that ends, as CloudFormation
// refuses DeleteStack then (the caller retries: the application's sweep,
// the next Poll or Reap). subject names the stack in that error.
func (d *Driver) remove(ctx context.Context, st *types.Stack, subject string) error {
	switch status := st.StackStatus; {
	case status == types.StackStatusDeleteComplete || status == types.StackStatusDeleteInProgress:
		return nil
	case strings.HasSuffix(string(status), "_IN_PROGRESS") && status != types.StackStatusCreateInProgress &&
		status != types.StackStatusReviewInProgress:
		return provisioner.Errorf(provisioner.EUNAVAILABLE, "%s is %s; it can be deleted once that ends", subject, status)
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

// destroyToken is the ClientRequestToken of a DeleteStack: the same for
// every retry of one attempt on one stack (the stack id names its
// incarnation), new for the attempt after a DELETE_FAILED, which
// CloudFormation would otherwise take for the failed request again.
func destroyToken(cluster, stackID string, attempt int, force bool) string {
	h := sha256.Sum256(fmt.Appendf(nil, "destroy\x00%s\x00%d\x00%t", stackID, attempt, force))
	return "destroy-" + cluster + "-" + hex.EncodeToString(h[:])[:24]
}

// stackEvents returns the newest events of st (at most MaxEvents), oldest
// first, as provisioner events of key.
func (d *Driver) stackEvents(ctx context.Context, st *types.Stack, key string) ([]provisioner.Event, error) {
	var out []provisioner.Event
	err := d.events(ctx, aws.ToString(st.StackId), d.cfg.MaxEvents, func(e types.StackEvent) bool {
		out = append(out, event(key, e))
		return len(out) < d.cfg.MaxEvents
	})
	if err != nil {
		return nil, err
	}
	slices.Reverse(out) // CloudFormation lists the newest first
	return out, nil
}

func event(key string, e types.StackEvent) provisioner.Event {
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
		Cluster: key,
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

func stackTags(st *types.Stack) map[string]string {
	m := make(map[string]string, len(st.Tags))
	for _, t := range st.Tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

func stackParams(st *types.Stack) map[string]string {
	m := make(map[string]string, len(st.Parameters))
	for _, p := range st.Parameters {
		m[aws.ToString(p.ParameterKey)] = aws.ToString(p.ParameterValue)
	}
	return m
}

func sortedParams(m map[string]string) []types.Parameter {
	out := make([]types.Parameter, 0, len(m))
	for _, k := range sortedKeys(m) {
		out = append(out, types.Parameter{ParameterKey: aws.String(k), ParameterValue: aws.String(m[k])})
	}
	return out
}

func sortedTags(m map[string]string) []types.Tag {
	out := make([]types.Tag, 0, len(m))
	for _, k := range sortedKeys(m) {
		out = append(out, types.Tag{Key: aws.String(k), Value: aws.String(m[k])})
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func clone(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
