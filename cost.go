package provisioner

import (
	"cmp"
	"context"
	"math"
	"regexp"
	"slices"
	"time"
)

// Costs: what a cluster will cost (estimates from a price table and the
// cluster's layout) and what was spent (actual spend from the cloud's
// bill, or metered from runtime on the embedded backend). Amounts are US
// dollars, rounded to the micro-dollar (RoundMoney).

// Market is how an instance is bought.
type Market string

// The markets a price table knows.
const (
	OnDemand Market = "on_demand"
	Spot     Market = "spot"
)

// InstancePrice is an EC2 instance type's hourly price in one region.
// Spot is a typical price (spot prices move; the Price List API has
// none); 0 means unknown.
type InstancePrice struct {
	OnDemand float64 `json:"on_demand"`
	Spot     float64 `json:"spot,omitempty"`
}

// RegionPrices are one region's prices of the parts a cluster is made of.
type RegionPrices struct {
	Instances map[string]InstancePrice `json:"instances"`
	// NATGatewayHour is a NAT gateway's hourly charge (data processed
	// is billed per GB on top, and not estimated).
	NATGatewayHour float64 `json:"nat_gateway_hour"`
	// PublicIPv4Hour is the hourly charge of one public IPv4 address.
	PublicIPv4Hour float64 `json:"public_ipv4_hour"`
	// GP3GBMonth is the monthly charge of one GiB of gp3 volume.
	GP3GBMonth float64 `json:"ebs_gp3_gb_month"`
}

// PriceTable holds prices per region, and says where they came from.
type PriceTable struct {
	Currency string                  `json:"currency"`
	AsOf     string                  `json:"as_of"`  // the date the prices were read, YYYY-MM-DD
	Source   string                  `json:"source"` // e.g. "AWS Price List API"
	Regions  map[string]RegionPrices `json:"regions"`
}

// HoursPerMonth turns monthly prices into hourly ones, as AWS's own
// calculator does.
const HoursPerMonth = 730

var (
	regionRE       = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]$`)
	instanceTypeRE = regexp.MustCompile(`^[a-z][a-z0-9-]*\.[a-z0-9]+$`)
	asOfRE         = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`)
)

// ValidateRegion accepts an AWS region name such as us-west-2.
func ValidateRegion(r string) error {
	if !regionRE.MatchString(r) {
		return Errorf(EINVALID, "invalid region %q: an AWS region such as us-west-2", truncate(r, 64))
	}
	return nil
}

// ValidateInstanceType accepts an EC2 instance type such as t4g.2xlarge.
func ValidateInstanceType(t string) error {
	if len(t) > 64 || !instanceTypeRE.MatchString(t) {
		return Errorf(EINVALID, "invalid instance type %q: an EC2 type such as t4g.2xlarge", truncate(t, 64))
	}
	return nil
}

