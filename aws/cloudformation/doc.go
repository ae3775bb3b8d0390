// Package cloudformation is the AWS backend's CloudFormation side: Driver,
// the provisioner.ClusterDriver and NodeGroupDriver (one stack of
// deploy/cluster.yaml per cluster, one of deploy/userasg.yaml per user
// node group), and Runner, the provisioner.JobRunner (one stack of
// deploy/runner.yaml per TEST or RELEASE job, its results in S3).
//
// Neither keeps state of its own: CloudFormation and S3 are the record.
// Every call names one stack exactly (never a name prefix) and changes only
// a stack that carries its owner's tags. The rights each needs are in
// deploy/README.md ("Permissions, and why they are enough").
package cloudformation
