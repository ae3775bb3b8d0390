package awstest

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	cfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
)

// networkTemplate is what cluster stacks and job machines need around them:
// an existing VPC with a public and a private subnet (so cluster stacks
// delete cleanly in the emulator), a hosted zone, and an instance profile
// and security group for job machines.
const networkTemplate = `
Parameters:
  Domain: {Type: String}
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties: {CidrBlock: 10.77.0.0/16}
  PublicSubnet:
    Type: AWS::EC2::Subnet
    Properties: {VpcId: !Ref Vpc, CidrBlock: 10.77.0.0/24}
  PrivateSubnet:
    Type: AWS::EC2::Subnet
    Properties: {VpcId: !Ref Vpc, CidrBlock: 10.77.16.0/20}
  JobGroup:
    Type: AWS::EC2::SecurityGroup
    Properties: {GroupDescription: job machines, VpcId: !Ref Vpc}
  Zone:
    Type: AWS::Route53::HostedZone
    Properties: {Name: !Ref Domain}
  JobRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement: [{Effect: Allow, Principal: {Service: ec2.amazonaws.com}, Action: "sts:AssumeRole"}]
  JobProfile:
    Type: AWS::IAM::InstanceProfile
    Properties: {Roles: [!Ref JobRole]}
Outputs:
  VpcId: {Value: !Ref Vpc}
  PublicSubnetId: {Value: !Ref PublicSubnet}
  PrivateSubnetId: {Value: !Ref PrivateSubnet}
  ZoneId: {Value: !Ref Zone}
  JobProfileArn: {Value: !GetAtt JobProfile.Arn}
  JobGroupId: {Value: !GetAtt JobGroup.GroupId}
`

// Network is a network stack made by CreateNetwork.
type Network struct {
	Stack, Domain                    string
	VPC, PublicSubnet, PrivateSubnet string
	ZoneID                           string // without the /hostedzone/ prefix
	JobProfileARN                    string
	JobSecurityGroup                 string
}

// CreateNetwork creates a network stack named stack, with a hosted zone for
// domain, and returns its outputs.
func CreateNetwork(ctx context.Context, c *cfn.Client, stack, domain string) (Network, error) {
	n := Network{Stack: stack, Domain: domain}
	_, err := c.CreateStack(ctx, &cfn.CreateStackInput{StackName: aws.String(stack), TemplateBody: aws.String(networkTemplate),
		Parameters:   []types.Parameter{{ParameterKey: aws.String("Domain"), ParameterValue: aws.String(domain)}},
		Capabilities: []types.Capability{types.CapabilityCapabilityIam}})
	if err != nil {
		return n, err
	}
	out, err := c.DescribeStacks(ctx, &cfn.DescribeStacksInput{StackName: aws.String(stack)})
	if err != nil {
		return n, err
	}
	for _, o := range out.Stacks[0].Outputs {
		v := aws.ToString(o.OutputValue)
		switch aws.ToString(o.OutputKey) {
		case "VpcId":
			n.VPC = v
		case "PublicSubnetId":
			n.PublicSubnet = v
		case "PrivateSubnetId":
			n.PrivateSubnet = v
		case "ZoneId":
			n.ZoneID = v[strings.LastIndex(v, "/")+1:]
		case "JobProfileArn":
			n.JobProfileARN = v
		case "JobGroupId":
			n.JobSecurityGroup = v
		}
	}
	if n.VPC == "" || n.PublicSubnet == "" || n.PrivateSubnet == "" || n.ZoneID == "" || n.JobProfileARN == "" || n.JobSecurityGroup == "" {
		return n, fmt.Errorf("network stack outputs incomplete: %+v", out.Stacks[0].Outputs)
	}
	return n, nil
}
