package cloudformation_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	cfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"

	"provisioner"
	"provisioner/aws/awstest"
	"provisioner/aws/cloudformation"
)

func TestDeployCreatesExactlyTheStack(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	name := awstest.Name("c")
	spec := e.spec(name, 3)
	spec.Team = "science"
	spec.IsPublic = true
	e.deploy(spec)

	stackName := e.prefix + "-" + name
	if got := e.d.StackName(name); got != stackName {
		t.Fatalf("StackName = %q, want %q", got, stackName)
	}
	st := e.stack(stackName)
	if st == nil {
		t.Fatalf("no stack %s", stackName)
	}
	if st.StackStatus != types.StackStatusCreateComplete {
		t.Fatalf("status %s (%s)", st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	p := params(st)
	want := map[string]string{
		"ClusterName": name, "NodeCapacity": "3", "Version": "v4.5.1", "IsPublic": "true",
		"CreatedBy": "alice", "ExpiresAt": spec.ExpiresAt.UTC().Format("2006-01-02T15:04:05Z"),
		"Domain": e.net.domain, "HostedZoneId": e.net.zoneID, "VpcId": e.net.vpc,
		"ImageRegistry": "123456789012.dkr.ecr.us-west-2.amazonaws.com",
	}
	for k, v := range want {
		if p[k] != v {
			t.Errorf("parameter %s = %q, want %q", k, p[k], v)
		}
	}
	tg := tags(st)
	for k, v := range map[string]string{"cluster": name, "created-by": "alice", "expires-at": want["ExpiresAt"],
		"project": "sliderule", "managed-by": "provisioner-test", "owner": "alice", "kind": "cluster", "team": spec.Team} {
		if tg[k] != v {
			t.Errorf("tag %s = %q, want %q", k, tg[k], v)
		}
	}
	// What was asked of CloudFormation, beyond what the emulator shows.
	cs := e.inject.creates()
	if len(cs) != 1 {
		t.Fatalf("%d CreateStack calls, want 1", len(cs))
	}
	c := cs[0]
	if c.OnFailure != types.OnFailureRollback || aws.ToInt32(c.TimeoutInMinutes) != 30 ||
		len(c.Capabilities) != 1 || c.Capabilities[0] != types.CapabilityCapabilityIam {
		t.Errorf("CreateStack OnFailure=%s timeout=%d capabilities=%v", c.OnFailure, aws.ToInt32(c.TimeoutInMinutes), c.Capabilities)
	}
	if tok := aws.ToString(c.ClientRequestToken); tok != cloudformation.DeployToken(stackName, spec, "") {
		t.Errorf("ClientRequestToken %q is not the spec's deploy token", tok)
	}

	// A second Deploy of the same spec is a no-op: the same one stack.
	if err := e.d.Deploy(bg, spec); err != nil {
		t.Fatalf("second Deploy: %v", err)
	}
	if again := e.stack(stackName); aws.ToString(again.StackId) != aws.ToString(st.StackId) {
		t.Fatalf("second Deploy replaced the stack: %s, was %s", aws.ToString(again.StackId), aws.ToString(st.StackId))
	}
	if n := e.liveStacksNamed(stackName); n != 1 {
		t.Fatalf("%d live stacks named %s, want 1", n, stackName)
	}
	if cs := e.inject.creates(); aws.ToString(cs[1].ClientRequestToken) != aws.ToString(cs[0].ClientRequestToken) {
		t.Fatal("a retry of the same deployment used another ClientRequestToken")
	}
}

func TestDeployRefusesOtherSettings(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	name := awstest.Name("c")
	e.deploy(e.spec(name, 2))
	id := aws.ToString(e.stack(e.d.StackName(name)).StackId)
	for _, change := range []func(*provisioner.ClusterSpec){
		func(s *provisioner.ClusterSpec) { s.IsPublic = true },
		func(s *provisioner.ClusterSpec) { s.NodeCapacity = 5 },
		func(s *provisioner.ClusterSpec) { s.Version = "v4.6.0" },
	} {
		s := e.spec(name, 2)
		change(&s)
		err := e.d.Deploy(bg, s)
		wantCode(t, err, provisioner.ECONFLICT)
		if !strings.Contains(provisioner.ErrorMessage(err), "already exists with") {
			t.Errorf("message %q", provisioner.ErrorMessage(err))
		}
	}
	if st := e.stack(e.d.StackName(name)); aws.ToString(st.StackId) != id || params(st)["NodeCapacity"] != "2" {
		t.Fatal("a refused Deploy changed the stack")
	}
}

// TestPrefixNamesAreSeparate: "foo" never touches "foo-bar", nor does a
// driver whose prefix plus cluster spell the same stack name.
func TestPrefixNamesAreSeparate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	foo := awstest.Name("foo")
	fooBar := foo + "-bar"
	e.deploy(e.spec(fooBar, 1))
	barID := aws.ToString(e.stack(e.d.StackName(fooBar)).StackId)

	if st := e.status(foo); st.State != provisioner.StateAbsent {
		t.Fatalf("Status(%s) = %+v with only %s deployed", foo, st, fooBar)
	}
	if err := e.d.Destroy(bg, foo); err != nil {
		t.Fatalf("Destroy of the absent %s: %v", foo, err)
	}
	e.deploy(e.spec(foo, 1))
	if err := e.d.Destroy(bg, foo); err != nil {
		t.Fatal(err)
	}
	if st := e.status(foo); st.State != provisioner.StateAbsent {
		t.Fatalf("Status(%s) after Destroy = %+v", foo, st)
	}
	bar := e.stack(e.d.StackName(fooBar))
	if bar == nil || aws.ToString(bar.StackId) != barID || bar.StackStatus != types.StackStatusCreateComplete {
		t.Fatalf("%s's stack was touched: %+v", fooBar, bar)
	}
	if evs, err := e.d.Events(bg, foo); err != nil || len(evs) != 0 {
		t.Fatalf("Events(%s) = %d events, %v; want none", foo, len(evs), err)
	}

	// A second driver whose prefix is <prefix>-foo-xxxx sees the stack
	// <prefix>-<foo>-bar as its cluster "bar" by name, but it is not its.
	other := newEnv(t, func(c *cloudformation.Config) { c.StackPrefix = e.prefix + "-" + foo })
	if other.d.StackName("bar") != e.d.StackName(fooBar) {
		t.Fatalf("names do not collide: %s vs %s", other.d.StackName("bar"), e.d.StackName(fooBar))
	}
	wantCode(t, other.d.Destroy(bg, "bar"), provisioner.ECONFLICT)
	wantCode(t, other.d.Deploy(bg, other.spec("bar", 1)), provisioner.ECONFLICT)
	if st := other.status("bar"); st.State != provisioner.StateFailed || !strings.Contains(st.Reason, "not cluster bar's") {
		t.Fatalf("other driver's Status = %+v", st)
	}
	if _, err := other.d.Events(bg, "bar"); code(err) != provisioner.ECONFLICT {
		t.Fatalf("other driver's Events: %v", err)
	}
	if len(other.inject.deletes()) != 0 {
		t.Fatal("the other driver sent DeleteStack")
	}
	if bar := e.stack(e.d.StackName(fooBar)); bar == nil || aws.ToString(bar.StackId) != barID {
		t.Fatal("the other driver touched the stack")
	}
}

// TestStrangersStack: a stack of the cluster's name that the provisioner
// did not create (no cluster tag) is refused and left alone.
func TestStrangersStack(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	name := awstest.Name("c")
	stackName := e.d.StackName(name)
	_, err := e.c.CreateStack(bg, &cfn.CreateStackInput{StackName: aws.String(stackName),
		TemplateBody: aws.String("Resources:\n  Log:\n    Type: AWS::Logs::LogGroup\n")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = e.c.DeleteStack(bg, &cfn.DeleteStackInput{StackName: aws.String(stackName)}) })
	wantCode(t, e.d.Deploy(bg, e.spec(name, 1)), provisioner.ECONFLICT)
	wantCode(t, e.d.Destroy(bg, name), provisioner.ECONFLICT)
	if st := e.status(name); st.State != provisioner.StateFailed {
		t.Fatalf("Status = %+v", st)
	}
	if len(e.inject.deletes()) != 0 || e.stack(stackName) == nil {
		t.Fatal("the stranger's stack was deleted")
	}
}

func TestStatus(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	name := awstest.Name("c")
	if st := e.status(name); st.State != provisioner.StateAbsent || st.Endpoint != "" {
		t.Fatalf("before Deploy: %+v", st)
	}
	e.deploy(e.spec(name, 3))
	endpoint := "https://" + name + "." + e.net.domain

	// CREATE_COMPLETE is not running until the cluster answers.
	e.probe.set(name, 0, errProbe)
	st := e.status(name)
	if st.State != provisioner.StateDeploying || st.Endpoint != endpoint || !strings.Contains(st.Reason, "connection refused") {
		t.Fatalf("probe failing: %+v", st)
	}
	e.probe.set(name, 2, nil)
	st = e.status(name)
	if st.State != provisioner.StateDeploying || st.Nodes != 2 || !strings.Contains(st.Reason, "2 of 3 nodes") {
		t.Fatalf("2 of 3 nodes: %+v", st)
	}
	e.probe.set(name, 3, nil)
	if st = e.status(name); st.State != provisioner.StateRunning || st.Nodes != 3 || st.Endpoint != endpoint || st.Reason != "" {
		t.Fatalf("3 of 3 nodes: %+v", st)
	}
	e.probe.set(name, 4, nil)
	if st = e.status(name); st.State != provisioner.StateRunning || st.Nodes != 4 {
		t.Fatalf("4 of 3 nodes: %+v", st)
	}
	if got := e.probe.checks[len(e.probe.checks)-1]; got != name+" "+endpoint {
		t.Fatalf("probe asked %q", got)
	}

	// States the emulator cannot reach, injected into its answers.
	stackName := e.d.StackName(name)
	for _, c := range []struct {
		status types.StackStatus
		want   provisioner.ClusterState
	}{
		{types.StackStatusCreateInProgress, provisioner.StateDeploying},
		{types.StackStatusRollbackInProgress, provisioner.StateFailed},
		{types.StackStatusRollbackComplete, provisioner.StateFailed},
		{types.StackStatusCreateFailed, provisioner.StateFailed},
		{types.StackStatusDeleteFailed, provisioner.StateFailed},
		{types.StackStatusDeleteInProgress, provisioner.StateDestroying},
		{types.StackStatusDeleteComplete, provisioner.StateAbsent},
	} {
		e.inject.set(stackName, c.status, 1, 0)
		st := e.status(name)
		if st.State != c.want {
			t.Errorf("%s: state %s, want %s", c.status, st.State, c.want)
		}
		if c.want == provisioner.StateFailed && !strings.Contains(st.Reason, string(c.status)+": injected by the test") {
			t.Errorf("%s: reason %q lacks the status reason", c.status, st.Reason)
		}
	}
}

// TestStatusCreateInProgress uses the emulator's own CREATE_IN_PROGRESS:
// a stack whose resource fails stays there.
func TestStatusCreateInProgress(t *testing.T) {
	t.Parallel()
	broken := "Parameters:\n" +
		"  ClusterName: {Type: String}\n  NodeCapacity: {Type: Number}\n  Version: {Type: String}\n" +
		"  IsPublic: {Type: String}\n  CreatedBy: {Type: String}\n  ExpiresAt: {Type: String}\n  Domain: {Type: String}\n" +
		"Resources:\n  Subnet:\n    Type: AWS::EC2::Subnet\n    Properties: {VpcId: vpc-0000000000000dead, CidrBlock: 10.0.0.0/24}\n"
	e := newEnv(t, func(c *cloudformation.Config) {
		c.TemplateBody = broken
		c.Parameters = map[string]string{"Domain": "example.org"}
	})
	name := awstest.Name("c")
	if err := e.d.Deploy(bg, e.spec(name, 1)); err == nil {
		t.Log("the emulator accepted the broken stack") // it answers with the resource's error
	}
	if st := e.status(name); st.State != provisioner.StateDeploying || !strings.Contains(st.Reason, "creating") {
		t.Fatalf("Status = %+v, want deploying", st)
	}
	// Deploy again: the stack is in progress, so a no-op.
	if err := e.d.Deploy(bg, e.spec(name, 1)); err != nil {
		t.Fatalf("Deploy of an in-progress stack: %v", err)
	}
	if err := e.d.Destroy(bg, name); err != nil {
		t.Fatal(err)
	}
	if st := e.status(name); st.State != provisioner.StateAbsent {
		t.Fatalf("after Destroy: %+v", st)
	}
}

func TestDestroyIsIdempotent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	name := awstest.Name("c")
	if err := e.d.Destroy(bg, name); err != nil {
		t.Fatalf("Destroy of a cluster never deployed: %v", err)
	}
	e.deploy(e.spec(name, 1))
	id := aws.ToString(e.stack(e.d.StackName(name)).StackId)
	for i := range 3 {
		if err := e.d.Destroy(bg, name); err != nil {
			t.Fatalf("Destroy #%d: %v", i+1, err)
		}
		if st := e.status(name); st.State != provisioner.StateAbsent {
			t.Fatalf("after Destroy #%d: %+v", i+1, st)
		}
	}
	ds := e.inject.deletes()
	if len(ds) != 1 {
		t.Fatalf("%d DeleteStack calls, want 1 (later Destroys find no stack)", len(ds))
	}
	if aws.ToString(ds[0].StackName) != id || !strings.HasPrefix(aws.ToString(ds[0].ClientRequestToken), "destroy-"+name+"-") ||
		ds[0].DeletionMode != "" {
		t.Fatalf("DeleteStack %+v: want by stack id %s, with a token, standard mode", ds[0], id)
	}
	// Destroy while CloudFormation is deleting: nothing more to ask.
	e.deploy(e.spec(name, 1))
	e.inject.set(e.d.StackName(name), types.StackStatusDeleteInProgress, 1, 0)
	if err := e.d.Destroy(bg, name); err != nil || len(e.inject.deletes()) != 1 {
		t.Fatalf("Destroy during DELETE_IN_PROGRESS: %v, %d deletes", err, len(e.inject.deletes()))
	}
	// Destroy during a rollback: CloudFormation would refuse; retry later.
	e.inject.set(e.d.StackName(name), types.StackStatusRollbackInProgress, 1, 0)
	wantCode(t, e.d.Destroy(bg, name), provisioner.EUNAVAILABLE)
	if len(e.inject.deletes()) != 1 {
		t.Fatal("DeleteStack sent during ROLLBACK_IN_PROGRESS")
	}
}

