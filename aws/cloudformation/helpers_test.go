package cloudformation_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/smithy-go/middleware"

	"provisioner"
	"provisioner/aws/awsenv"
	"provisioner/aws/awstest"
	"provisioner/aws/cloudformation"
)

var bg = context.Background()

// templatePath is deploy/cluster.yaml, found from this file.
func templatePath(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test file")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "deploy", "cluster.yaml")
}

func readTemplate(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(templatePath(t))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// groupTemplatePath is deploy/userasg.yaml.
func groupTemplatePath(t testing.TB) string {
	t.Helper()
	return filepath.Join(filepath.Dir(templatePath(t)), "userasg.yaml")
}

func readGroupTemplate(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(groupTemplatePath(t))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// network is what the cluster stacks of the tests share: an existing VPC
// with two subnets (so the stacks delete cleanly in the emulator; see
// TestRealTemplateNewVPC) and a hosted zone, made by one stack per run.
type network struct {
	once                 sync.Once
	err                  error
	client               *cfn.Client
	stack                string
	vpc, public, private string
	zoneID, domain       string
}

var shared network

// sharedNetwork creates the shared network stack once; TestMain deletes it.
func sharedNetwork(t testing.TB) *network {
	t.Helper()
	cfg := awstest.Config(t)
	shared.once.Do(func() {
		n := &shared
		n.client = cfn.NewFromConfig(cfg)
		n.stack = awstest.Name("cfn-test-network")
		n.domain = awstest.Name("cfn") + ".example.org"
		var net awstest.Network
		net, n.err = awstest.CreateNetwork(bg, n.client, n.stack, n.domain)
		n.vpc, n.public, n.private, n.zoneID = net.VPC, net.PublicSubnet, net.PrivateSubnet, net.ZoneID
	})
	if shared.err != nil {
		t.Fatalf("shared network stack: %v", shared.err)
	}
	return &shared
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.client != nil && shared.stack != "" {
		if _, err := shared.client.DeleteStack(bg, &cfn.DeleteStackInput{StackName: aws.String(shared.stack)}); err != nil {
			fmt.Fprintln(os.Stderr, "deleting the shared network stack:", err)
		}
	}
	os.Exit(code)
}

// staticParams are the operator's parameters of deploy/cluster.yaml for
// the shared network.
func staticParams(n *network) map[string]string {
	return map[string]string{
		"Domain":                   n.domain,
		"HostedZoneId":             n.zoneID,
		"ProvisionerURL":           "https://provisioner.example.org",
		"ProvisionerReleaseURL":    "https://github.com/SlideRuleEarth/sliderule-provisioner/releases/download/v1.0.0/provisioner-linux-arm64",
		"ProvisionerReleaseSHA256": strings.Repeat("5e", 32),
		"ImageRegistry":            "123456789012.dkr.ecr.us-west-2.amazonaws.com",
		"ProjectBucket":            "sliderule-test-project",
		"VpcId":                    n.vpc,
		"PublicSubnetId":           n.public,
		"PrivateSubnetId":          n.private,
	}
}

// probe is a HealthProbe (and ServiceProbe) whose answers the test sets
// per cluster, and per "cluster/service" for node groups.
type probe struct {
	mu     sync.Mutex
	nodes  map[string]int
	err    error
	checks []string // "cluster endpoint", or "cluster/service endpoint"
}

func (p *probe) CheckService(_ context.Context, cluster, service, endpoint string) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	key := cluster + "/" + service
	p.checks = append(p.checks, key+" "+endpoint)
	if p.err != nil {
		return 0, p.err
	}
	return p.nodes[key], nil
}

func (p *probe) Check(_ context.Context, cluster, endpoint string) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.checks = append(p.checks, cluster+" "+endpoint)
	if p.err != nil {
		return 0, p.err
	}
	return p.nodes[cluster], nil
}

func (p *probe) set(cluster string, nodes int, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.nodes == nil {
		p.nodes = map[string]int{}
	}
	p.nodes[cluster], p.err = nodes, err
}

