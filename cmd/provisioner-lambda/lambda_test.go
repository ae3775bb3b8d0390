package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"provisioner"
	"provisioner/local/ilb/ilbtest"
	"provisioner/testkit"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	cfnsdk "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	ddbsdk "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	kmssdk "github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	schedsdk "github.com/aws/aws-sdk-go-v2/service/scheduler"

	paws "provisioner/aws"
	"provisioner/aws/awsenv"
	"provisioner/aws/awstest"
	"provisioner/aws/dynamodb"
	"provisioner/aws/lambda"
	"provisioner/aws/scheduler"
	"provisioner/gateway"
	"provisioner/github/githubtest"
	"provisioner/jwt"
)

// nodesProbe answers the health probe: every cluster has its nodes, as the
// emulator cannot run the instances that would answer.
type nodesProbe struct{}

func (nodesProbe) Check(context.Context, string, string) (int, error) { return 100, nil }

// CheckService answers for a node group's service (the user) the same.
func (nodesProbe) CheckService(context.Context, string, string, string) (int, error) { return 100, nil }

// emptyBill is the spend of every Lambda test: nothing yet. The
// emulator's Cost Explorer answers from one queue that every test shares
// (aws/costexplorer's tests use it), so the Lambda's tests do not ask it.
type emptyBill struct{}

func (emptyBill) Spend(context.Context, time.Time, time.Time) ([]provisioner.SpendRow, error) {
	return nil, nil
}

// awsBackend is the provisioner as the Lambda runs it, on the emulator.
type awsBackend struct {
	t      *testing.T
	h      *lambda.Handler
	bucket string
	cfg    aws.Config
	calls  *awsenv.Counter
	prefix string
	group  string
	clock  *testkit.Clock // runs with real time: the emulator's waits are real
	gh     *githubtest.Server
	token  string
	env    map[string]string
	table  string
	domain string
	tpl    string
	gtpl   string // deploy/userasg.yaml
	rtpl   string // deploy/runner.yaml
}

func newAWSBackend(t *testing.T) *awsBackend {
	t.Helper()
	return newAWSBackendWith(t, nil)
}

