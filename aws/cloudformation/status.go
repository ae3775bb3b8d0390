package cloudformation

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"provisioner"
)

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
	out := provisioner.DriverStatus{State: state, Reason: reason, Endpoint: d.Endpoint(name)}
	if state != stateCreated {
		return out, nil
	}
	since := ""
	if t := aws.ToTime(st.CreationTime); !t.IsZero() {
		since = fmt.Sprintf(" (stack created %s ago)", d.cfg.Now().Sub(t).Round(time.Second))
	}
	return createdStatus(ctx, st, out, health{
		count: func(ctx context.Context) (int, error) { return d.cfg.HealthProbe.Check(ctx, name, out.Endpoint) },
		check: "the health check", waitNote: since, countNote: since,
	}), nil
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
	if err := d.remove(ctx, st, "the stack of cluster "+name); err != nil {
		return err
	}
	return groupErr
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
	return d.stackEvents(ctx, st, name)
}