// env is one test's driver on the emulator, with its own stack prefix.
type env struct {
	t      *testing.T
	d      *cloudformation.Driver
	c      *cfn.Client // an uncounted client, for checking
	count  *awsenv.Counter
	probe  *probe
	net    *network
	prefix string
	cfg    cloudformation.Config
	inject *injector
	now    time.Time
}

type envOption func(*cloudformation.Config)

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	n := sharedNetwork(t)
	plain := awstest.Config(t)
	counted := awstest.Config(t)
	e := &env{t: t, c: cfn.NewFromConfig(plain), probe: &probe{}, net: n, prefix: awstest.Name("cfn"),
		inject: &injector{}, now: time.Now().UTC()}
	e.inject.install(&counted)
	e.count = awsenv.Count(&counted)
	e.cfg = cloudformation.Config{
		Client:            cfn.NewFromConfig(counted),
		StackPrefix:       e.prefix,
		TemplateBody:      readTemplate(t),
		GroupTemplateBody: readGroupTemplate(t),
		Parameters:        staticParams(n),
		Tags:              map[string]string{"project": "sliderule", "managed-by": "provisioner-test"},
		HealthProbe:       e.probe,
		Now:               func() time.Time { return e.now },
	}
	for _, o := range opts {
		o(&e.cfg)
	}
	d, err := cloudformation.New(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.d = d
	return e
}

func (e *env) spec(name string, nodes int) provisioner.ClusterSpec {
	return provisioner.ClusterSpec{Name: name, NodeCapacity: nodes, Version: "v4.5.1", CreatedBy: "alice",
		ExpiresAt: e.now.Add(4 * time.Hour).Truncate(time.Second)}
}

// deploy deploys and registers the stack's deletion at the end of the test.
func (e *env) deploy(spec provisioner.ClusterSpec) {
	e.t.Helper()
	if err := e.d.Deploy(bg, spec); err != nil {
		e.t.Fatalf("Deploy(%s): %v", spec.Name, err)
	}
	e.t.Cleanup(func() { _ = e.d.Destroy(bg, spec.Name) })
}

// stack describes a stack by exact name with the uncounted client; nil if
// there is none.
func (e *env) stack(name string) *types.Stack {
	e.t.Helper()
	out, err := e.c.DescribeStacks(bg, &cfn.DescribeStacksInput{StackName: aws.String(name)})
	if err != nil {
		if strings.Contains(err.Error(), "does not exist") {
			return nil
		}
		e.t.Fatal(err)
	}
	if len(out.Stacks) != 1 {
		e.t.Fatalf("DescribeStacks(%s) returned %d stacks", name, len(out.Stacks))
	}
	return &out.Stacks[0]
}

// liveStacksNamed counts the stacks of that exact name not deleted.
func (e *env) liveStacksNamed(name string) int {
	e.t.Helper()
	n := 0
	p := cfn.NewListStacksPaginator(e.c, &cfn.ListStacksInput{})
	for p.HasMorePages() {
		out, err := p.NextPage(bg)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, s := range out.StackSummaries {
			if aws.ToString(s.StackName) == name && s.StackStatus != types.StackStatusDeleteComplete {
				n++
			}
		}
	}
	return n
}

func (e *env) status(name string) provisioner.DriverStatus {
	e.t.Helper()
	st, err := e.d.Status(bg, name)
	if err != nil {
		e.t.Fatalf("Status(%s): %v", name, err)
	}
	return st
}

func params(st *types.Stack) map[string]string {
	m := map[string]string{}
	for _, p := range st.Parameters {
		m[aws.ToString(p.ParameterKey)] = aws.ToString(p.ParameterValue)
	}
	return m
}