// newAWSBackendWith is newAWSBackend with more (or other) variables.
func newAWSBackendWith(t *testing.T, extra map[string]string) *awsBackend {
	t.Helper()
	ctx := context.Background()
	cfg := awstest.Config(t)
	b := &awsBackend{t: t, cfg: cfg, prefix: awstest.Name("p"), clock: testkit.NewLiveClock()}
	table, bucket, group := awstest.Name("tbl"), awstest.Name("logs"), awstest.Name("grp")
	b.group, b.bucket, b.table = group, bucket, table
	if err := dynamodb.CreateTable(ctx, ddbsdk.NewFromConfig(cfg), table); err != nil {
		t.Fatal(err)
	}
	key, err := kmssdk.NewFromConfig(cfg).CreateKey(ctx, &kmssdk.CreateKeyInput{KeySpec: kmstypes.KeySpecRsa2048, KeyUsage: kmstypes.KeyUsageTypeSignVerify})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s3sdk.NewFromConfig(cfg).CreateBucket(ctx, &s3sdk.CreateBucketInput{Bucket: aws.String(bucket),
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(awstest.Region)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := schedsdk.NewFromConfig(cfg).CreateScheduleGroup(ctx, &schedsdk.CreateScheduleGroupInput{Name: aws.String(group)}); err != nil {
		t.Fatal(err)
	}
	domain := awstest.Name("lt") + ".example.org"
	b.domain = domain
	net, err := awstest.CreateNetwork(ctx, cfnsdk.NewFromConfig(cfg), awstest.Name("net"), domain)
	if err != nil {
		t.Fatal(err)
	}
	b.gh = githubtest.New(t)
	b.gh.AddUser("tok-admin", "ada", 1)
	b.gh.SetOrgMembership("ada", "sliderule", "active", "admin")
	env := map[string]string{
		"PROVISIONER_PREFIX": b.prefix, "PROVISIONER_ISSUER": "https://provisioner." + domain, "PROVISIONER_TABLE": table,
		"PROVISIONER_LOG_BUCKET": bucket, "PROVISIONER_KMS_KEY_IDS": aws.ToString(key.KeyMetadata.KeyId), "PROVISIONER_DOMAIN": domain,
		"PROVISIONER_CLUSTER_TEMPLATE_URL": "https://unused.example.org/cluster.yaml", "PROVISIONER_AWS_ENDPOINT": awstest.Endpoint(t),
		"PROVISIONER_SCHEDULE_GROUP": group, "PROVISIONER_FUNCTION_ARN": "arn:aws:lambda:us-west-2:123456789012:function:" + b.prefix,
		"PROVISIONER_SCHEDULER_ROLE_ARN": "arn:aws:iam::123456789012:role/" + b.prefix + "-scheduler",
		"PROVISIONER_DLQ_ARN":            "arn:aws:sqs:us-west-2:123456789012:" + b.prefix + "-dlq",
		"PROVISIONER_HOSTED_ZONE_ID":     net.ZoneID, "PROVISIONER_IMAGE_REGISTRY": "123456789012.dkr.ecr.us-west-2.amazonaws.com",
		"PROVISIONER_CLUSTER_RELEASE_URL":    "https://releases.example.org/v1.0.0/provisioner-linux-arm64",
		"PROVISIONER_CLUSTER_RELEASE_SHA256": strings.Repeat("5e", 32), "PROVISIONER_PROJECT_BUCKET": "sliderule-test-project",
		"PROVISIONER_CLUSTER_VPC_ID": net.VPC, "PROVISIONER_CLUSTER_PUBLIC_SUBNET_ID": net.PublicSubnet,
		"PROVISIONER_CLUSTER_PRIVATE_SUBNET_ID": net.PrivateSubnet,
		"PROVISIONER_AFFILIATES":                "s3://" + bucket + "/" + affiliatesKey,
		"PROVISIONER_SLIDERULE_REPO":            "https://git.example.org/sliderule.git", "PROVISIONER_JOB_SUBNET_ID": net.PrivateSubnet,
		"PROVISIONER_JOB_INSTANCE_PROFILE_ARN": net.JobProfileARN,
		"PROVISIONER_GITHUB_API_URL":           b.gh.APIURL(), "PROVISIONER_GITHUB_URL": b.gh.WebURL(), "PROVISIONER_GITHUB_ORG": "sliderule",
	}
	for k, v := range extra {
		env[k] = v
	}
	tpl, err := os.ReadFile("../../deploy/cluster.yaml")
	if err != nil {
		t.Fatal(err)
	}
	gtpl, err := os.ReadFile("../../deploy/userasg.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rtpl, err := os.ReadFile("../../deploy/runner.yaml")
	if err != nil {
		t.Fatal(err)
	}
	b.env, b.tpl, b.gtpl, b.rtpl = env, string(tpl), string(gtpl), string(rtpl)
	b.calls = awsenv.Count(&b.cfg)
	b.h, err = b.handler()
	if err != nil {
		t.Fatal(err)
	}
	if n := b.calls.Total(); n != 0 {
		t.Fatalf("wiring the Lambda made %d AWS calls; a cold start must make none (%v)", n, b.calls.Calls())
	}
	return b
}

// handler wires one more Lambda instance on the backend's resources.
func (b *awsBackend) handler() (*lambda.Handler, error) {
	cfg, err := paws.FromEnv(func(k string) string { return b.env[k] })
	if err != nil {
		return nil, err
	}
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.HealthProbe, cfg.TemplateBody, cfg.GroupTemplateBody, cfg.RunnerTemplateBody = nodesProbe{}, b.tpl, b.gtpl, b.rtpl
	cfg.SpendSource = emptyBill{}
	return newHandler(context.Background(), cfg, b.cfg, b.clock.Now)
}

// api sends one API Gateway HTTP API (payload 2.0) event through the handler.
func (b *awsBackend) api(method, path, body string) (int, map[string]any) {
	b.t.Helper()
	return b.apiTo(b.h, method, path, body, nil)
}

// apiTo is api through handler h with more headers.
func (b *awsBackend) apiTo(h *lambda.Handler, method, path, body string, hdr map[string]string) (int, map[string]any) {
	b.t.Helper()
	rawPath, query, _ := strings.Cut(path, "?")
	ev := events.APIGatewayV2HTTPRequest{Version: "2.0", RouteKey: "$default", RawPath: rawPath, RawQueryString: query,
		Headers: map[string]string{"content-type": "application/json", "user-agent": "test"}, Body: body,
		RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: "req-1", Stage: "$default",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: rawPath, Protocol: "HTTP/1.1", SourceIP: "198.51.100.7"}}}
	if b.token != "" {
		ev.Headers["authorization"] = "Bearer " + b.token
	}
	for k, v := range hdr {
		ev.Headers[strings.ToLower(k)] = v
	}
	payload, _ := json.Marshal(ev)
	out, err := h.Invoke(context.Background(), payload)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		b.t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal([]byte(resp.Body), &m)
	return resp.StatusCode, m
}

// scheduled sends a scheduler event, as EventBridge Scheduler would.
func (b *awsBackend) scheduled(input string) {
	b.t.Helper()
	if _, err := b.h.Invoke(context.Background(), []byte(input)); err != nil {
		b.t.Fatalf("scheduler event %s: %v", input, err)
	}
}

func (b *awsBackend) wait(status int, body map[string]any) {
	b.t.Helper()
	if status == 200 {
		return
	}
	if status != 202 {
		b.t.Fatalf("want 200 or 202, got %d %v", status, body)
	}
	id := body["operation"].(map[string]any)["id"].(string)
	for i := 0; i < 10; i++ {
		s, r := b.api("GET", "/operations/"+id+"?wait=5s", "")
		if s == 200 {
			if r["status"] != "success" {
				b.t.Fatalf("operation failed: %v", r)
			}
			return
		}
	}
	b.t.Fatalf("operation %s did not end", id)
}

func (b *awsBackend) schedule(cluster string) (string, bool) {
	out, err := schedsdk.NewFromConfig(b.cfg).GetSchedule(context.Background(), &schedsdk.GetScheduleInput{
		Name: aws.String(b.prefix + "-destroy-" + cluster), GroupName: aws.String(b.group)})
	if err != nil {
		return "", false
	}
	return aws.ToString(out.ScheduleExpression), true
}

func (b *awsBackend) stackStatus(cluster string) string {
	out, err := cfnsdk.NewFromConfig(b.cfg).DescribeStacks(context.Background(), &cfnsdk.DescribeStacksInput{StackName: aws.String(b.prefix + "-" + cluster)})
	if err != nil || len(out.Stacks) == 0 {
		return "absent"
	}
	return string(out.Stacks[0].StackStatus)
}

// TestAWSBackendLifecycle is the lifecycle suite on the AWS backend, through
// the Lambda handler with real API Gateway v2 and scheduler payloads, on
// the emulator: DynamoDB, KMS, CloudFormation, EventBridge Scheduler, S3.
//
// An organization budget is in force, so DEPLOY's write calls count its
// ledger (written in the same transaction as the cluster).
func TestAWSBackendLifecycle(t *testing.T) {
	b := newAWSBackendWith(t, map[string]string{"PROVISIONER_BUDGETS": `{"budgets": [{"scope": "org", "monthly": 1000, "policy": "refuse"}]}`})
	status, body := b.api("POST", "/auth/github/pat", `{"pat":"tok-admin"}`)
	if status != 200 {
		t.Fatalf("login: %d %v", status, body)
	}
	b.token = body["token"].(string)

	// KMS-signed tokens verify through the published JWKS (what a gateway sees).
	status, jwks := b.api("GET", "/.well-known/jwks.json", "")
	raw, _ := json.Marshal(jwks)
	keys, err := jwt.ParseJWKS(raw)
	if status != 200 || err != nil || len(keys) != 1 {
		t.Fatalf("jwks: %d %v %v", status, err, jwks)
	}
	// A dry run deploys nothing and answers the estimate: the shipped
	// us-west-2 prices of a cluster of 2 nodes in an existing VPC (no NAT
	// gateway, no monitor): 0.07976 + 0.005 + 20 GiB 0.0021918 + 2 ×
	// (0.2688 + 64 GiB 0.0070137) = 0.638579 an hour.
	b.calls.Reset()
	status, body = b.api("POST", "/deploy", `{"cluster":"aws1","node_capacity":2,"ttl":60,"dry_run":true}`)
	dryRunCalls := b.calls.Calls()
	if est, _ := body["estimated_cost"].(map[string]any); status != 200 || body["state"] != "absent" || est["hourly"] != 0.638579 {
		t.Fatalf("dry run: %d %v", status, body)
	}
	if got := b.stackStatus("aws1"); got != "absent" {
		t.Fatalf("a dry run made a stack: %s", got)
	}
	// The spend report's checks come before Cost Explorer is asked.
	if status, body = b.api("GET", "/report/costs?by=zone", ""); status != 400 {
		t.Fatalf("report by zone: %d %v", status, body)
	}
	b.calls.Reset()
	status, body = b.api("POST", "/deploy", `{"cluster":"aws1","is_public":false,"node_capacity":2,"ttl":60,"version":"v4.5.1"}`)
	if est, _ := body["estimated_cost"].(map[string]any); est["hourly"] != 0.638579 || est["hours"].(float64) > 1 {
		t.Fatalf("deploy without its estimate: %d %v", status, body)
	}
	b.wait(status, body)
	deployCalls := b.calls.Calls()
	if got := b.stackStatus("aws1"); got != "CREATE_COMPLETE" {
		t.Fatalf("stack %s", got)
	}
	expr, ok := b.schedule("aws1")
	if !ok || !strings.HasPrefix(expr, "at(") {
		t.Fatalf("TTL schedule: %q %v", expr, ok)
	}
	status, body = b.api("POST", "/access", `{"cluster":"aws1"}`)
	if status != 200 {
		t.Fatalf("access: %d %v", status, body)
	}
	issuerStatus, disc := b.api("GET", "/.well-known/openid-configuration", "")
	verifier := jwt.New(jwt.Config{Issuer: disc["issuer"].(string), Keys: jwt.StaticKeySet(keys)})
	if _, err := verifier.VerifyCluster(context.Background(), body["token"].(string), "aws1"); issuerStatus != 200 || err != nil {
		t.Fatalf("a KMS-signed jwt_cluster does not verify against the JWKS: %v", err)
	}

	gatewayChecksKMSTokens(t, b, disc["issuer"].(string), body["token"].(string))

	b.calls.Reset()
	status, body = b.api("POST", "/status", `{"cluster":"aws1"}`)
	statusCalls := b.calls.Calls()
	if status != 200 || body["state"] != "running" || body["endpoint"] == "" {
		t.Fatalf("status: %d %v", status, body)
	}
	if status, body = b.api("POST", "/events", `{"cluster":"aws1"}`); status != 200 || len(body["events"].([]any)) < 3 {
		t.Fatalf("events: %d %v", status, body)
	}
	stackEvents := 0
	for _, e := range body["events"].([]any) {
		if strings.HasPrefix(e.(map[string]any)["type"].(string), "stack.") {
			stackEvents++
		}
	}
	if stackEvents == 0 {
		t.Fatalf("EVENTS lacks the stack's own events: %v", body["events"])
	}
	at := time.Now().Add(2 * time.Hour).UTC().Truncate(time.Minute)
	if status, body = b.api("POST", "/schedule_destroy", `{"cluster":"aws1","time":"`+at.Format(time.RFC3339)+`"}`); status != 200 {
		t.Fatalf("schedule_destroy: %d %v", status, body)
	}
	if expr, _ := b.schedule("aws1"); expr != scheduler.AtExpression(at) {
		t.Fatalf("schedule not replaced: %q, want %q", expr, scheduler.AtExpression(at))
	}
	// TEST on a job stack (deploy/runner.yaml): the job gets its machine;
	// a cancel deletes the stack.
	status, body = b.api("POST", "/test", `{"cluster":"aws1","version":"v4.5.1"}`)
	if status != 202 {
		t.Fatalf("test: %d %v", status, body)
	}
	job := body["job"].(map[string]any)
	instance, _ := job["instance"].(string)
	if job["state"] != "provisioning" || instance != b.prefix+"-job-"+job["id"].(string) {
		t.Fatalf("job %v", job)
	}
	if got := b.stackStatus("job-" + job["id"].(string)); got != "CREATE_COMPLETE" {
		t.Fatalf("job stack: %s", got)
	}
	if status, body = b.api("GET", "/jobs/"+job["id"].(string), ""); status != 200 {
		t.Fatalf("job: %d %v", status, body)
	}
	if status, body = b.api("POST", "/jobs/"+job["id"].(string)+"/cancel", ""); status != 200 || body["job"].(map[string]any)["state"] != "cancelled" {
		t.Fatalf("cancel: %d %v", status, body)
	}
	if got := b.stackStatus("job-" + job["id"].(string)); got != "absent" && got != "DELETE_COMPLETE" && got != "DELETE_IN_PROGRESS" {
		t.Fatalf("a cancelled job's stack is %s", got)
	}

	b.calls.Reset()
	status, body = b.api("POST", "/destroy", `{"cluster":"aws1"}`)
	b.wait(status, body)
	destroyCalls := b.calls.Calls()
	if got := b.stackStatus("aws1"); got != "absent" && got != "DELETE_COMPLETE" {
		t.Fatalf("stack after destroy: %s", got)
	}
	if _, ok := b.schedule("aws1"); ok {
		t.Fatal("schedule left after destroy")
	}

	// The reconcile sweep destroys a cluster past its TTL that no schedule caught.
	status, body = b.api("POST", "/deploy", `{"cluster":"aws2","node_capacity":1,"ttl":30}`)
	b.wait(status, body)
	b.clock.Add(31 * time.Minute)
	b.scheduled(scheduler.ReconcileInput())
	for i := 0; i < 5 && b.stackStatus("aws2") == "CREATE_COMPLETE"; i++ {
		b.scheduled(scheduler.ReconcileInput())
	}
	if got := b.stackStatus("aws2"); got != "absent" && got != "DELETE_COMPLETE" {
		t.Fatalf("reconcile left the expired cluster: stack %s", got)
	}
	// The audit export goes to the S3 log bucket.
	status, body = b.api("POST", "/audit/export", `{"since":"`+time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)+`"}`)
	if status != 200 || body["entries"].(float64) < 5 {
		t.Fatalf("audit export: %d %v", status, body)
	}
	obj, err := s3sdk.NewFromConfig(b.cfg, func(o *s3sdk.Options) { o.UsePathStyle = true }).GetObject(context.Background(),
		&s3sdk.GetObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(paws.LogPrefix + "/" + body["key"].(string))})
	if err != nil {
		t.Fatalf("the export is not in the bucket: %v", err)
	}
	obj.Body.Close()

	// A destroy schedule's event for an absent cluster is harmless.
	b.scheduled(scheduler.DestroyInput("aws2", time.Now()))
	t.Logf("AWS calls per DEPLOY dry run, the instance's first estimate: %v", dryRunCalls)
	t.Logf("AWS calls per DEPLOY (request + waiting): %v", deployCalls)
	t.Logf("AWS calls per STATUS: %v", statusCalls)
	t.Logf("AWS calls per DESTROY (request + waiting): %v", destroyCalls)
	for what, calls := range map[string][]string{"DEPLOY": deployCalls, "DESTROY": destroyCalls} {
		if n := dynamoDBWrites(calls); n < 1 || n > maxDynamoDBWrites {
			t.Errorf("%s made %d DynamoDB write calls (%v), want 1 to %d", what, n, calls, maxDynamoDBWrites)
		}
	}
}

