package provisioner

import (
	"math"
	"testing"
	"time"
)

// handTable holds us-west-2's list prices of early 2026, so each figure
// below can be checked with a pocket calculator.
func handTable() PriceTable {
	return PriceTable{Currency: "USD", AsOf: "2026-01-15", Regions: map[string]RegionPrices{
		"us-west-2": {
			Instances: map[string]InstancePrice{
				"c8g.large":   {OnDemand: 0.07976, Spot: 0.0331},
				"t4g.2xlarge": {OnDemand: 0.2688, Spot: 0.1021},
			},
			NATGatewayHour: 0.045, PublicIPv4Hour: 0.005, GP3GBMonth: 0.08,
		},
	}}
}

func TestEstimateClusterByHand(t *testing.T) {
	e, err := EstimateCluster(handTable(), DefaultLayout("us-west-2"), 2, 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// Fixed: 2 × c8g.large 0.15952 + NAT 0.045 + 2 addresses 0.01
	// + 60 GiB gp3 (4.80 / 730 = 0.0065753) = 0.2210953.
	// Nodes: 2 × 0.2688 = 0.5376 + 128 GiB (10.24 / 730 = 0.0140274).
	want := map[string]float64{"hourly": 0.772723, "fixed": 0.221095, "total": 1.545445}
	got := map[string]float64{"hourly": e.Hourly, "fixed": e.FixedHourly, "total": e.Total}
	for k := range want {
		if got[k] != want[k] {
			t.Errorf("%s = %v, want %v", k, got[k], want[k])
		}
	}
	if e.Hours != 2 || e.Nodes != 2 || e.Region != "us-west-2" || e.Currency != "USD" || e.PricesAsOf != "2026-01-15" || e.Excludes == "" {
		t.Errorf("estimate = %+v", e)
	}
	parts := map[string]CostLine{}
	var sum float64
	for _, l := range e.Lines {
		if l.Part == "storage" {
			parts[l.Part+map[bool]string{true: "/fixed", false: "/nodes"}[l.Fixed]] = l
		} else {
			parts[l.Part] = l
		}
		sum += l.Hourly
	}
	for part, want := range map[string]struct {
		qty, hourly float64
		fixed       bool
	}{
		"load_balancer": {1, 0.07976, true}, "monitor": {1, 0.07976, true}, "nat_gateway": {1, 0.045, true},
		"public_ipv4": {2, 0.01, true}, "storage/fixed": {60, 0.006575, true},
		"nodes": {2, 0.5376, false}, "storage/nodes": {128, 0.014027, false},
	} {
		l, ok := parts[part]
		if !ok || l.Quantity != want.qty || l.Hourly != want.hourly || l.Fixed != want.fixed {
			t.Errorf("line %s = %+v, want %+v", part, l, want)
		}
	}
	if len(e.Lines) != 7 || math.Abs(sum-e.Hourly) > 2e-6 {
		t.Errorf("%d lines summing to %v, hourly %v", len(e.Lines), sum, e.Hourly)
	}
}

func TestEstimateVariantsByHand(t *testing.T) {
	// A cluster in an existing VPC: no NAT gateway, no monitor. 0.07976
	// + 1 address 0.005 + 20 GiB (1.6 / 730 = 0.0021918) + one node
	// 0.2688 + 64 GiB (5.12 / 730 = 0.0070137) = 0.3627655.
	l := DefaultLayout("us-west-2")
	l.MonitorType, l.NATGateway = "", false
	e, err := EstimateCluster(handTable(), l, 1, 30*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if e.Hourly != 0.362765 || e.FixedHourly != 0.086952 || e.Total != 0.181383 || len(e.Lines) != 5 {
		t.Errorf("existing VPC: %+v", e)
	}
	// A node group: 3 × 0.2688 + 192 GiB (15.36 / 730 = 0.0210411) =
	// 0.8274411 an hour; 90 minutes 1.2411616.
	g, err := EstimateGroup(handTable(), DefaultLayout("us-west-2"), 3, 90*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if g.Hourly != 0.827441 || g.FixedHourly != 0 || g.Total != 1.241162 || g.Hours != 1.5 || len(g.Lines) != 2 {
		t.Errorf("group: %+v", g)
	}
}

func TestEstimateRefusals(t *testing.T) {
	if _, err := EstimateCluster(handTable(), DefaultLayout("eu-west-1"), 1, time.Hour); ErrorCode(err) != ENOTFOUND {
		t.Errorf("unknown region: %v", err)
	}
	l := DefaultLayout("us-west-2")
	l.NodeType = "m7g.xlarge"
	if _, err := EstimateCluster(handTable(), l, 1, time.Hour); ErrorCode(err) != ENOTFOUND {
		t.Errorf("unknown type: %v", err)
	}
	if _, err := EstimateCluster(handTable(), DefaultLayout("us-west-2"), -1, time.Hour); ErrorCode(err) != EINVALID {
		t.Errorf("negative nodes: %v", err)
	}
}

func TestPriceTableValidateAndMerge(t *testing.T) {
	if err := handTable().Validate(false); err != nil {
		t.Fatal(err)
	}
	bad := []PriceTable{
		{Currency: "EUR"},
		{AsOf: "yesterday"},
		{Regions: map[string]RegionPrices{"Mars-1": {}}},
		{Regions: map[string]RegionPrices{"us-west-2": {NATGatewayHour: -1, PublicIPv4Hour: 1, GP3GBMonth: 1}}},
		{Regions: map[string]RegionPrices{"us-west-2": {NATGatewayHour: math.NaN(), PublicIPv4Hour: 1, GP3GBMonth: 1}}},
		{Regions: map[string]RegionPrices{"us-west-2": {PublicIPv4Hour: 1, GP3GBMonth: 1}}}, // NAT missing
		{Regions: map[string]RegionPrices{"us-west-2": {NATGatewayHour: 1, PublicIPv4Hour: 1, GP3GBMonth: 1,
			Instances: map[string]InstancePrice{"$(id).x": {OnDemand: 1}}}}},
		{Regions: map[string]RegionPrices{"us-west-2": {NATGatewayHour: 1, PublicIPv4Hour: 1, GP3GBMonth: 1,
			Instances: map[string]InstancePrice{"t4g.large": {Spot: 1}}}}}, // on-demand missing
	}
	for i, tb := range bad {
		if err := tb.Validate(false); ErrorCode(err) != EINVALID {
			t.Errorf("bad table %d: %v", i, err)
		}
	}
	// An override may be partial; merged, it replaces what it names only.
	over := PriceTable{AsOf: "2026-02-01", Regions: map[string]RegionPrices{
		"us-west-2": {Instances: map[string]InstancePrice{"t4g.2xlarge": {Spot: 0.09}, "m7g.large": {OnDemand: 0.0816}}},
		"eu-west-1": {NATGatewayHour: 0.048},
	}}
	if err := over.Validate(true); err != nil {
		t.Fatal(err)
	}
	if err := over.Validate(false); err == nil {
		t.Error("a partial table passed as a whole one")
	}
	m := handTable().Merge(over)
	w := m.Regions["us-west-2"]
	if w.Instances["t4g.2xlarge"] != (InstancePrice{OnDemand: 0.2688, Spot: 0.09}) || w.Instances["m7g.large"].OnDemand != 0.0816 ||
		w.NATGatewayHour != 0.045 || m.AsOf != "2026-02-01" || m.Regions["eu-west-1"].NATGatewayHour != 0.048 {
		t.Errorf("merged = %+v", m)
	}
	if handTable().Regions["us-west-2"].Instances["t4g.2xlarge"].Spot != 0.1021 {
		t.Error("Merge changed its receiver")
	}
}

func TestMeter(t *testing.T) {
	day := func(d, h int) time.Time { return time.Date(2026, 3, d, h, 0, 0, 0, time.UTC) }
	usage := []Usage{
		// 22:00 to 03:00 at $0.50: 2 h on the 1st, 3 h on the 2nd.
		{Key: "a", Cluster: "a", Owner: "ann", Team: "dev", Hourly: 0.5, Start: day(1, 22), End: day(2, 3)},
		// Still running: metered until the end of the window.
		{Key: "b", Cluster: "b", Owner: "bob", Hourly: 0.25, Start: day(2, 20)},
		// Priced when read; starts before the window.
		{Key: "a/bob", Cluster: "a", Owner: "bob", Team: "dev", Group: true, Nodes: 2, Start: day(1, 12), End: day(2, 1)},
	}
	rows := Meter(usage, day(1, 20), day(3, 0), func(u Usage) float64 { return 0.1 * float64(u.Nodes) })
	want := []SpendRow{
		{Day: day(1, 0), Cluster: "a", Owner: "ann", Team: "dev", Amount: 1},
		{Day: day(1, 0), Cluster: "a", Owner: "bob", Team: "dev", Amount: 0.8}, // 20:00-24:00 × 0.2
		{Day: day(2, 0), Cluster: "a", Owner: "ann", Team: "dev", Amount: 1.5},
		{Day: day(2, 0), Cluster: "a", Owner: "bob", Team: "dev", Amount: 0.2},
		{Day: day(2, 0), Cluster: "b", Owner: "bob", Amount: 1},
	}
	if len(rows) != len(want) {
		t.Fatalf("rows = %+v", rows)
	}
	for i := range want {
		if !rows[i].Day.Equal(want[i].Day) || rows[i].Cluster != want[i].Cluster || rows[i].Owner != want[i].Owner ||
			rows[i].Team != want[i].Team || rows[i].Amount != want[i].Amount {
			t.Errorf("row %d = %+v, want %+v", i, rows[i], want[i])
		}
	}
}