func tags(st *types.Stack) map[string]string {
	m := map[string]string{}
	for _, t := range st.Tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

// injector changes what the emulator answers, for the stack states it
// cannot reach (ROLLBACK_COMPLETE, DELETE_FAILED): status rewrites
// DescribeStacks answers for one stack name, failures adds stack-level
// DELETE_FAILED events, and every input is recorded, to show what the
// driver asks of CloudFormation. Everything else is the emulator's answer.
type injector struct {
	mu       sync.Mutex
	stack    string
	status   types.StackStatus
	times    int // how many DescribeStacks answers to rewrite; <0: all
	failures int
	inputs   []any
	// reason replaces the injected status reason; instanceFailure adds a
	// CREATE_FAILED event of the stack's instance with that reason.
	reason          string
	instanceFailure string
}

func (in *injector) install(cfg *aws.Config) {
	cfg.APIOptions = append(cfg.APIOptions, func(s *middleware.Stack) error {
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("inject",
			func(ctx context.Context, mi middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				in.mu.Lock()
				in.inputs = append(in.inputs, mi.Parameters)
				in.mu.Unlock()
				out, md, err := next.HandleInitialize(ctx, mi)
				if err != nil {
					return out, md, err
				}
				in.mu.Lock()
				defer in.mu.Unlock()
				switch r := out.Result.(type) {
				case *cfn.DescribeStacksOutput:
					for i := range r.Stacks {
						if aws.ToString(r.Stacks[i].StackName) == in.stack && in.status != "" && in.times != 0 {
							r.Stacks[i].StackStatus = in.status
							r.Stacks[i].StackStatusReason = aws.String("injected by the test")
							if in.reason != "" {
								r.Stacks[i].StackStatusReason = aws.String(in.reason)
							}
							in.times--
						}
					}
				case *cfn.DescribeStackEventsOutput:
					if q, ok := mi.Parameters.(*cfn.DescribeStackEventsInput); ok && in.instanceFailure != "" &&
						(aws.ToString(q.StackName) == in.stack || strings.Contains(aws.ToString(q.StackName), "/"+in.stack+"/")) {
						r.StackEvents = append([]types.StackEvent{{EventId: aws.String("injected-instance"),
							ResourceType: aws.String("AWS::EC2::Instance"), LogicalResourceId: aws.String("Instance"),
							ResourceStatus: types.ResourceStatusCreateFailed, ResourceStatusReason: aws.String(in.instanceFailure),
							Timestamp: aws.Time(time.Now())}}, r.StackEvents...)
					}
					for range in.failures {
						r.StackEvents = append(r.StackEvents, types.StackEvent{EventId: aws.String("injected"),
							ResourceType: aws.String("AWS::CloudFormation::Stack"), LogicalResourceId: aws.String(in.stack),
							ResourceStatus: types.ResourceStatusDeleteFailed, Timestamp: aws.Time(time.Now())})
					}
				}
				return out, md, nil
			}), middleware.Before)
	})
}

func (in *injector) set(stack string, status types.StackStatus, times, failures int) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.stack, in.status, in.times, in.failures = stack, status, times, failures
}

// deletes returns the DeleteStack inputs recorded so far.
func (in *injector) deletes() []*cfn.DeleteStackInput {
	in.mu.Lock()
	defer in.mu.Unlock()
	var out []*cfn.DeleteStackInput
	for _, x := range in.inputs {
		if d, ok := x.(*cfn.DeleteStackInput); ok {
			out = append(out, d)
		}
	}
	return out
}

// creates returns the CreateStack inputs recorded so far.
func (in *injector) creates() []*cfn.CreateStackInput {
	in.mu.Lock()
	defer in.mu.Unlock()
	var out []*cfn.CreateStackInput
	for _, x := range in.inputs {
		if c, ok := x.(*cfn.CreateStackInput); ok {
			out = append(out, c)
		}
	}
	return out
}

func code(err error) string { return provisioner.ErrorCode(err) }

func wantCode(t *testing.T, err error, want string) {
	t.Helper()
	if got := code(err); got != want {
		t.Fatalf("error %v: code %q, want %q", err, got, want)
	}
}

var errProbe = errors.New("connection refused")
