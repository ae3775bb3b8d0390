// Package costexplorer reads actual spend from AWS Cost Explorer
// (GetCostAndUsage), daily, grouped by the cost allocation tags the
// provisioner puts on every resource (provisioner.CostTag*): it is the AWS
// backend's provisioner.SpendSource. The tags must be activated as cost
// allocation tags in the Billing console; Cost Explorer's figures lag the
// bill by up to a day.
//
// Each request costs money (USD 0.01 at this writing), so answers are
// kept for CacheTTL per window.
package costexplorer

import (
	"cmp"
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/costexplorer"
	"github.com/aws/aws-sdk-go-v2/service/costexplorer/types"

	"provisioner"
)

// Region is Cost Explorer's: one endpoint, in us-east-1.
const Region = "us-east-1"

// Defaults of Config.
const (
	DefaultMetric   = "UnblendedCost"
	DefaultCacheTTL = time.Hour
	// maxPages bounds one window's answer.
	maxPages = 100
	// maxCached bounds the windows kept.
	maxCached = 64
)

// API is the part of the Cost Explorer client Spend uses.
type API interface {
	GetCostAndUsage(ctx context.Context, in *costexplorer.GetCostAndUsageInput, opts ...func(*costexplorer.Options)) (*costexplorer.GetCostAndUsageOutput, error)
}

// Config configures Spend.
type Config struct {
	// TagKey and TagValue select this provisioner's resources (the
	// driver's "provisioner" tag and the stack prefix); empty: no filter.
	TagKey, TagValue string
	// Metric is the cost metric read (default UnblendedCost).
	Metric string
	// CacheTTL is how long a window's answer is kept (default 1 hour).
	CacheTTL time.Duration
	Now      func() time.Time
}

// Spend reads Cost Explorer.
type Spend struct {
	api API
	cfg Config

	mu    sync.Mutex
	cache map[[2]time.Time]cached
}

type cached struct {
	rows []provisioner.SpendRow
	at   time.Time
}

// New returns a Spend on a Cost Explorer client for sdk's credentials
// in Region (sdk's BaseEndpoint, an emulator's, is kept).
func New(sdk aws.Config, c Config) *Spend {
	return NewWith(costexplorer.NewFromConfig(sdk, func(o *costexplorer.Options) { o.Region = Region }), c)
}

