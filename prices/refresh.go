package prices

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"provisioner"
)

// Source is the AWS Price List API's GetProducts: the price list
// documents (JSON text, FormatVersion aws_v1) of service's products that
// match every filter (TERM_MATCH), all pages read.
type Source interface {
	Products(ctx context.Context, service string, filters []Filter) ([]string, error)
}

// Filter is one TERM_MATCH filter of GetProducts.
type Filter struct{ Field, Value string }

// The Price List's service codes and what Refresh asks them.
const (
	ServiceEC2 = "AmazonEC2"
	ServiceVPC = "AmazonVPC"

	// RefreshSource is the Source field of a refreshed table.
	RefreshSource = "AWS Price List API (on-demand; spot from the layers beneath)"
)

// Refresh reads the on-demand prices of types in regions from the Price
// List API, with each region's NAT gateway hour, public IPv4 address hour
// and gp3 GiB-month. The API has no spot prices: the table has none, and
// merged over another keeps that one's. Every price must be found, once:
// a missing or ambiguous one fails the refresh rather than leaving a hole.
func Refresh(ctx context.Context, src Source, regions, types []string, now time.Time) (provisioner.PriceTable, error) {
	if len(regions) == 0 || len(types) == 0 {
		return provisioner.PriceTable{}, provisioner.Errorf(provisioner.EINVALID, "prices: name at least one region and one instance type")
	}
	for _, r := range regions {
		if err := provisioner.ValidateRegion(r); err != nil {
			return provisioner.PriceTable{}, err
		}
	}
	for _, t := range types {
		if err := provisioner.ValidateInstanceType(t); err != nil {
			return provisioner.PriceTable{}, err
		}
	}
	t := provisioner.PriceTable{Currency: "USD", AsOf: now.UTC().Format(time.DateOnly), Source: RefreshSource,
		Regions: map[string]provisioner.RegionPrices{}}
	for _, region := range regions {
		p := provisioner.RegionPrices{Instances: map[string]provisioner.InstancePrice{}}
		for _, typ := range types {
			v, err := lookup(ctx, src, ServiceEC2, []Filter{{"instanceType", typ}, {"regionCode", region}, {"operatingSystem", "Linux"},
				{"tenancy", "Shared"}, {"preInstalledSw", "NA"}, {"capacitystatus", "Used"}}, "BoxUsage:"+typ, "Hrs")
			if err != nil {
				return provisioner.PriceTable{}, fmt.Errorf("%s in %s: %w", typ, region, err)
			}
			p.Instances[typ] = provisioner.InstancePrice{OnDemand: v}
		}
		var err error
		if p.NATGatewayHour, err = lookup(ctx, src, ServiceEC2, []Filter{{"productFamily", "NAT Gateway"}, {"regionCode", region}},
			"NatGateway-Hours", "Hrs"); err != nil {
			return provisioner.PriceTable{}, fmt.Errorf("NAT gateway in %s: %w", region, err)
		}
		if p.PublicIPv4Hour, err = lookup(ctx, src, ServiceVPC, []Filter{{"regionCode", region}},
			"PublicIPv4:InUseAddress", "Hrs"); err != nil {
			return provisioner.PriceTable{}, fmt.Errorf("public IPv4 address in %s: %w", region, err)
		}
		if p.GP3GBMonth, err = lookup(ctx, src, ServiceEC2, []Filter{{"productFamily", "Storage"}, {"volumeApiName", "gp3"}, {"regionCode", region}},
			"EBS:VolumeUsage.gp3", "GB-Mo"); err != nil {
			return provisioner.PriceTable{}, fmt.Errorf("gp3 storage in %s: %w", region, err)
		}
		t.Regions[region] = p
	}
	if err := t.Validate(false); err != nil {
		return provisioner.PriceTable{}, err
	}
	return t, nil
}

// product is the part of a price list document Refresh reads.
type product struct {
	Product struct {
		Attributes map[string]string `json:"attributes"`
	} `json:"product"`
	Terms struct {
		OnDemand map[string]struct {
			PriceDimensions map[string]struct {
				Unit         string            `json:"unit"`
				BeginRange   string            `json:"beginRange"`
				PricePerUnit map[string]string `json:"pricePerUnit"`
			} `json:"priceDimensions"`
		} `json:"OnDemand"`
	} `json:"terms"`
}

// lookup finds the one on-demand USD price, per unit, of the products
// whose usage type ends in usage (region prefixes such as USW2- vary).
func lookup(ctx context.Context, src Source, service string, filters []Filter, usage, unit string) (float64, error) {
	docs, err := src.Products(ctx, service, filters)
	if err != nil {
		return 0, err
	}
	var found []float64
	for _, d := range docs {
		var p product
		if err := json.Unmarshal([]byte(d), &p); err != nil {
			return 0, fmt.Errorf("a price list document does not parse: %v", err)
		}
		ut := p.Product.Attributes["usagetype"]
		if ut != usage && !strings.HasSuffix(ut, "-"+usage) {
			continue
		}
		for _, term := range p.Terms.OnDemand {
			for _, dim := range term.PriceDimensions {
				if dim.Unit != unit || (dim.BeginRange != "" && dim.BeginRange != "0") {
					continue
				}
				v, err := strconv.ParseFloat(dim.PricePerUnit["USD"], 64)
				if err != nil {
					return 0, fmt.Errorf("price %q of %s is not a number", dim.PricePerUnit["USD"], ut)
				}
				if !slices.Contains(found, v) {
					found = append(found, v)
				}
			}
		}
	}
	switch {
	case len(found) == 0:
		return 0, provisioner.Errorf(provisioner.ENOTFOUND, "no on-demand price per %s for usage type %s", unit, usage)
	case len(found) > 1:
		return 0, provisioner.Errorf(provisioner.ECONFLICT, "%d different on-demand prices for usage type %s: %v", len(found), usage, found)
	case found[0] <= 0:
		return 0, provisioner.Errorf(provisioner.ENOTFOUND, "the on-demand price of %s is %v", usage, found[0])
	}
	return found[0], nil
}
