// Package pricing reads the AWS Price List API (GetProducts) for the price
// table's refresh: it is a prices.Source. The API answers in a few regions
// only; the client is made for us-east-1 unless an endpoint is given.
// The emulator does not serve it: tests replay recorded answers.
package pricing

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/pricing"
	"github.com/aws/aws-sdk-go-v2/service/pricing/types"

	"provisioner"
	"provisioner/prices"
)

// Region is where the Price List API is asked: it serves every region's
// prices from us-east-1 (and eu-central-1, ap-south-1).
const Region = "us-east-1"

// maxPages bounds one query (100 products a page): the queries Refresh
// makes match a handful of products.
const maxPages = 50

// API is the part of the Price List client Source uses.
type API interface {
	GetProducts(ctx context.Context, in *pricing.GetProductsInput, opts ...func(*pricing.Options)) (*pricing.GetProductsOutput, error)
}

// Source asks the Price List API.
type Source struct{ api API }

// New returns a Source on a client for sdk's credentials in Region
// (sdk's BaseEndpoint, an emulator's or a test server's, is kept).
func New(sdk aws.Config) *Source {
	return &Source{api: pricing.NewFromConfig(sdk, func(o *pricing.Options) { o.Region = Region })}
}

// NewWith returns a Source on api.
func NewWith(api API) *Source { return &Source{api: api} }

// Products implements prices.Source: every page of GetProducts.
func (s *Source) Products(ctx context.Context, service string, filters []prices.Filter) ([]string, error) {
	in := &pricing.GetProductsInput{ServiceCode: aws.String(service), FormatVersion: aws.String("aws_v1"), MaxResults: aws.Int32(100)}
	for _, f := range filters {
		in.Filters = append(in.Filters, types.Filter{Type: types.FilterTypeTermMatch, Field: aws.String(f.Field), Value: aws.String(f.Value)})
	}
	var out []string
	for page := 0; ; page++ {
		if page == maxPages {
			return nil, provisioner.Errorf(provisioner.ETOOLARGE, "pricing: more than %d pages of %s products", maxPages, service)
		}
		res, err := s.api.GetProducts(ctx, in)
		if err != nil {
			return nil, provisioner.Wrap(provisioner.EUNAVAILABLE, err, "pricing: GetProducts %s: %v", service, err)
		}
		out = append(out, res.PriceList...)
		if aws.ToString(res.NextToken) == "" {
			return out, nil
		}
		in.NextToken = res.NextToken
	}
}

var _ prices.Source = (*Source)(nil)

// String names the source in logs.
func (s *Source) String() string { return fmt.Sprintf("AWS Price List API (%s)", Region) }