// maxDynamoDBWrites is the most DynamoDB write calls a DEPLOY or a DESTROY
// may make, request and waiting, audit included (BENCHMARKS.md).
const maxDynamoDBWrites = 6

// dynamoDBWrites counts the DynamoDB write calls among calls
// ("Service.Operation=N", as awsenv.Counter lists them).
func dynamoDBWrites(calls []string) int {
	n := 0
	for _, c := range calls {
		op, count, _ := strings.Cut(c, "=")
		switch op {
		case "DynamoDB.PutItem", "DynamoDB.UpdateItem", "DynamoDB.DeleteItem", "DynamoDB.BatchWriteItem", "DynamoDB.TransactWriteItems":
			k, _ := strconv.Atoi(count)
			n += k
		}
	}
	return n
}

// roundTripFunc serves HTTP requests from a handler in process.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// gatewayChecksKMSTokens runs a cluster gateway whose keys come from the
// AWS-backed issuer's JWKS, and checks that it forwards a KMS-signed
// jwt_cluster and refuses a request without one.
func gatewayChecksKMSTokens(t *testing.T, b *awsBackend, issuer, clusterToken string) {
	t.Helper()
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "node says hello to "+r.Header.Get("X-Sliderule-Account"))
	}))
	defer upstream.Close()
	// The issuer is the Lambda's HTTP handler, reached in process.
	toIssuer := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		rec := httptest.NewRecorder()
		b.h.HTTP.ServeHTTP(rec, r)
		return rec.Result(), nil
	})}
	keys, err := gateway.NewJWKS(gateway.JWKSConfig{Issuer: issuer, Client: toIssuer})
	if err != nil {
		t.Fatal(err)
	}
	up, _ := url.Parse(upstream.URL)
	gw, err := gateway.New(gateway.Config{Cluster: "aws1", Upstream: up, Issuer: issuer, Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		token  string
		status int
	}{{"", 401}, {clusterToken, 200}, {b.token, 200}} {
		req := httptest.NewRequest("GET", "/source/version", nil)
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		rec := httptest.NewRecorder()
		gw.ServeHTTP(rec, req)
		if rec.Code != tc.status {
			t.Fatalf("gateway with a KMS-signed token (%.10s...): %d, want %d: %s", tc.token, rec.Code, tc.status, rec.Body)
		}
		if tc.status == 200 && !strings.Contains(rec.Body.String(), "hello to ada") {
			t.Fatalf("forwarded without the identity: %s", rec.Body)
		}
	}
	ilbChecksKMSTokens(t, toIssuer, issuer, clusterToken, b.token)
}

