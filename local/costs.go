package local

import (
	"context"
	"log/slog"
	"path/filepath"
	"time"

	"provisioner"
	"provisioner/budgets"
	"provisioner/prices"
	"provisioner/sqlite"
)

// PricesFile, under the data directory, is the table `provisioner prices
// update` refreshes from the AWS Price List API; serve reads it over the
// shipped table, and the operator's override (--prices) over both.
const PricesFile = "prices.json"

// DefaultCostRegion is where local clusters are priced when no region is
// configured: production SlideRule's.
const DefaultCostRegion = "us-west-2"

// costs wires the price table (checked now: a bad override refuses to
// start) and the meter: local clusters cost nothing, so their spend is
// what they would cost on AWS, metered from their runtime.
func (c Config) costs(ctx context.Context, b *provisioner.Backend, store *sqlite.DB, log *slog.Logger) error {
	region := c.CostRegion
	if region == "" {
		region = DefaultCostRegion
	}
	if err := provisioner.ValidateRegion(region); err != nil {
		return configErrorf("--cost-region: %s", provisioner.ErrorMessage(err))
	}
	layers := []prices.Layer{{What: filepath.Join(c.Data, PricesFile), Load: prices.FileLoader(filepath.Join(c.Data, PricesFile)), Optional: true}}
	if c.Prices != "" {
		layers = append(layers, prices.Layer{What: c.Prices, Load: prices.FileLoader(c.Prices), Partial: true})
	}
	book := prices.NewBook(prices.Shipped(), prices.Options{Every: 5 * time.Second, Logger: log}, layers...)
	if err := book.Check(ctx); err != nil {
		return configErrorf("--prices: %v", err)
	}
	t, _ := book.PriceTable(ctx)
	if _, ok := t.Regions[region]; !ok {
		log.Warn("no prices for the cost region: DEPLOY answers carry no estimate", "region", region,
			"fix", "provisioner prices update --region "+region)
	}
	log.Info("costs", "region", region, "prices_as_of", t.AsOf, "override", c.Prices)
	b.Prices, b.Layout, b.Usage = book, provisioner.DefaultLayout(region), store
	if c.Budgets != "" {
		var err error
		if b.Budgets, err = budgets.Load(c.Budgets); err != nil {
			return configErrorf("--budgets: %v", err)
		}
		log.Info("budgets", "file", c.Budgets, "budgets", len(b.Budgets))
	}
	return nil
}
