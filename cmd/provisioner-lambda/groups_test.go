package main

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cfnsdk "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	schedsdk "github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/smithy-go/middleware"

	"provisioner/aws/scheduler"
)

// deleteOrder records the stack names of DeleteStack calls, in order
// (by name or by stack id, whose ARN holds the name).
type deleteOrder struct {
	mu    sync.Mutex
	names []string
}

func (d *deleteOrder) install(cfg *aws.Config) {
	cfg.APIOptions = append(cfg.APIOptions, func(s *middleware.Stack) error {
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("delete-order",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				if ds, ok := in.Parameters.(*cfnsdk.DeleteStackInput); ok {
					name := aws.ToString(ds.StackName)
					if _, rest, ok := strings.Cut(name, ":stack/"); ok {
						name, _, _ = strings.Cut(rest, "/")
					}
					d.mu.Lock()
					d.names = append(d.names, name)
					d.mu.Unlock()
				}
				return next.HandleInitialize(ctx, in)
			}), middleware.Before)
	})
}

func (d *deleteOrder) take() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := d.names
	d.names = nil
	return out
}

func (b *awsBackend) stack(name string) (status string, params, tags map[string]string) {
	out, err := cfnsdk.NewFromConfig(b.cfg).DescribeStacks(context.Background(), &cfnsdk.DescribeStacksInput{StackName: aws.String(name)})
	if err != nil || len(out.Stacks) == 0 {
		return "absent", nil, nil
	}
	st := out.Stacks[0]
	params, tags = map[string]string{}, map[string]string{}
	for _, p := range st.Parameters {
		params[aws.ToString(p.ParameterKey)] = aws.ToString(p.ParameterValue)
	}
	for _, t := range st.Tags {
		tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return string(st.StackStatus), params, tags
}

// groupSchedule returns the input of the one destroy schedule of a node
// group (cluster.user), or "" when there is none.
func (b *awsBackend) groupSchedule(cluster, user string) string {
	b.t.Helper()
	c := schedsdk.NewFromConfig(b.cfg)
	out, err := c.ListSchedules(context.Background(), &schedsdk.ListSchedulesInput{GroupName: aws.String(b.group),
		NamePrefix: aws.String(b.prefix + "-destroy-" + cluster + "." + user + "_")})
	if err != nil {
		b.t.Fatal(err)
	}
	if len(out.Schedules) == 0 {
		return ""
	}
	if len(out.Schedules) > 1 {
		b.t.Fatalf("%d schedules of the group %s/%s", len(out.Schedules), cluster, user)
	}
	s, err := c.GetSchedule(context.Background(), &schedsdk.GetScheduleInput{Name: out.Schedules[0].Name, GroupName: aws.String(b.group)})
	if err != nil {
		b.t.Fatal(err)
	}
	return aws.ToString(s.Target.Input)
}

func gone(status string) bool { return status == "absent" || status == "DELETE_COMPLETE" }

// TestAWSNodeGroups: user node groups on the AWS backend, through the
// Lambda handler on the emulator: a group on a running cluster is a stack
// of userasg.yaml with the right name, tags and parameters, plus a destroy
// schedule of its own; its status; its schedule firing deletes the group's
// stack alone; another user is refused; the cluster's destroy deletes its
// group stacks first.
func TestAWSNodeGroups(t *testing.T) {
	b := newAWSBackendWith(t, map[string]string{"PROVISIONER_PUBLIC_CLUSTER": "pub1"})
	order := &deleteOrder{}
	order.install(&b.cfg)
	var err error
	if b.h, err = b.handler(); err != nil {
		t.Fatal(err)
	}
	b.gh.AddUser("tok-bob", "bob", 2)
	b.gh.SetOrgMembership("bob", "sliderule", "active", "member")
	b.gh.AddUser("tok-carol", "carol", 3)
	b.gh.SetOrgMembership("carol", "sliderule", "active", "member")
	login := func(pat string) string {
		t.Helper()
		s, r := b.api("POST", "/auth/github/pat", `{"pat":"`+pat+`"}`)
		if s != 200 {
			t.Fatalf("login %s: %d %v", pat, s, r)
		}
		return r["token"].(string)
	}
	ada, bob, carol := login("tok-admin"), login("tok-bob"), login("tok-carol")

	b.token = ada
	s, r := b.api("POST", "/deploy", `{"cluster":"pub1","is_public":true,"node_capacity":1,"ttl":120,"version":"v4.5.1"}`)
	b.wait(s, r)
	clusterStack := b.prefix + "-pub1"

	// bob's group, through the public alias (PROVISIONER_PUBLIC_CLUSTER).
	b.token = bob
	s, r = b.api("POST", "/deploy/bob", `{"cluster":"sliderule","node_capacity":2,"ttl":30}`)
	b.wait(s, r)
	groupStack := b.prefix + "-pub1-bob-asg"
	st, params, tags := b.stack(groupStack)
	if st != "CREATE_COMPLETE" {
		t.Fatalf("group stack %s: %s", groupStack, st)
	}
	_, cparams, _ := b.stack(clusterStack)
	for k, want := range map[string]string{"ClusterName": "pub1", "Username": "bob", "NodeCapacity": "2", "Version": "v4.5.1",
		"CreatedBy": "bob", "SubnetId": b.env["PROVISIONER_CLUSTER_PRIVATE_SUBNET_ID"], "Domain": b.domain,
		"ImageRegistry": cparams["ImageRegistry"], "ProjectBucket": cparams["ProjectBucket"]} {
		if params[k] != want {
			t.Errorf("group parameter %s = %q, want %q", k, params[k], want)
		}
	}
	for _, k := range []string{"NodeSecurityGroupId", "NodeInstanceProfileArn", "OrchestratorIp"} {
		if params[k] == "" {
			t.Errorf("group parameter %s is empty", k)
		}
	}
	if tags["cluster"] != "pub1" || tags["user"] != "bob" || tags["provisioner"] != b.prefix {
		t.Errorf("group stack tags %v", tags)
	}
	input := b.groupSchedule("pub1", "bob")
	var ev scheduler.Event
	if err := json.Unmarshal([]byte(input), &ev); err != nil || ev.Action != "destroy" || ev.Cluster != "pub1/bob" {
		t.Fatalf("group schedule input %q (%v)", input, err)
	}
	if _, ok := b.schedule("pub1"); !ok {
		t.Fatal("the cluster's schedule is gone")
	}

	s, r = b.api("POST", "/status/bob", `{"cluster":"pub1"}`)
	if s != 200 || r["state"] != "running" || r["current_nodes"] != float64(2) || r["auto_shutdown"] == nil {
		t.Fatalf("status/bob: %d %v", s, r)
	}
	if s, r = b.api("POST", "/events/bob", `{"cluster":"pub1"}`); s != 200 || len(r["events"].([]any)) == 0 {
		t.Fatalf("events/bob: %d %v", s, r)
	}

	// Another user can neither deploy, destroy nor read bob's group.
	b.token = carol
	for p, body := range map[string]string{"/deploy/bob": `{"cluster":"pub1","node_capacity":1,"ttl":30}`,
		"/destroy/bob": `{"cluster":"pub1"}`, "/status/bob": `{"cluster":"pub1"}`, "/extend/bob": `{"cluster":"pub1","ttl":60}`} {
		if s, r = b.api("POST", p, body); s != 403 {
			t.Errorf("carol %s: %d %v", p, s, r)
		}
	}
	if st, _, _ := b.stack(groupStack); st != "CREATE_COMPLETE" {
		t.Fatalf("bob's group after carol's attempts: %s", st)
	}

	// The group's TTL passes and its schedule fires: the group's stack
	// goes, the cluster's stays.
	b.clock.Add(31 * time.Minute)
	order.take()
	b.scheduled(input)
	for i := 0; i < 5; i++ {
		if st, _, _ := b.stack(groupStack); gone(st) {
			break
		}
		b.scheduled(scheduler.ReconcileInput())
	}
	if st, _, _ := b.stack(groupStack); !gone(st) {
		t.Fatalf("group stack after its schedule fired: %s", st)
	}
	if got := order.take(); len(got) != 1 || got[0] != groupStack {
		t.Fatalf("the group's schedule deleted %v", got)
	}
	if st, _, _ := b.stack(clusterStack); st != "CREATE_COMPLETE" {
		t.Fatalf("the cluster's stack after the group's schedule fired: %s", st)
	}
	if b.groupSchedule("pub1", "bob") != "" {
		t.Fatal("the group's schedule is left")
	}

	// Two groups again; the cluster's destroy deletes them first.
	b.token = bob
	s, r = b.api("POST", "/deploy/bob", `{"cluster":"pub1","node_capacity":1,"ttl":30}`)
	b.wait(s, r)
	b.token = carol
	s, r = b.api("POST", "/deploy/carol", `{"cluster":"pub1","node_capacity":1,"ttl":30}`)
	b.wait(s, r)
	// carol's DESTROY of the cluster is refused (it is not hers; she has a group on it).
	if s, r = b.api("POST", "/destroy", `{"cluster":"pub1"}`); s != 403 {
		t.Fatalf("carol's destroy of the parent: %d %v", s, r)
	}
	b.token = ada
	order.take()
	s, r = b.api("POST", "/destroy", `{"cluster":"pub1"}`)
	b.wait(s, r)
	got := order.take()
	carolStack := b.prefix + "-pub1-carol-asg"
	last := -1
	for i, n := range got {
		if n == clusterStack {
			last = i
		}
	}
	if last < 0 {
		t.Fatalf("the cluster's stack was not deleted: %v", got)
	}
	for _, g := range []string{groupStack, carolStack} {
		i := strings.Index(strings.Join(got, " ")+" ", g+" ")
		if i < 0 || i > strings.Index(strings.Join(got, " ")+" ", clusterStack+" ") {
			t.Errorf("%s not deleted before the cluster's stack: %v", g, got)
		}
		if st, _, _ := b.stack(g); !gone(st) {
			t.Errorf("%s after the cluster's destroy: %s", g, st)
		}
	}
	if st, _, _ := b.stack(clusterStack); !gone(st) {
		t.Fatalf("cluster stack after destroy: %s", st)
	}
	if b.groupSchedule("pub1", "bob") != "" || b.groupSchedule("pub1", "carol") != "" {
		t.Fatal("group schedules left after the cluster's destroy")
	}
	b.token = bob
	if s, r = b.api("POST", "/status/bob", `{"cluster":"pub1"}`); s != 404 && !(s == 200 && r["state"] == "absent") {
		t.Fatalf("status/bob after the cluster's destroy: %d %v", s, r)
	}
}