// ilbChecksKMSTokens runs production's ILB config with the PEM that the
// Lambda's /auth/pem serves, as a cluster's ILB host downloads it, and
// checks that the KMS-signed tokens open it and nothing else does.
func ilbChecksKMSTokens(t *testing.T, toIssuer *http.Client, issuer, clusterToken, loginToken string) {
	t.Helper()
	res, err := toIssuer.Get(issuer + "/auth/pem")
	if err != nil {
		t.Fatal(err)
	}
	pem, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.HasPrefix(string(pem), "-----BEGIN PUBLIC KEY-----") {
		t.Fatalf("/auth/pem through the Lambda: %d %s", res.StatusCode, pem)
	}
	l := ilbtest.Start(t, ilbtest.Options{Cluster: "aws1", Issuer: issuer, PEM: pem})
	for _, tc := range []struct {
		name, token string
		status      int
	}{
		{"no token", "", 403},
		{"jwt_cluster", clusterToken, 200},
		{"admin's login token", loginToken, 200},
		{"tampered", clusterToken[:len(clusterToken)-4] + "AAAA", 403},
	} {
		var hdr []string
		if tc.token != "" {
			hdr = []string{"Authorization", "Bearer " + tc.token}
		}
		res, body := l.Get(t, "/source/version", hdr...)
		if res.StatusCode != tc.status {
			t.Errorf("ILB, %s: %d %s", tc.name, res.StatusCode, body)
		}
		if tc.status == 200 && !strings.Contains(string(body), `"account":"ada"`) {
			t.Errorf("ILB, %s: the node did not learn who called: %s", tc.name, body)
		}
	}
}