// TestDestroyDeleteFailed: a DELETE_FAILED stack is deleted again, with a
// new token per attempt, and after DeleteRetries failures with
// FORCE_DELETE_STACK. The emulator cannot fail a delete; the status and the
// failure events are injected into its answers.
func TestDestroyDeleteFailed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *cloudformation.Config) { c.DeleteRetries = 2 })
	name := awstest.Name("c")
	stackName := e.d.StackName(name)
	tokens := map[string]bool{}
	for failures, wantForce := range []bool{false, false, false, true} {
		if failures == 0 {
			continue // failures counts DELETE_FAILED events: 1..3
		}
		e.deploy(e.spec(name, 1))
		e.inject.set(stackName, types.StackStatusDeleteFailed, 1, failures)
		if err := e.d.Destroy(bg, name); err != nil {
			t.Fatalf("Destroy after %d failures: %v", failures, err)
		}
		ds := e.inject.deletes()
		d := ds[len(ds)-1]
		if force := d.DeletionMode == types.DeletionModeForceDeleteStack; force != wantForce {
			t.Errorf("after %d failures: DeletionMode %q, want force=%t", failures, d.DeletionMode, wantForce)
		}
		if tok := aws.ToString(d.ClientRequestToken); tokens[tok] {
			t.Errorf("after %d failures: token %s reused", failures, tok)
		} else {
			tokens[tok] = true
		}
		if st := e.status(name); st.State != provisioner.StateAbsent {
			t.Fatalf("after Destroy: %+v", st)
		}
	}
}

