package pricing_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"provisioner"
	"provisioner/aws/awsenv"
	"provisioner/aws/pricing"
	"provisioner/prices"
	"provisioner/prices/pricestest"
)

// recordedAPI serves the recorded GetProducts answers as the Price List
// API does (JSON 1.1 over HTTP), a page per call with NextToken, so the
// real SDK client and the adapter's paging run.
func recordedAPI(t *testing.T, rec *pricestest.Recorded) (*httptest.Server, *[]string) {
	var mu sync.Mutex
	var scopes []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("X-Amz-Target"); got != "AWSPriceListService.GetProducts" {
			http.Error(w, "unexpected target "+got, http.StatusBadRequest)
			return
		}
		mu.Lock()
		scopes = append(scopes, r.Header.Get("Authorization"))
		mu.Unlock()
		var in struct {
			ServiceCode, FormatVersion, NextToken string
			Filters                               []struct{ Type, Field, Value string }
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		filters := map[string]string{}
		for _, f := range in.Filters {
			if f.Type != "TERM_MATCH" {
				t.Errorf("filter type %q", f.Type)
			}
			filters[f.Field] = f.Value
		}
		if in.ServiceCode == "Throttle" {
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"__type":"InvalidParameterException","Message":"bad service"}`))
			return
		}
		pages, _ := rec.Pages(in.ServiceCode, filters)
		page := 0
		if in.NextToken != "" {
			page, _ = strconv.Atoi(in.NextToken)
		}
		out := map[string]any{"FormatVersion": in.FormatVersion, "PriceList": []string{}}
		if page < len(pages) {
			out["PriceList"] = pages[page]
		}
		if page+1 < len(pages) {
			out["NextToken"] = strconv.Itoa(page + 1)
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_ = json.NewEncoder(w).Encode(out)
	}))
	t.Cleanup(srv.Close)
	return srv, &scopes
}

func TestRefreshThroughTheSDK(t *testing.T) {
	rec, err := pricestest.Load()
	if err != nil {
		t.Fatal(err)
	}
	srv, scopes := recordedAPI(t, rec)
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
	if n := len(*scopes); n != 2*(3+2)+2*2 {
		t.Errorf("%d calls", n)
	}
	for _, a := range *scopes {
		if !strings.Contains(a, "/us-east-1/pricing/aws4_request") {
			t.Fatalf("not signed for the Price List API in us-east-1: %s", a)
		}
	}
	// An API error is unavailable, with the cause.
	_, err = src.Products(context.Background(), "Throttle", nil)
	if provisioner.ErrorCode(err) != provisioner.EUNAVAILABLE || !strings.Contains(err.Error(), "bad service") {
		t.Errorf("API error: %v", err)
	}
}
