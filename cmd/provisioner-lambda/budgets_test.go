package main

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"

	"provisioner/aws/lambda"
)

// TestAWSBackendBudgets: budgets in an S3 object, read by each Lambda
// instance at its first use (a cold start makes no AWS call); while the
// object is missing DEPLOY fails closed (503); then two DEPLOYs at once
// through two instances, which share nothing but the table, with room in
// the budget for one: exactly one is deployed.
func TestAWSBackendBudgets(t *testing.T) {
	b := newAWSBackend(t)
	b.env["PROVISIONER_BUDGETS"] = "s3://" + b.bucket + "/config/budgets.json"
	b.calls.Reset()
	h1, err := b.handler()
	if err != nil {
		t.Fatal(err)
	}
	h2, err := b.handler()
	if err != nil {
		t.Fatal(err)
	}
	if n := b.calls.Total(); n != 0 {
		t.Fatalf("wiring with budgets in S3 made %d AWS calls (%v); a cold start must make none", n, b.calls.Calls())
	}
	status, body := b.apiTo(h1, "POST", "/auth/github/pat", `{"pat":"tok-admin"}`, nil)
	if status != 200 {
		t.Fatalf("login: %d %v", status, body)
	}
	b.token = body["token"].(string)
	status, body = b.apiTo(h1, "POST", "/deploy", `{"cluster":"bud0","node_capacity":1,"ttl":60}`, nil)
	if status != 503 || !strings.Contains(body["error_description"].(string), "budgets") {
		t.Fatalf("a DEPLOY without its budgets: %d %v", status, body)
	}
	if got := b.stackStatus("bud0"); got != "absent" {
		t.Fatalf("a DEPLOY without its budgets made a stack: %s", got)
	}

	// 1 node for an hour in the existing VPC is 0.362765 (0.07976 +
	// 0.005 + 0.0021918 + 0.2688 + 0.0070137): room for one in 0.50.
	if _, err := s3sdk.NewFromConfig(b.cfg, func(o *s3sdk.Options) { o.UsePathStyle = true }).PutObject(context.Background(), &s3sdk.PutObjectInput{
		Bucket: aws.String(b.bucket), Key: aws.String("config/budgets.json"),
		Body: strings.NewReader(`{"budgets": [{"scope": "user:ada", "monthly": 0.5, "policy": "refuse"}]}`)}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var statuses [2]int
	var bodies [2]map[string]any
	for i, h := range []*lambda.Handler{h1, h2} {
		wg.Go(func() {
			statuses[i], bodies[i] = b.apiTo(h, "POST", "/deploy", `{"cluster":"bud`+string(rune('1'+i))+`","node_capacity":1,"ttl":60}`, nil)
		})
	}
	wg.Wait()
	won := -1
	for i, s := range statuses {
		switch {
		case (s == 200 || s == 202) && won >= 0:
			t.Fatalf("both deploys went through: %v", bodies)
		case s == 200 || s == 202:
			won = i
		case s != 403 || bodies[i]["error"] != "limit_exceeded":
			t.Fatalf("deploy %d: %d %v", i, s, bodies[i])
		}
	}
	if won < 0 {
		t.Fatalf("neither deploy went through: %v", bodies)
	}
	lost := 1 - won
	if d := bodies[lost]["error_description"].(string); !strings.Contains(d, "user:ada has $0.14 left") {
		t.Errorf("refusal: %s", d)
	}
	b.wait(statuses[won], bodies[won])
	if got := b.stackStatus("bud" + string(rune('1'+lost))); got != "absent" {
		t.Fatalf("the refused deploy made a stack: %s", got)
	}
	status, body = b.apiTo(h2, "GET", "/report/budgets", "", nil)
	list, _ := body["budgets"].([]any)
	if status != 200 || len(list) != 1 || body["source"] != "cost_explorer" {
		t.Fatalf("report: %d %v", status, body)
	}
	if mine := list[0].(map[string]any); mine["scope"] != "user:ada" || mine["live"] != 1.0 || mine["reserved"].(float64) < 0.36 {
		t.Fatalf("ada's budget: %v", mine)
	}
}