// TestDeployReplacesDeadStack: a stack left ROLLBACK_COMPLETE by an earlier
// deployment is deleted and the new one created.
func TestDeployReplacesDeadStack(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	name := awstest.Name("c")
	stackName := e.d.StackName(name)
	old := e.spec(name, 1)
	e.deploy(old)
	oldID := aws.ToString(e.stack(stackName).StackId)

	e.inject.set(stackName, types.StackStatusRollbackComplete, 1, 0)
	spec := e.spec(name, 2)
	spec.ExpiresAt = spec.ExpiresAt.Add(1) // a new deployment
	if err := e.d.Deploy(bg, spec); err != nil {
		t.Fatalf("Deploy over a ROLLBACK_COMPLETE stack: %v", err)
	}
	st := e.stack(stackName)
	if st == nil || aws.ToString(st.StackId) == oldID || params(st)["NodeCapacity"] != "2" {
		t.Fatalf("stack not replaced: %+v", st)
	}
	ds := e.inject.deletes()
	if len(ds) != 1 || aws.ToString(ds[0].StackName) != oldID {
		t.Fatalf("deletes %+v, want one of %s", ds, oldID)
	}
	cs := e.inject.creates()
	last := aws.ToString(cs[len(cs)-1].ClientRequestToken)
	if last != cloudformation.DeployToken(stackName, spec, oldID) || last == cloudformation.DeployToken(stackName, spec, "") {
		t.Fatalf("the replacing create's token %s does not name the replaced stack", last)
	}

	// Being deleted: refused until it is gone.
	e.inject.set(stackName, types.StackStatusDeleteInProgress, 1, 0)
	wantCode(t, e.d.Deploy(bg, e.spec(name, 2)), provisioner.ECONFLICT)
	// Rolling back: refused, nothing deleted.
	n := len(e.inject.deletes())
	e.inject.set(stackName, types.StackStatusRollbackInProgress, 1, 0)
	wantCode(t, e.d.Deploy(bg, e.spec(name, 2)), provisioner.ECONFLICT)
	if len(e.inject.deletes()) != n {
		t.Fatal("Deploy deleted a stack that is rolling back")
	}
}

func TestEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	name := awstest.Name("c")
	if evs, err := e.d.Events(bg, name); err != nil || evs != nil {
		t.Fatalf("Events of an absent cluster: %v, %v", evs, err)
	}
	e.deploy(e.spec(name, 1))
	evs, err := e.d.Events(bg, name)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) == 0 {
		t.Fatal("no events")
	}
	for i, ev := range evs {
		if ev.Cluster != name || ev.ID == "" || ev.Time.IsZero() || ev.Actor != "cloudformation" ||
			!(strings.HasPrefix(ev.Type, "stack.") || strings.HasPrefix(ev.Type, "resource.")) {
			t.Errorf("event %d: %+v", i, ev)
		}
		if i > 0 && ev.Time.Before(evs[i-1].Time) {
			t.Errorf("events not oldest first at %d", i)
		}
	}
	if first, last := evs[0], evs[len(evs)-1]; first.Type != "stack.create_in_progress" || last.Type != "stack.create_complete" {
		t.Errorf("events run from %s to %s", first.Type, last.Type)
	}
	t.Logf("%d events, e.g. %s: %s", len(evs), evs[len(evs)-1].Type, evs[len(evs)-1].Message)
}

// TestBadInputMakesNoCall: names, versions and sizes are refused before
// any AWS call.
func TestBadInputMakesNoCall(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	good := e.spec("ok-name", 1)
	bad := map[string]func(*provisioner.ClusterSpec){
		"empty name":        func(s *provisioner.ClusterSpec) { s.Name = "" },
		"upper case":        func(s *provisioner.ClusterSpec) { s.Name = "Foo" },
		"double hyphen":     func(s *provisioner.ClusterSpec) { s.Name = "a--b" },
		"reserved":          func(s *provisioner.ClusterSpec) { s.Name = "provisioner" },
		"too long":          func(s *provisioner.ClusterSpec) { s.Name = strings.Repeat("a", 41) },
		"shell":             func(s *provisioner.ClusterSpec) { s.Name = "a;reboot" },
		"empty version":     func(s *provisioner.ClusterSpec) { s.Version = "" },
		"version option":    func(s *provisioner.ClusterSpec) { s.Version = "--upload-pack=x" },
		"version shell":     func(s *provisioner.ClusterSpec) { s.Version = "v1$(id)" },
		"version quote":     func(s *provisioner.ClusterSpec) { s.Version = `v1"` },
		"version newline":   func(s *provisioner.ClusterSpec) { s.Version = "v1\nEVIL=1" },
		"version dotdot":    func(s *provisioner.ClusterSpec) { s.Version = "a..b" },
		"version slash":     func(s *provisioner.ClusterSpec) { s.Version = "/x" },
		"zero nodes":        func(s *provisioner.ClusterSpec) { s.NodeCapacity = 0 },
		"too many nodes":    func(s *provisioner.ClusterSpec) { s.NodeCapacity = cloudformation.MaxNodeCapacity + 1 },
		"creator newline":   func(s *provisioner.ClusterSpec) { s.CreatedBy = "alice\nEVIL=1" },
		"creator space":     func(s *provisioner.ClusterSpec) { s.CreatedBy = "alice bob" },
		"already expired":   func(s *provisioner.ClusterSpec) { s.ExpiresAt = e.now.Add(-1) },
		"creator too long":  func(s *provisioner.ClusterSpec) { s.CreatedBy = strings.Repeat("a", 101) },
		"version too long":  func(s *provisioner.ClusterSpec) { s.Version = strings.Repeat("v", 129) },
		"version lock file": func(s *provisioner.ClusterSpec) { s.Version = "main.lock" },
	}
	for what, change := range bad {
		s := good
		change(&s)
		if err := e.d.Deploy(bg, s); code(err) != provisioner.EINVALID {
			t.Errorf("%s: Deploy error %v, want %s", what, err, provisioner.EINVALID)
		}
	}
	for _, name := range []string{"", "Foo", "a--b", "-a", "status", "a/b", "a b"} {
		if _, err := e.d.Status(bg, name); code(err) != provisioner.EINVALID {
			t.Errorf("Status(%q): %v", name, err)
		}
		if err := e.d.Destroy(bg, name); code(err) != provisioner.EINVALID {
			t.Errorf("Destroy(%q): %v", name, err)
		}
		if _, err := e.d.Events(bg, name); code(err) != provisioner.EINVALID {
			t.Errorf("Events(%q): %v", name, err)
		}
	}
	if n := e.count.Total(); n != 0 {
		t.Fatalf("%d AWS calls for refused input: %v", n, e.count.Calls())
	}
}

