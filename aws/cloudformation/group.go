package cloudformation

import (
	"context"

	"provisioner"
)

var _ provisioner.NodeGroupDriver = (*Driver)(nil)

// GroupStackName is the one stack of a user node group, named exactly
// after its cluster and user as production's user Auto Scaling group
// stacks are (userasg.yml under "<cluster stack>-<user>-asg"):
// <StackPrefix>-<cluster>-<user>-asg. Names alone can be ambiguous
// (cluster "a-b" vs cluster "a" and user "b"), so group stacks should also
// carry cluster and user tags and be matched by them.
func (d *Driver) GroupStackName(cluster, user string) string {
	return d.StackName(cluster) + "-" + user + "-asg"
}

// errGroupsNotYet is the answer of every group method until the group
// stack (deploy/userasg.yaml, parameters from the cluster stack's
// resources) is implemented.
func errGroupsNotYet() error {
	return provisioner.Errorf(provisioner.EUNAVAILABLE, "user node groups are not implemented on AWS yet")
}

// DeployGroup will create the group's stack; not implemented on AWS yet.
func (d *Driver) DeployGroup(ctx context.Context, spec provisioner.NodeGroupSpec) error {
	return errGroupsNotYet()
}

// GroupStatus reports every group absent until groups exist on AWS, so a
// sweep finds nothing to do.
func (d *Driver) GroupStatus(ctx context.Context, cluster, user string) (provisioner.DriverStatus, error) {
	return provisioner.DriverStatus{State: provisioner.StateAbsent}, nil
}

// DestroyGroup has nothing to destroy until groups exist on AWS.
func (d *Driver) DestroyGroup(ctx context.Context, cluster, user string) error {
	return nil
}
