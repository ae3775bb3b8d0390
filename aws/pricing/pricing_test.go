package pricing_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"provisioner"
	"provisioner/aws/awsenv"
	"provisioner/aws/pricing"
	"provisioner/prices"
	"provisioner/prices/pricestest"
)

func TestRefreshThroughTheSDK(t *testing.T) {
	rec, err := pricestest.Load()
	if err != nil {
		t.Fatal(err)
	}
	srv := rec.Server(t)
	sdk, err := awsenv.Load(context.Background(), awsenv.Options{Region: "us-west-2", Endpoint: srv.URL,
		StaticCredentials: &aws.Credentials{AccessKeyID: "testing", SecretAccessKey: "testing"}})
	if err != nil {
		t.Fatal(err)
	}
	src := pricing.New(sdk)
	types := provisioner.DefaultLayout("").InstanceTypes()
	got, err := prices.Refresh(context.Background(), src, []string{"us-west-2", "us-east-1"}, types, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	shipped := prices.Shipped()
	for r, p := range got.Regions {
		s := shipped.Regions[r]
		for _, typ := range types {
			if p.Instances[typ].OnDemand != s.Instances[typ].OnDemand {
				t.Errorf("%s %s = %v, shipped %v", r, typ, p.Instances[typ], s.Instances[typ])
			}
		}
		// The public IPv4 price is on the VPC query's second page.
		if p.PublicIPv4Hour != s.PublicIPv4Hour || p.NATGatewayHour != s.NATGatewayHour || p.GP3GBMonth != s.GP3GBMonth {
			t.Errorf("%s = %+v", r, p)
		}
	}
	// 2 regions × (3 types + NAT + storage) one page each, VPC two pages.
	if n := len(rec.Signed); n != 2*(3+2)+2*2 {
		t.Errorf("%d calls", n)
	}
	for _, a := range rec.Signed {
		if !strings.Contains(a, "/us-east-1/pricing/aws4_request") {
			t.Fatalf("not signed for the Price List API in us-east-1: %s", a)
		}
	}
	// An API error is unavailable, with the cause.
	_, err = src.Products(context.Background(), "Fail", nil)
	if provisioner.ErrorCode(err) != provisioner.EUNAVAILABLE || !strings.Contains(err.Error(), "bad service") {
		t.Errorf("API error: %v", err)
	}
}
