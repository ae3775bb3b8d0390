package aws

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"

	"provisioner"
	"provisioner/aws/costexplorer"
	"provisioner/aws/pricing"
	"provisioner/aws/s3"
	"provisioner/prices"
)

// PricesKey is where, in the log bucket, the daily refresh writes the
// price table read from the AWS Price List API.
const PricesKey = "prices/prices.json"

// costs wires the price table (shipped, then the refreshed object, then
// the operator's override; read at first use and looked at again every
// 5 minutes), the layout clusters are priced by (deploy/cluster.yaml's
// defaults in the Lambda's region, without NAT gateway and monitor in an
// existing VPC), Cost Explorer's spend of this provisioner's resources
// (tag provisioner=<prefix>), and the refresh.
func (c Config) costs(sdk awssdk.Config, b *provisioner.Backend, log *slog.Logger) error {
	layout := provisioner.DefaultLayout(sdk.Region)
	if c.VPCID != "" {
		layout.NATGateway, layout.MonitorType = false, ""
	}
	if c.JobInstanceType != "" {
		layout.RunnerType = c.JobInstanceType
	}
	client := c.s3(sdk)
	layers := []prices.Layer{{What: "s3://" + c.LogBucket + "/" + PricesKey, Load: objectLayer(client, c.LogBucket, PricesKey), Optional: true}}
	if c.Prices != "" {
		bucket, key := c.ProjectBucket, c.Prices
		if strings.HasPrefix(key, "s3://") {
			var err error
			if bucket, key, err = s3.ParseObjectURL(key); err != nil {
				return fmt.Errorf("PROVISIONER_PRICES: %w", err)
			}
		} else if bucket == "" {
			return fmt.Errorf("PROVISIONER_PRICES names a key (%s) but PROVISIONER_PROJECT_BUCKET is not set", key)
		}
		layers = append(layers, prices.Layer{What: "s3://" + bucket + "/" + key, Load: objectLayer(client, bucket, key), Partial: true})
	}
	b.Prices = prices.NewBook(prices.Shipped(), prices.Options{Every: 5 * time.Minute, Logger: log}, layers...)
	b.Layout = layout
	if !c.NoCostExplorer {
		b.Spend = costexplorer.New(sdk, costexplorer.Config{TagKey: "provisioner", TagValue: c.Prefix})
	}
	src := pricing.New(sdk)
	b.RefreshPrices = func(ctx context.Context) error {
		return refreshPrices(ctx, src, client, c.LogBucket, sdk.Region, layout)
	}
	return nil
}

// refreshPrices reads the region's prices of the layout's parts and
// writes them where the Book's refreshed layer reads them.
func refreshPrices(ctx context.Context, src prices.Source, client *s3sdk.Client, bucket, region string, l provisioner.Layout) error {
	t, err := prices.Refresh(ctx, src, []string{region}, l.InstanceTypes(), time.Now())
	if err != nil {
		return err
	}
	data, err := prices.Encode(t)
	if err != nil {
		return err
	}
	_, err = client.PutObject(ctx, &s3sdk.PutObjectInput{Bucket: awssdk.String(bucket), Key: awssdk.String(PricesKey),
		Body: bytes.NewReader(data), ContentType: awssdk.String("application/json")})
	if err != nil {
		return provisioner.Wrap(provisioner.EUNAVAILABLE, err, "prices: cannot write s3://%s/%s: %v", bucket, PricesKey, err)
	}
	return nil
}

// objectLayer reads a price table object; a missing one is absent.
func objectLayer(client *s3sdk.Client, bucket, key string) prices.Loader {
	load := s3.ObjectLoader(client, bucket, key)
	return func(ctx context.Context, stamp string) ([]byte, string, error) {
		data, st, err := load(ctx, stamp)
		if s3.IsNotFound(err) {
			return nil, "", fmt.Errorf("%w: %v", prices.ErrAbsent, err)
		}
		return data, st, err
	}
}
