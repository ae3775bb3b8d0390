package aws

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"provisioner"
	"provisioner/aws/awsenv"
	"provisioner/aws/awstest"
	"provisioner/aws/pricing"
	"provisioner/prices"
	"provisioner/prices/pricestest"
)

// TestPricesOnS3: the price table's layers in the emulator's S3 (none at
// first: the shipped table), the refresh written where the refreshed
// layer reads it (from recorded Price List answers), the operator's
// override on top; and the layout of a cluster in an existing VPC.
func TestPricesOnS3(t *testing.T) {
	sdk := awstest.Config(t)
	ctx := context.Background()
	bucket := awstest.Name("prices")
	client := s3sdk.NewFromConfig(sdk, func(o *s3sdk.Options) { o.UsePathStyle = true })
	if _, err := client.CreateBucket(ctx, &s3sdk.CreateBucketInput{Bucket: awssdk.String(bucket),
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(awstest.Region)}}); err != nil {
		t.Fatal(err)
	}
	c := Config{Prefix: "p", LogBucket: bucket, ProjectBucket: bucket, Prices: "ops/prices.json", Endpoint: *sdk.BaseEndpoint}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	table := func() provisioner.PriceTable {
		t.Helper()
		var b provisioner.Backend
		if err := c.costs(sdk, &b, log); err != nil {
			t.Fatal(err)
		}
		if b.Spend == nil || b.RefreshPrices == nil || b.Layout.Region != awstest.Region || !b.Layout.NATGateway {
			t.Fatalf("backend = %+v", b)
		}
		tb, err := b.Prices.PriceTable(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return tb
	}
	if tb := table(); tb.AsOf != prices.Shipped().AsOf {
		t.Errorf("with no objects: %+v", tb)
	}

	rec, err := pricestest.Load()
	if err != nil {
		t.Fatal(err)
	}
	srv := rec.Server(t)
	// The endpoint must be given at load: the SDK reads it from its config
	// sources before BaseEndpoint.
	psdk, err := awsenv.Load(ctx, awsenv.Options{Region: awstest.Region, Endpoint: srv.URL,
		StaticCredentials: &awssdk.Credentials{AccessKeyID: "testing", SecretAccessKey: "testing"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := refreshPrices(ctx, pricing.New(psdk), client, bucket, awstest.Region, provisioner.DefaultLayout(awstest.Region)); err != nil {
		t.Fatal(err)
	}
	tb := table()
	w := tb.Regions[awstest.Region]
	if tb.AsOf != time.Now().UTC().Format(time.DateOnly) || tb.Source != prices.RefreshSource ||
		w.Instances["t4g.2xlarge"] != (provisioner.InstancePrice{OnDemand: 0.2688, Spot: 0.0967}) {
		t.Errorf("after the refresh: %+v", tb)
	}
	if _, err := client.PutObject(ctx, &s3sdk.PutObjectInput{Bucket: awssdk.String(bucket), Key: awssdk.String("ops/prices.json"),
		Body: bytes.NewReader([]byte(`{"regions":{"us-west-2":{"instances":{"t4g.2xlarge":{"on_demand":1}}}}}`))}); err != nil {
		t.Fatal(err)
	}
	if p := table().Regions[awstest.Region].Instances["t4g.2xlarge"].OnDemand; p != 1 {
		t.Errorf("with the override: %v", p)
	}

	// A cluster in an existing VPC has no NAT gateway or monitor of its own.
	c.VPCID = "vpc-0123456789abcdef0"
	var b provisioner.Backend
	if err := c.costs(sdk, &b, log); err != nil || b.Layout.NATGateway || b.Layout.MonitorType != "" {
		t.Errorf("existing VPC layout: %+v %v", b.Layout, err)
	}
	c.NoCostExplorer, c.Prices, c.ProjectBucket = true, "key-without-bucket", ""
	if err := c.costs(sdk, &b, log); err == nil {
		t.Error("an override key without a project bucket was accepted")
	}
}