// TestCallCounts measures the AWS API calls of each operation (reported in
// BENCHMARKS.md).
func TestCallCounts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	name := awstest.Name("c")
	measure := func(what string, max int, f func() error) {
		t.Helper()
		e.count.Reset()
		if err := f(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if e.count.Total() > max {
			t.Errorf("%s: %d calls %v, want at most %d", what, e.count.Total(), e.count.Calls(), max)
		}
		t.Logf("%-28s %d AWS calls: %s", what, e.count.Total(), strings.Join(e.count.Calls(), " "))
	}
	spec := e.spec(name, 2)
	e.probe.set(name, 2, nil)
	measure("Deploy (new)", 1, func() error { return e.d.Deploy(bg, spec) })
	t.Cleanup(func() { _ = e.d.Destroy(bg, name) })
	measure("Deploy (again, no-op)", 2, func() error { return e.d.Deploy(bg, spec) })
	measure("Status (running)", 1, func() error { _, err := e.d.Status(bg, name); return err })
	measure("Events", 2, func() error { _, err := e.d.Events(bg, name); return err })
	// The group calls; ListStacks is one page here, more in a busy account.
	gspec := e.groupSpec(name, "alice", 1)
	e.probe.set(name+"/alice", 1, nil)
	measure("DeployGroup (new)", 2, func() error { return e.d.DeployGroup(bg, gspec) })
	measure("DeployGroup (again, no-op)", 3, func() error { return e.d.DeployGroup(bg, gspec) })
	measure("GroupStatus (running)", 1, func() error { _, err := e.d.GroupStatus(bg, name, "alice"); return err })
	measure("DestroyGroup", 2, func() error { return e.d.DestroyGroup(bg, name, "alice") })
	if err := e.d.DeployGroup(bg, gspec); err != nil {
		t.Fatal(err)
	}
	// Destroy: the cluster stack, the listing, each group stack's
	// describe and delete, the cluster's delete.
	measure("Destroy (with a group)", 5, func() error { return e.d.Destroy(bg, name) })
	measure("Destroy (again, absent)", 2, func() error { return e.d.Destroy(bg, name) })
	measure("Status (absent)", 2, func() error { _, err := e.d.Status(bg, name); return err })
	e.deploy(spec)
	measure("Destroy (no group)", 3, func() error { return e.d.Destroy(bg, name) })
	e.deploy(spec)
	e.inject.set(e.d.StackName(name), types.StackStatusDeleteFailed, 1, 3)
	measure("Destroy (DELETE_FAILED)", 4, func() error { return e.d.Destroy(bg, name) })
}
