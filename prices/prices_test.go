package prices_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"provisioner"
	"provisioner/prices"
	"provisioner/prices/pricestest"
	"provisioner/testkit"
)

func TestShippedCoversTheTemplates(t *testing.T) {
	s := prices.Shipped()
	if len(s.Regions) == 0 || s.AsOf == "" || s.Currency != "USD" {
		t.Fatalf("shipped = %+v", s)
	}
	for region, p := range s.Regions {
		for _, typ := range provisioner.DefaultLayout(region).InstanceTypes() {
			ip := p.Instances[typ]
			if ip.OnDemand <= 0 || ip.Spot <= 0 || ip.Spot >= ip.OnDemand {
				t.Errorf("%s %s: %+v", region, typ, ip)
			}
		}
	}
}

// TestShippedEstimatesByHand: a default cluster of 4 nodes for 3 hours in
// us-west-2 with the shipped table. Fixed: load balancer and monitor
// 2 × 0.07976, NAT gateway 0.045, 2 addresses × 0.005, 60 GiB gp3 at
// 0.08 / 730 = 0.0065753; 0.2210953 an hour. Nodes: 4 × 0.2688 = 1.0752
// and 256 GiB = 0.0280548. Hourly 1.3243501, 3 hours 3.9730503.
func TestShippedEstimatesByHand(t *testing.T) {
	e, err := provisioner.EstimateCluster(prices.Shipped(), provisioner.DefaultLayout("us-west-2"), 4, 3*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if e.Hourly != 1.32435 || e.FixedHourly != 0.221095 || e.Total != 3.97305 || e.PricesAsOf != prices.Shipped().AsOf {
		t.Errorf("estimate = hourly %v fixed %v total %v", e.Hourly, e.FixedHourly, e.Total)
	}
	// A node group of 2 for 45 minutes: (0.5376 + 128 × 0.08 / 730) ×
	// 0.75 = 0.5516274 × 0.75 = 0.4137205.
	g, err := provisioner.EstimateGroup(prices.Shipped(), provisioner.DefaultLayout("us-west-2"), 2, 45*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if g.Hourly != 0.551627 || g.Total != 0.413721 {
		t.Errorf("group = hourly %v total %v", g.Hourly, g.Total)
	}
}

func TestParseIsStrict(t *testing.T) {
	for name, in := range map[string]string{
		"unknown field": `{"currency":"USD","regions":{},"discount":0.5}`,
		"two objects":   `{"regions":{}} {}`,
		"not JSON":      `regions: {}`,
		"bad price":     `{"regions":{"us-west-2":{"instances":{},"nat_gateway_hour":-1,"public_ipv4_hour":1,"ebs_gp3_gb_month":1}}}`,
		"bad region":    `{"regions":{"us west 2":{}}}`,
		"too large":     `{"source":"` + strings.Repeat("x", 1<<20) + `"}`,
	} {
		if _, err := prices.Parse([]byte(in), true); provisioner.ErrorCode(err) != provisioner.EINVALID {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Encode and Parse round-trip.
	b, err := prices.Encode(prices.Shipped())
	if err != nil {
		t.Fatal(err)
	}
	back, err := prices.Parse(b, false)
	if err != nil {
		t.Fatal(err)
	}
	if b2, _ := prices.Encode(back); !bytes.Equal(b, b2) {
		t.Errorf("round trip changed the table:\n%s\n%s", b, b2)
	}
}

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestBookLayers(t *testing.T) {
	dir := t.TempDir()
	refreshed, override := filepath.Join(dir, "refreshed.json"), filepath.Join(dir, "override.json")
	clock := testkit.NewClock(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	var logs bytes.Buffer
	book := prices.NewBook(prices.Shipped(), prices.Options{Every: time.Minute, Now: clock.Now, Logger: slog.New(slog.NewTextHandler(&logs, nil))},
		prices.Layer{What: "refreshed", Load: prices.FileLoader(refreshed), Optional: true},
		prices.Layer{What: "override", Load: prices.FileLoader(override), Partial: true})
	ctx := context.Background()
	price := func() float64 {
		t.Helper()
		tb, err := book.PriceTable(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return tb.Regions["us-west-2"].Instances["t4g.2xlarge"].OnDemand
	}
	// No files: the override is required, so Check fails; the shipped
	// table still answers.
	if err := book.Check(ctx); err == nil || !strings.Contains(err.Error(), "override") {
		t.Errorf("Check without the override file: %v", err)
	}
	if p := price(); p != 0.2688 {
		t.Errorf("shipped price = %v", p)
	}
	// A refreshed table, then an override of one price on top.
	ref := prices.Shipped()
	w := ref.Regions["us-west-2"]
	w.Instances = map[string]provisioner.InstancePrice{"t4g.2xlarge": {OnDemand: 0.3}}
	ref.Regions = map[string]provisioner.RegionPrices{"us-west-2": w}
	b, _ := prices.Encode(ref)
	write(t, refreshed, string(b))
	write(t, override, `{"regions":{"us-west-2":{"instances":{"c8g.large":{"on_demand":0.1}}}}}`)
	if err := book.Check(ctx); err != nil {
		t.Fatal(err)
	}
	tb, _ := book.PriceTable(ctx)
	if ip := tb.Regions["us-west-2"].Instances; ip["t4g.2xlarge"].OnDemand != 0.3 || ip["t4g.2xlarge"].Spot != 0.0967 || ip["c8g.large"].OnDemand != 0.1 {
		t.Errorf("merged = %+v", ip)
	}
	// The override wins over the refreshed table; a change is seen after Every.
	write(t, override, `{"regions":{"us-west-2":{"instances":{"t4g.2xlarge":{"on_demand":0.25}}}}}`)
	if p := price(); p != 0.3 {
		t.Errorf("before Every: %v", p)
	}
	clock.Add(time.Minute)
	if p := price(); p != 0.25 {
		t.Errorf("after the override changed: %v", p)
	}
	// A bad override keeps the last good one, and says so once.
	write(t, override, `{"regions":{"us-west-2":{"instances":{"t4g.2xlarge":{"on_demand":"cheap"}}}}}`)
	clock.Add(time.Minute)
	if p := price(); p != 0.25 {
		t.Errorf("after a bad override: %v", p)
	}
	clock.Add(time.Minute)
	price()
	if n := strings.Count(logs.String(), "cannot unmarshal"); n != 1 {
		t.Errorf("logged %d times:\n%s", n, logs.String())
	}
	// The refreshed table removed: the shipped price is back under the override.
	if err := os.Remove(refreshed); err != nil {
		t.Fatal(err)
	}
	write(t, override, `{"regions":{}}`)
	clock.Add(time.Minute)
	if p := price(); p != 0.2688 {
		t.Errorf("without the refreshed table: %v", p)
	}
}

func TestRefreshOnRecordedAnswers(t *testing.T) {
	rec, err := pricestest.Load()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	regions := []string{"us-east-1", "us-west-2"}
	types := provisioner.DefaultLayout("").InstanceTypes()
	got, err := prices.Refresh(context.Background(), rec, regions, types, now)
	if err != nil {
		t.Fatal(err)
	}
	if got.AsOf != "2026-01-15" || got.Source != prices.RefreshSource {
		t.Errorf("table = %+v", got)
	}
	// The recorded list prices are the shipped table's on-demand ones.
	shipped := prices.Shipped()
	for _, r := range regions {
		g, s := got.Regions[r], shipped.Regions[r]
		if g.NATGatewayHour != s.NATGatewayHour || g.PublicIPv4Hour != s.PublicIPv4Hour || g.GP3GBMonth != s.GP3GBMonth {
			t.Errorf("%s: %+v, shipped %+v", r, g, s)
		}
		for _, typ := range types {
			if g.Instances[typ] != (provisioner.InstancePrice{OnDemand: s.Instances[typ].OnDemand}) {
				t.Errorf("%s %s: %+v, shipped %+v", r, typ, g.Instances[typ], s.Instances[typ])
			}
		}
	}
	if n := len(rec.Asked); n != len(regions)*(len(types)+3) {
		t.Errorf("%d queries", n)
	}
	// Merged over the shipped table, spot prices survive.
	if m := shipped.Merge(got); m.Regions["us-west-2"].Instances["t4g.2xlarge"].Spot != 0.0967 {
		t.Errorf("merged = %+v", m.Regions["us-west-2"])
	}
}

// source answers what fn says, for the refresh's failures.
type source func(service string, filters []prices.Filter) ([]string, error)

func (s source) Products(_ context.Context, service string, filters []prices.Filter) ([]string, error) {
	return s(service, filters)
}

func TestRefreshRefusesHoles(t *testing.T) {
	rec, err := pricestest.Load()
	if err != nil {
		t.Fatal(err)
	}
	ctx, now := context.Background(), time.Now()
	// A type nobody recorded: no price, and the refresh fails whole.
	if _, err := prices.Refresh(ctx, rec, []string{"us-west-2"}, []string{"t4g.nano"}, now); provisioner.ErrorCode(err) != provisioner.ENOTFOUND {
		t.Errorf("unknown type: %v", err)
	}
	if _, err := prices.Refresh(ctx, rec, []string{"eu-west-1"}, []string{"t4g.2xlarge"}, now); err == nil {
		t.Error("a region with no answers refreshed")
	}
	for name, args := range map[string][2][]string{
		"bad region": {{"us-west-2; rm"}, {"t4g.2xlarge"}}, "bad type": {{"us-west-2"}, {"t4g 2xlarge"}}, "none": {nil, nil},
	} {
		if _, err := prices.Refresh(ctx, rec, args[0], args[1], now); provisioner.ErrorCode(err) != provisioner.EINVALID {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Two products with different prices for one usage type: ambiguous.
	doc := func(price string) string {
		b, _ := json.Marshal(map[string]any{"product": map[string]any{"attributes": map[string]string{"usagetype": "USW2-BoxUsage:t4g.2xlarge"}},
			"terms": map[string]any{"OnDemand": map[string]any{"T": map[string]any{"priceDimensions": map[string]any{
				"D": map[string]any{"unit": "Hrs", "beginRange": "0", "pricePerUnit": map[string]string{"USD": price}}}}}}})
		return string(b)
	}
	twice := source(func(service string, f []prices.Filter) ([]string, error) {
		if f[0].Field == "instanceType" {
			return []string{doc("0.2688"), doc("0.3")}, nil
		}
		return rec.Products(ctx, service, f)
	})
	if _, err := prices.Refresh(ctx, twice, []string{"us-west-2"}, []string{"t4g.2xlarge"}, now); provisioner.ErrorCode(err) != provisioner.ECONFLICT {
		t.Errorf("ambiguous: %v", err)
	}
	garbage := source(func(string, []prices.Filter) ([]string, error) { return []string{"{"}, nil })
	if _, err := prices.Refresh(ctx, garbage, []string{"us-west-2"}, []string{"t4g.2xlarge"}, now); err == nil {
		t.Error("a document that does not parse was accepted")
	}
}