// Validate checks a table for what an estimate relies on: USD, known
// shapes of regions and types, finite prices that are not negative.
// partial allows missing prices (0), as an operator's override has.
func (t PriceTable) Validate(partial bool) error {
	if t.Currency != "" && t.Currency != "USD" {
		return Errorf(EINVALID, "price table: currency %q: only USD is supported", truncate(t.Currency, 16))
	}
	if t.AsOf != "" && !asOfRE.MatchString(t.AsOf) {
		return Errorf(EINVALID, "price table: as_of %q must be a date, YYYY-MM-DD", truncate(t.AsOf, 32))
	}
	price := func(what string, v float64, required bool) error {
		switch {
		case math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || v > 1e6:
			return Errorf(EINVALID, "price table: %s: %v is not a price", what, v)
		case v == 0 && required && !partial:
			return Errorf(EINVALID, "price table: %s is missing", what)
		}
		return nil
	}
	for region, p := range t.Regions {
		if err := ValidateRegion(region); err != nil {
			return Errorf(EINVALID, "price table: %s", ErrorMessage(err))
		}
		for _, c := range []struct {
			what string
			v    float64
		}{{"nat_gateway_hour", p.NATGatewayHour}, {"public_ipv4_hour", p.PublicIPv4Hour}, {"ebs_gp3_gb_month", p.GP3GBMonth}} {
			if err := price(region+" "+c.what, c.v, true); err != nil {
				return err
			}
		}
		for typ, ip := range p.Instances {
			if err := ValidateInstanceType(typ); err != nil {
				return Errorf(EINVALID, "price table: %s: %s", region, ErrorMessage(err))
			}
			if err := price(region+" "+typ+" on_demand", ip.OnDemand, true); err != nil {
				return err
			}
			if err := price(region+" "+typ+" spot", ip.Spot, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// Merge returns t with over's prices on top: a region, instance type or
// price that over names with a non-zero value replaces t's, everything
// else stays. AsOf and Source are over's when it sets them.
func (t PriceTable) Merge(over PriceTable) PriceTable {
	out := PriceTable{Currency: "USD", AsOf: t.AsOf, Source: t.Source, Regions: map[string]RegionPrices{}}
	if over.AsOf != "" {
		out.AsOf = over.AsOf
	}
	if over.Source != "" {
		out.Source = over.Source
	}
	for r, p := range t.Regions {
		out.Regions[r] = p.clone()
	}
	for r, o := range over.Regions {
		p := out.Regions[r].clone()
		setIf(&p.NATGatewayHour, o.NATGatewayHour)
		setIf(&p.PublicIPv4Hour, o.PublicIPv4Hour)
		setIf(&p.GP3GBMonth, o.GP3GBMonth)
		for typ, ip := range o.Instances {
			cur := p.Instances[typ]
			setIf(&cur.OnDemand, ip.OnDemand)
			setIf(&cur.Spot, ip.Spot)
			p.Instances[typ] = cur
		}
		out.Regions[r] = p
	}
	return out
}

func setIf(dst *float64, v float64) {
	if v != 0 {
		*dst = v
	}
}

func (p RegionPrices) clone() RegionPrices {
	m := make(map[string]InstancePrice, len(p.Instances))
	for k, v := range p.Instances {
		m[k] = v
	}
	p.Instances = m
	return p
}

// Layout is what one cluster is made of on AWS (deploy/cluster.yaml), as
// far as its price goes: the instance types, the gp3 root volumes, and
// whether it has its own network (a NAT gateway and its address) and a
// monitor. Nodes run on-demand, as the template's Auto Scaling group.
type Layout struct {
	Region                     string
	LoadBalancerType, NodeType string
	// MonitorType is "" when the cluster has no monitor (a cluster in an
	// existing VPC has none).
	MonitorType string
	// NATGateway: the cluster has a VPC of its own, so a NAT gateway and
	// an elastic address for it.
	NATGateway bool
	// The gp3 root volumes, in GiB.
	LoadBalancerDiskGB, MonitorDiskGB, NodeDiskGB int
	// RunnerType and RunnerMarket are the TEST and RELEASE machines'
	// (deploy/runner.yaml), priced in the table beside the cluster's.
	RunnerType   string
	RunnerMarket Market
}

// DefaultLayout is deploy/cluster.yaml's defaults in region: a c8g.large
// load balancer (20 GiB) and monitor (40 GiB), t4g.2xlarge nodes (64 GiB),
// a VPC of its own with a NAT gateway; jobs on a c7g.2xlarge spot machine
// (deploy/runner.yaml). A test keeps it and the templates the same.
func DefaultLayout(region string) Layout {
	return Layout{Region: region, LoadBalancerType: "c8g.large", NodeType: "t4g.2xlarge", MonitorType: "c8g.large",
		NATGateway: true, LoadBalancerDiskGB: 20, MonitorDiskGB: 40, NodeDiskGB: 64,
		RunnerType: "c7g.2xlarge", RunnerMarket: Spot}
}

// InstanceTypes lists the layout's instance types, sorted, each once.
func (l Layout) InstanceTypes() []string {
	seen := map[string]bool{}
	var out []string
	for _, t := range []string{l.LoadBalancerType, l.NodeType, l.MonitorType, l.RunnerType} {
		if t != "" && !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return out
}

// Estimate is what a cluster (or a node group) is expected to cost: per
// hour, and over Hours (the time until its destroy schedule fires), with
// one line per part. Fixed lines are the cluster's own whatever its node
// count (load balancer, monitor, NAT gateway, their addresses and disks).
type Estimate struct {
	Currency    string     `json:"currency"`
	Region      string     `json:"region"`
	Nodes       int        `json:"nodes"`
	Hours       float64    `json:"hours"`
	Hourly      float64    `json:"hourly"`
	FixedHourly float64    `json:"fixed_hourly"`
	Total       float64    `json:"total"`
	Lines       []CostLine `json:"lines"`
	PricesAsOf  string     `json:"prices_as_of,omitempty"`
	// Excludes says what the estimate leaves out.
	Excludes string `json:"excludes"`
}

// CostLine is one part of an Estimate: Quantity units at UnitPrice each,
// Hourly in all.
type CostLine struct {
	Part      string  `json:"part"` // load_balancer, monitor, nat_gateway, public_ipv4, nodes, storage
	Item      string  `json:"item"` // an instance type, "gp3", "address"
	Market    Market  `json:"market,omitempty"`
	Quantity  float64 `json:"quantity"`
	Unit      string  `json:"unit"` // instance-hour, address-hour, gateway-hour, GiB-month
	UnitPrice float64 `json:"unit_price"`
	Hourly    float64 `json:"hourly"`
	Fixed     bool    `json:"fixed"`
}

// estimateExcludes is what no estimate includes: usage-based charges.
const estimateExcludes = "data transfer, NAT gateway data processing, S3 requests and taxes"

// RoundMoney rounds a dollar amount to the micro-dollar, so sums of
// hand-checkable prices compare exactly.
func RoundMoney(v float64) float64 { return math.Round(v*1e6) / 1e6 }

// EstimateCluster estimates a cluster of layout l with nodes nodes kept
// for d: the fixed parts plus the nodes.
func EstimateCluster(t PriceTable, l Layout, nodes int, d time.Duration) (Estimate, error) {
	return estimate(t, l, nodes, d, true)
}

// EstimateGroup estimates a user node group of nodes nodes kept for d on
// a cluster of layout l: the nodes and their disks alone.
func EstimateGroup(t PriceTable, l Layout, nodes int, d time.Duration) (Estimate, error) {
	return estimate(t, l, nodes, d, false)
}

func estimate(t PriceTable, l Layout, nodes int, d time.Duration, fixed bool) (Estimate, error) {
	if nodes < 0 || d < 0 {
		return Estimate{}, Errorf(EINVALID, "estimate: nodes and duration must not be negative")
	}
	p, ok := t.Regions[l.Region]
	if !ok {
		return Estimate{}, Errorf(ENOTFOUND, "no prices for region %q: add them to the price table (provisioner prices update --region %s, or the operator's override)", l.Region, l.Region)
	}
	e := Estimate{Currency: "USD", Region: l.Region, Nodes: nodes, Hours: RoundMoney(d.Hours()), PricesAsOf: t.AsOf, Excludes: estimateExcludes}
	instance := func(part, typ string, n int, isFixed bool) error {
		ip, ok := p.Instances[typ]
		if !ok || ip.OnDemand == 0 {
			return Errorf(ENOTFOUND, "no on-demand price for %s in %s: add it to the price table", typ, l.Region)
		}
		e.add(CostLine{Part: part, Item: typ, Market: OnDemand, Quantity: float64(n), Unit: "instance-hour", UnitPrice: ip.OnDemand, Fixed: isFixed})
		return nil
	}
	storage := func(gb int, isFixed bool) {
		if gb > 0 {
			e.add(CostLine{Part: "storage", Item: "gp3", Quantity: float64(gb), Unit: "GiB-month", UnitPrice: p.GP3GBMonth, Fixed: isFixed})
		}
	}
	if fixed {
		if err := instance("load_balancer", l.LoadBalancerType, 1, true); err != nil {
			return Estimate{}, err
		}
		addresses := 1 // the load balancer's public address
		if l.MonitorType != "" {
			if err := instance("monitor", l.MonitorType, 1, true); err != nil {
				return Estimate{}, err
			}
		}
		if l.NATGateway {
			e.add(CostLine{Part: "nat_gateway", Item: "NAT gateway", Quantity: 1, Unit: "gateway-hour", UnitPrice: p.NATGatewayHour, Fixed: true})
			addresses++ // the gateway's elastic address
		}
		e.add(CostLine{Part: "public_ipv4", Item: "address", Quantity: float64(addresses), Unit: "address-hour", UnitPrice: p.PublicIPv4Hour, Fixed: true})
		disk := l.LoadBalancerDiskGB
		if l.MonitorType != "" {
			disk += l.MonitorDiskGB
		}
		storage(disk, true)
	}
	if nodes > 0 {
		if err := instance("nodes", l.NodeType, nodes, false); err != nil {
			return Estimate{}, err
		}
		storage(nodes*l.NodeDiskGB, false)
	}
	e.Total = RoundMoney(e.Hourly * d.Hours())
	e.Hourly, e.FixedHourly = RoundMoney(e.Hourly), RoundMoney(e.FixedHourly)
	return e, nil
}

// add appends a line, computing its hourly figure (monthly units through
// HoursPerMonth), and adds it to the totals.
func (e *Estimate) add(l CostLine) {
	h := l.Quantity * l.UnitPrice
	if l.Unit == "GiB-month" {
		h /= HoursPerMonth
	}
	l.Hourly = RoundMoney(h)
	e.Lines = append(e.Lines, l)
	e.Hourly += h
	if l.Fixed {
		e.FixedHourly += h
	}
}

// Prices gives the price table in force: the one shipped with the binary,
// refreshed from the AWS Price List API, under the operator's overrides.
type Prices interface {
	PriceTable(ctx context.Context) (PriceTable, error)
}

// SpendRow is the money one owner's resources of one cluster cost on one
// day (UTC). Cluster is "" for what belongs to no cluster (job machines);
// Team is the team the cluster was shared with, "" for none.
type SpendRow struct {
	Day     time.Time
	Cluster string
	Owner   string
	Team    string
	Amount  float64
}

// SpendSource reports actual spend per day from the cloud's bill (AWS
// Cost Explorer, by the resources' cost allocation tags) for the days
// from since up to, not including, until (both UTC midnights).
type SpendSource interface {
	Spend(ctx context.Context, since, until time.Time) ([]SpendRow, error)
}

// Usage is one stretch of a deployment's life, for metering on a backend
// without a bill (embedded): Nodes nodes of Key (a cluster's name, or a
// node group's GroupKey) from Start until End (zero while it runs), at
// Hourly dollars an hour (0: priced when read).
type Usage struct {
	Key     string    `json:"key"`
	Cluster string    `json:"cluster"`
	Owner   string    `json:"owner"`
	Team    string    `json:"team,omitempty"`
	Group   bool      `json:"group,omitempty"`
	Nodes   int       `json:"nodes"`
	Hourly  float64   `json:"hourly"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end,omitzero"`
}

// UsageStore keeps Usage for metering.
type UsageStore interface {
	// StartUsage opens a stretch for u.Key at u.Start, ending an open one
	// of the same key there first; starting the same stretch again (same
	// key and start) changes nothing.
	StartUsage(ctx context.Context, u Usage) error
	// EndUsage ends key's open stretch at end; none open is not an error.
	EndUsage(ctx context.Context, key string, end time.Time) error
	// ListUsage returns the stretches that overlap [since, until), by
	// start; open ones included.
	ListUsage(ctx context.Context, since, until time.Time) ([]Usage, error)
}

// Meter turns usage into spend rows: each stretch's hours within
// [since, until) (an open one runs until until) split at UTC midnights,
// times its hourly price; price prices a stretch whose Hourly is 0.
func Meter(usage []Usage, since, until time.Time, price func(Usage) float64) []SpendRow {
	type key struct {
		day                  time.Time
		cluster, owner, team string
	}
	sums := map[key]float64{}
	for _, u := range usage {
		start, end := u.Start, u.End
		if end.IsZero() || end.After(until) {
			end = until
		}
		if start.Before(since) {
			start = since
		}
		hourly := u.Hourly
		if hourly == 0 && price != nil {
			hourly = price(u)
		}
		for start.Before(end) {
			day := start.UTC().Truncate(24 * time.Hour)
			next := day.Add(24 * time.Hour)
			if next.After(end) {
				next = end
			}
			sums[key{day, u.Cluster, u.Owner, u.Team}] += next.Sub(start).Hours() * hourly
			start = next
		}
	}
	rows := make([]SpendRow, 0, len(sums))
	for k, v := range sums {
		rows = append(rows, SpendRow{Day: k.day, Cluster: k.cluster, Owner: k.owner, Team: k.team, Amount: RoundMoney(v)})
	}
	slices.SortFunc(rows, func(a, b SpendRow) int {
		return cmp.Or(a.Day.Compare(b.Day), cmp.Compare(a.Cluster, b.Cluster), cmp.Compare(a.Owner, b.Owner), cmp.Compare(a.Team, b.Team))
	})
	return rows
}

// The cost allocation tags every AWS resource of a cluster, a node group
// or a job machine carries, which Cost Explorer groups the bill by once
// they are activated: the cluster ("" for job machines), its owner (a
// node group's user; a job's requester), the team the cluster is shared
// with (none: no tag), and the kind (cluster, group, runner).
const (
	CostTagCluster = "cluster"
	CostTagOwner   = "owner"
	CostTagTeam    = "team"
	CostTagKind    = "kind"
)
