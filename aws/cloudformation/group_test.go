package cloudformation_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"

	"provisioner"
	"provisioner/aws/awstest"
	"provisioner/aws/cloudformation"
)

func (e *env) groupSpec(cluster, user string, nodes int) provisioner.NodeGroupSpec {
	return provisioner.NodeGroupSpec{Cluster: cluster, User: user, NodeCapacity: nodes, Version: "v4.5.1", CreatedBy: user,
		ExpiresAt: e.now.Add(time.Hour).Truncate(time.Second)}
}

func outputs(st *types.Stack) map[string]string {
	m := map[string]string{}
	for _, o := range st.Outputs {
		m[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	return m
}

// TestGroupLifecycle: a user node group is one stack of userasg.yaml named
// <prefix>-<cluster>-<user>-asg, tagged cluster and user, its parameters
// from the cluster stack's outputs and parameters; running when the load
// balancer counts the user's service; destroyed alone.
func TestGroupLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	name := awstest.Name("c")
	e.deploy(e.spec(name, 2))
	cluster := e.stack(e.d.StackName(name))
	out := outputs(cluster)
	for _, k := range []string{"NodeSubnetId", "NodeSecurityGroupId", "NodeInstanceProfileArn", "LoadBalancerPrivateIp"} {
		if out[k] == "" {
			t.Fatalf("cluster stack has no output %s: %v", k, out)
		}
	}
	if out["NodeSubnetId"] != e.net.private {
		t.Errorf("NodeSubnetId %q, want the private subnet %q", out["NodeSubnetId"], e.net.private)
	}

	spec := e.groupSpec(name, "Alice-1", 3)
	if err := e.d.DeployGroup(bg, spec); err != nil {
		t.Fatalf("DeployGroup: %v", err)
	}
	stackName := e.prefix + "-" + name + "-Alice-1-asg"
	if got := e.d.GroupStackName(name, "Alice-1"); got != stackName {
		t.Fatalf("GroupStackName %q, want %q", got, stackName)
	}
	st := e.stack(stackName)
	if st == nil || st.StackStatus != types.StackStatusCreateComplete {
		t.Fatalf("group stack %+v", st)
	}
	p := params(st)
	want := map[string]string{
		"ClusterName": name, "Username": "Alice-1", "NodeCapacity": "3", "Version": "v4.5.1", "CreatedBy": "Alice-1",
		"ExpiresAt": spec.ExpiresAt.UTC().Format("2006-01-02T15:04:05Z"),
		"SubnetId":  out["NodeSubnetId"], "NodeSecurityGroupId": out["NodeSecurityGroupId"],
		"NodeInstanceProfileArn": out["NodeInstanceProfileArn"], "OrchestratorIp": out["LoadBalancerPrivateIp"],
		"Domain": e.net.domain, "ImageRegistry": "123456789012.dkr.ecr.us-west-2.amazonaws.com", "ProjectBucket": "sliderule-test-project",
	}
	for k, v := range want {
		if p[k] != v {
			t.Errorf("parameter %s = %q, want %q", k, p[k], v)
		}
	}
	for k := range p {
		if k == "HostedZoneId" || k == "VpcId" || k == "IsPublic" || k == "ProvisionerURL" {
			t.Errorf("group stack got the cluster-only parameter %s", k)
		}
	}
	tg := tags(st)
	for k, v := range map[string]string{"cluster": name, "user": "Alice-1", "created-by": "Alice-1", "expires-at": want["ExpiresAt"], "project": "sliderule",
		"owner": "Alice-1", "kind": "group"} {
		if tg[k] != v {
			t.Errorf("tag %s = %q, want %q", k, tg[k], v)
		}
	}
	cs := e.inject.creates()
	c := cs[len(cs)-1]
	if tok := aws.ToString(c.ClientRequestToken); tok != cloudformation.GroupDeployToken(stackName, spec, "") || len(tok) > 128 {
		t.Errorf("ClientRequestToken %q", tok)
	}
	if c.OnFailure != types.OnFailureRollback || len(c.Capabilities) != 0 {
		t.Errorf("CreateStack OnFailure=%s capabilities=%v", c.OnFailure, c.Capabilities)
	}

	// Running only when the ILB counts the user's service, not the cluster's.
	e.probe.set(name, 5, nil)
	if s, err := e.d.GroupStatus(bg, name, "Alice-1"); err != nil || s.State != provisioner.StateDeploying || s.Endpoint != e.d.Endpoint(name) {
		t.Fatalf("GroupStatus before the nodes registered: %+v %v", s, err)
	}
	e.probe.set(name+"/Alice-1", 3, nil)
	if s, err := e.d.GroupStatus(bg, name, "Alice-1"); err != nil || s.State != provisioner.StateRunning || s.Nodes != 3 {
		t.Fatalf("GroupStatus: %+v %v", s, err)
	}
	if !slices.Contains(e.probe.checks, name+"/Alice-1 "+e.d.Endpoint(name)) {
		t.Errorf("probe checks %v", e.probe.checks)
	}

	// Idempotent; another capacity refused.
	if err := e.d.DeployGroup(bg, spec); err != nil {
		t.Fatalf("DeployGroup again: %v", err)
	}
	other := spec
	other.NodeCapacity = 4
	wantCode(t, e.d.DeployGroup(bg, other), provisioner.ECONFLICT)
	if n := e.liveStacksNamed(stackName); n != 1 {
		t.Fatalf("%d stacks named %s", n, stackName)
	}

	evs, err := e.d.GroupEvents(bg, name, "Alice-1")
	if err != nil || len(evs) == 0 || evs[0].Cluster != provisioner.GroupKey(name, "Alice-1") {
		t.Fatalf("GroupEvents: %v %v", evs, err)
	}

	// The group goes alone; its cluster stays.
	if err := e.d.DestroyGroup(bg, name, "Alice-1"); err != nil {
		t.Fatal(err)
	}
	if s, err := e.d.GroupStatus(bg, name, "Alice-1"); err != nil || s.State != provisioner.StateAbsent {
		t.Fatalf("after DestroyGroup: %+v %v", s, err)
	}
	if err := e.d.DestroyGroup(bg, name, "Alice-1"); err != nil {
		t.Fatalf("DestroyGroup again: %v", err)
	}
	if s := e.status(name); s.State != provisioner.StateRunning {
		t.Fatalf("cluster after DestroyGroup: %+v", s)
	}
}

// TestDestroyDeletesGroupsFirst: Destroy deletes the cluster's group
// stacks before its own, and only its own groups'.
func TestDestroyDeletesGroupsFirst(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	name, neighbour := awstest.Name("c"), awstest.Name("n")
	e.deploy(e.spec(name, 1))
	e.deploy(e.spec(neighbour, 1))
	for _, u := range []string{"alice", "bob"} {
		if err := e.d.DeployGroup(bg, e.groupSpec(name, u, 1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.d.DeployGroup(bg, e.groupSpec(neighbour, "alice", 1)); err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, s := range []string{e.d.StackName(name), e.d.GroupStackName(name, "alice"), e.d.GroupStackName(name, "bob")} {
		ids[aws.ToString(e.stack(s).StackId)] = s
	}
	before := len(e.inject.deletes())
	if err := e.d.Destroy(bg, name); err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, d := range e.inject.deletes()[before:] {
		order = append(order, ids[aws.ToString(d.StackName)])
	}
	want := []string{e.d.GroupStackName(name, "alice"), e.d.GroupStackName(name, "bob"), e.d.StackName(name)}
	if !slices.Equal(order, want) {
		t.Fatalf("DeleteStack order %v, want %v", order, want)
	}
	for _, s := range want {
		if st := e.stack(s); st != nil && st.StackStatus != types.StackStatusDeleteComplete {
			t.Errorf("%s is %s after Destroy", s, st.StackStatus)
		}
	}
	if s := e.status(name); s.State != provisioner.StateAbsent {
		t.Errorf("Status after Destroy: %+v", s)
	}
	if st := e.stack(e.d.GroupStackName(neighbour, "alice")); st == nil || st.StackStatus != types.StackStatusCreateComplete {
		t.Fatalf("another cluster's group stack was touched: %+v", st)
	}
	if err := e.d.Destroy(bg, neighbour); err != nil {
		t.Fatal(err)
	}
}

// TestGroupNamesAreAmbiguousTagsAreNot: cluster "x" with user "b-c" and
// cluster "x-b" with user "c" spell the same stack name; the tags decide.
func TestGroupNamesAreAmbiguousTagsAreNot(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	x := awstest.Name("x")
	xb := x + "-b"
	e.deploy(e.spec(x, 1))
	e.deploy(e.spec(xb, 1))
	if e.d.GroupStackName(x, "b-c") != e.d.GroupStackName(xb, "c") {
		t.Fatal("the test's names are not ambiguous")
	}
	if err := e.d.DeployGroup(bg, e.groupSpec(x, "b-c", 1)); err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(e.stack(e.d.GroupStackName(x, "b-c")).StackId)
	wantCode(t, e.d.DeployGroup(bg, e.groupSpec(xb, "c", 1)), provisioner.ECONFLICT)
	if s, err := e.d.GroupStatus(bg, xb, "c"); err != nil || s.State != provisioner.StateFailed {
		t.Fatalf("GroupStatus of the other reading: %+v %v", s, err)
	}
	wantCode(t, e.d.DestroyGroup(bg, xb, "c"), provisioner.ECONFLICT)
	if err := e.d.Destroy(bg, xb); err != nil {
		t.Fatal(err)
	}
	if st := e.stack(e.d.GroupStackName(x, "b-c")); st == nil || aws.ToString(st.StackId) != id || st.StackStatus != types.StackStatusCreateComplete {
		t.Fatalf("x's group stack after destroying %s: %+v", xb, st)
	}
	// Nor is a group stack ever taken for a cluster's (cluster "x-b-c-asg").
	if s := e.status(x + "-b-c-asg"); s.State != provisioner.StateFailed {
		t.Fatalf("Status of a cluster whose stack name is a group's: %+v", s)
	}
	wantCode(t, e.d.Destroy(bg, x+"-b-c-asg"), provisioner.ECONFLICT)
	if err := e.d.Destroy(bg, x); err != nil {
		t.Fatal(err)
	}
	if st := e.stack(e.d.GroupStackName(x, "b-c")); st != nil && st.StackStatus != types.StackStatusDeleteComplete {
		t.Fatalf("x's group stack after destroying x: %s", st.StackStatus)
	}
}

// TestDeployGroupRefusals: no cluster, bad input (before any call), no
// group template, a cluster stack without the outputs.
func TestDeployGroupRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	wantCode(t, e.d.DeployGroup(bg, e.groupSpec(awstest.Name("none"), "alice", 1)), provisioner.ENOTFOUND)

	e.count.Reset()
	good := e.groupSpec("ok-name", "alice", 1)
	for what, change := range map[string]func(*provisioner.NodeGroupSpec){
		"user shell":     func(s *provisioner.NodeGroupSpec) { s.User = "a;reboot" },
		"user empty":     func(s *provisioner.NodeGroupSpec) { s.User = "" },
		"user space":     func(s *provisioner.NodeGroupSpec) { s.User = "a b" },
		"user hyphen":    func(s *provisioner.NodeGroupSpec) { s.User = "-a" },
		"user slash":     func(s *provisioner.NodeGroupSpec) { s.User = "a/b" },
		"user too long":  func(s *provisioner.NodeGroupSpec) { s.User = strings.Repeat("a", 40) },
		"cluster":        func(s *provisioner.NodeGroupSpec) { s.Cluster = "A" },
		"version shell":  func(s *provisioner.NodeGroupSpec) { s.Version = "v1$(id)" },
		"zero nodes":     func(s *provisioner.NodeGroupSpec) { s.NodeCapacity = 0 },
		"too many nodes": func(s *provisioner.NodeGroupSpec) { s.NodeCapacity = cloudformation.MaxNodeCapacity + 1 },
		"creator":        func(s *provisioner.NodeGroupSpec) { s.CreatedBy = "a\nB=1" },
		"expired":        func(s *provisioner.NodeGroupSpec) { s.ExpiresAt = e.now.Add(-time.Second) },
	} {
		s := good
		change(&s)
		if err := e.d.DeployGroup(bg, s); code(err) != provisioner.EINVALID {
			t.Errorf("%s: DeployGroup error %v, want %s", what, err, provisioner.EINVALID)
		}
	}
	for _, u := range []string{"", "a;b", "a b", "-x"} {
		if _, err := e.d.GroupStatus(bg, "ok-name", u); code(err) != provisioner.EINVALID {
			t.Errorf("GroupStatus(%q): %v", u, err)
		}
		wantCode(t, e.d.DestroyGroup(bg, "ok-name", u), provisioner.EINVALID)
	}
	if n := e.count.Total(); n != 0 {
		t.Fatalf("%d AWS calls for refused input: %v", n, e.count.Calls())
	}

	noGroups := newEnv(t, func(c *cloudformation.Config) { c.GroupTemplateBody = "" })
	wantCode(t, noGroups.d.DeployGroup(bg, good), provisioner.EUNAVAILABLE)

	// A cluster stack of a template without the outputs (deployed before them).
	old := newEnv(t, func(c *cloudformation.Config) {
		c.TemplateBody = strings.Replace(c.TemplateBody, "\n  NodeSubnetId:\n", "\n  OldNodeSubnetId:\n", 1)
	})
	name := awstest.Name("old")
	old.deploy(old.spec(name, 1))
	err := old.d.DeployGroup(bg, old.groupSpec(name, "alice", 1))
	wantCode(t, err, provisioner.ECONFLICT)
	if !strings.Contains(provisioner.ErrorMessage(err), "NodeSubnetId") {
		t.Errorf("message %q", provisioner.ErrorMessage(err))
	}
	if st := old.stack(old.d.GroupStackName(name, "alice")); st != nil {
		t.Fatalf("a group stack was created: %s", st.StackStatus)
	}
}

// TestStatusWaitsForGroupStacks: a cluster whose stack is gone while a
// group stack is still there is destroying, not absent.
func TestStatusWaitsForGroupStacks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	name := awstest.Name("c")
	e.deploy(e.spec(name, 1))
	if err := e.d.DeployGroup(bg, e.groupSpec(name, "alice", 1)); err != nil {
		t.Fatal(err)
	}
	// The cluster stack alone deleted behind the driver's back.
	if _, err := e.c.DeleteStack(bg, &cfn.DeleteStackInput{StackName: aws.String(e.d.StackName(name))}); err != nil {
		t.Fatal(err)
	}
	s := e.status(name)
	if s.State != provisioner.StateDestroying || !strings.Contains(s.Reason, e.d.GroupStackName(name, "alice")) {
		t.Fatalf("Status with a group stack left: %+v", s)
	}
	if err := e.d.Destroy(bg, name); err != nil {
		t.Fatal(err)
	}
	if s := e.status(name); s.State != provisioner.StateAbsent {
		t.Fatalf("Status after Destroy: %+v", s)
	}
}