// NewWith returns a Spend on api.
func NewWith(api API, c Config) *Spend {
	if c.Metric == "" {
		c.Metric = DefaultMetric
	}
	if c.CacheTTL == 0 {
		c.CacheTTL = DefaultCacheTTL
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return &Spend{api: api, cfg: c, cache: map[[2]time.Time]cached{}}
}

// Spend implements provisioner.SpendSource: one query grouped by cluster
// and owner, one by cluster and team (Cost Explorer groups by two keys at
// most); a cluster's team on a day is the one team its resources carried
// that day, "" if none or several.
func (s *Spend) Spend(ctx context.Context, since, until time.Time) ([]provisioner.SpendRow, error) {
	since, until = day(since), day(until)
	if !since.Before(until) {
		return nil, provisioner.Errorf(provisioner.EINVALID, "cost explorer: the window %s to %s is empty", since.Format(time.DateOnly), until.Format(time.DateOnly))
	}
	key := [2]time.Time{since, until}
	now := s.cfg.Now()
	s.mu.Lock()
	if c, ok := s.cache[key]; ok && now.Sub(c.at) < s.cfg.CacheTTL {
		s.mu.Unlock()
		return c.rows, nil
	}
	s.mu.Unlock()

	owners, err := s.query(ctx, since, until, provisioner.CostTagOwner)
	if err != nil {
		return nil, err
	}
	teams, err := s.query(ctx, since, until, provisioner.CostTagTeam)
	if err != nil {
		return nil, err
	}
	type dayCluster struct {
		day     time.Time
		cluster string
	}
	teamOf := map[dayCluster]string{}
	for _, g := range teams {
		if g.value == "" || g.amount == 0 {
			continue
		}
		k := dayCluster{g.day, g.cluster}
		if t, seen := teamOf[k]; seen && t != g.value {
			teamOf[k] = "" // several teams: none is the cluster's
		} else if !seen {
			teamOf[k] = g.value
		}
	}
	rows := make([]provisioner.SpendRow, 0, len(owners))
	for _, g := range owners {
		rows = append(rows, provisioner.SpendRow{Day: g.day, Cluster: g.cluster, Owner: g.value,
			Team: teamOf[dayCluster{g.day, g.cluster}], Amount: provisioner.RoundMoney(g.amount)})
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.cache) >= maxCached {
		for k, c := range s.cache {
			if now.Sub(c.at) >= s.cfg.CacheTTL {
				delete(s.cache, k)
			}
		}
		if len(s.cache) >= maxCached {
			clear(s.cache)
		}
	}
	s.cache[key] = cached{rows: rows, at: now}
	return rows, nil
}

// group is one (day, cluster, second key's value) amount.
type group struct {
	day            time.Time
	cluster, value string
	amount         float64
}

// query reads the window's daily cost grouped by cluster and by the tag
// second, every page.
func (s *Spend) query(ctx context.Context, since, until time.Time, second string) ([]group, error) {
	in := &costexplorer.GetCostAndUsageInput{
		TimePeriod:  &types.DateInterval{Start: aws.String(since.Format(time.DateOnly)), End: aws.String(until.Format(time.DateOnly))},
		Granularity: types.GranularityDaily,
		Metrics:     []string{s.cfg.Metric},
		GroupBy: []types.GroupDefinition{{Type: types.GroupDefinitionTypeTag, Key: aws.String(provisioner.CostTagCluster)},
			{Type: types.GroupDefinitionTypeTag, Key: aws.String(second)}},
	}
	if s.cfg.TagKey != "" {
		in.Filter = &types.Expression{Tags: &types.TagValues{Key: aws.String(s.cfg.TagKey), Values: []string{s.cfg.TagValue},
			MatchOptions: []types.MatchOption{types.MatchOptionEquals}}}
	}
	var out []group
	for page := 0; ; page++ {
		if page == maxPages {
			return nil, provisioner.Errorf(provisioner.ETOOLARGE, "cost explorer: more than %d pages for %s to %s; ask for a shorter window",
				maxPages, since.Format(time.DateOnly), until.Format(time.DateOnly))
		}
		res, err := s.api.GetCostAndUsage(ctx, in)
		if err != nil {
			return nil, provisioner.Wrap(provisioner.EUNAVAILABLE, err, "cost explorer: GetCostAndUsage: %v", err)
		}
		for _, r := range res.ResultsByTime {
			d, err := parseDay(r.TimePeriod)
			if err != nil {
				return nil, err
			}
			for _, g := range r.Groups {
				amount, err := s.amount(g.Metrics)
				if err != nil {
					return nil, err
				}
				out = append(out, group{day: d, cluster: tagValue(g.Keys, 0, provisioner.CostTagCluster),
					value: tagValue(g.Keys, 1, second), amount: amount})
			}
		}
		if aws.ToString(res.NextPageToken) == "" {
			return out, nil
		}
		in.NextPageToken = res.NextPageToken
	}
}

// amount reads the metric in USD; a metric not in the answer is 0.
func (s *Spend) amount(m map[string]types.MetricValue) (float64, error) {
	v, ok := m[s.cfg.Metric]
	if !ok {
		return 0, nil
	}
	if unit := aws.ToString(v.Unit); unit != "" && unit != "USD" {
		return 0, provisioner.Errorf(provisioner.EINTERNAL, "cost explorer: amounts in %s; only USD is supported", unit)
	}
	f, err := strconv.ParseFloat(cmp.Or(aws.ToString(v.Amount), "0"), 64)
	if err != nil {
		return 0, provisioner.Errorf(provisioner.EINTERNAL, "cost explorer: amount %q is not a number", aws.ToString(v.Amount))
	}
	return f, nil
}

// tagValue reads a group key "tag$value" (Cost Explorer's form; "tag$"
// for resources without the tag).
func tagValue(keys []string, i int, tag string) string {
	if i >= len(keys) {
		return ""
	}
	v, _ := strings.CutPrefix(keys[i], tag+"$")
	return v
}

func parseDay(p *types.DateInterval) (time.Time, error) {
	if p == nil {
		return time.Time{}, provisioner.Errorf(provisioner.EINTERNAL, "cost explorer: a result without its time period")
	}
	d, err := time.Parse(time.DateOnly, aws.ToString(p.Start))
	if err != nil {
		return time.Time{}, provisioner.Errorf(provisioner.EINTERNAL, "cost explorer: time period start %q is not a date", aws.ToString(p.Start))
	}
	return d, nil
}

// day is t's UTC midnight.
func day(t time.Time) time.Time { return t.UTC().Truncate(24 * time.Hour) }

var _ provisioner.SpendSource = (*Spend)(nil)