// affiliatesKey is where the AWS test puts the affiliates file.
const affiliatesKey = "config/affiliates.json"

// TestAWSAffiliates: the Lambda reads the affiliates file from S3 (at
// first use, not at a cold start); an affiliate's login token and /info
// show its cluster and limits. (A missing or bad object keeps the last good
// list, or none: the affiliates package's tests.)
func TestAWSAffiliates(t *testing.T) {
	b := newAWSBackend(t)
	b.gh.AddUser("tok-lab", "lab", 9)
	if _, err := s3sdk.NewFromConfig(b.cfg, func(o *s3sdk.Options) { o.UsePathStyle = true }).PutObject(context.Background(), &s3sdk.PutObjectInput{
		Bucket: aws.String(b.bucket), Key: aws.String(affiliatesKey),
		Body: strings.NewReader(`{"lab": {"active": true, "clusters": ["lab-a"], "max_nodes": 2, "max_ttl": 60, "allowed_scopes": ["sliderule:access", "provisioner:access"]}}`)}); err != nil {
		t.Fatal(err)
	}
	s, r := b.api("POST", "/auth/github/pat", `{"pat":"tok-lab"}`)
	if s != 200 {
		t.Fatalf("login: %d %v", s, r)
	}
	b.token = r["token"].(string)
	s, info := b.api("POST", "/info", "")
	if s != 200 || fmt.Sprint(info["orgRoles"]) != "[affiliate]" || fmt.Sprint(info["deployableClusters"]) != "[lab-a]" ||
		info["maxNodes"] != float64(2) || info["maxTTL"] != float64(60) {
		t.Errorf("/info: %d %v", s, info)
	}
}
