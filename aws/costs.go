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
	"provisioner/budgets"
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
	switch {
	case c.SpendSource != nil:
		b.Spend = c.SpendSource
	case !c.NoCostExplorer:
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

// budgets is the operator's budgets: inline ones, parsed now (FromEnv
// checked them), or a loader of the S3 object (s3://BUCKET/KEY, or a KEY
// in the project bucket) that the app calls at first use, so that a cold
// start makes no AWS call; a bad object fails what needs the budgets
// (the app answers 503 and tries again), never lets a DEPLOY through
// unchecked. Budgets need the spend: with Cost Explorer off they are
// refused.
func (c Config) budgets(sdk awssdk.Config, log *slog.Logger) ([]provisioner.Budget, func(context.Context) ([]provisioner.Budget, error), error) {
	v := strings.TrimSpace(c.Budgets)
	switch {
	case v == "":
		return nil, nil, nil
	case c.NoCostExplorer && c.SpendSource == nil:
		return nil, nil, fmt.Errorf("PROVISIONER_BUDGETS needs the spend from Cost Explorer, which PROVISIONER_COST_EXPLORER turns off")
	case strings.HasPrefix(v, "{"):
		b, err := budgets.Parse([]byte(v))
		if err != nil {
			return nil, nil, fmt.Errorf("PROVISIONER_BUDGETS: %v", err)
		}
		return b, nil, nil
	}
	bucket, key := c.ProjectBucket, v
	if strings.HasPrefix(key, "s3://") {
		var err error
		if bucket, key, err = s3.ParseObjectURL(key); err != nil {
			return nil, nil, fmt.Errorf("PROVISIONER_BUDGETS: %w", err)
		}
	} else if bucket == "" {
		return nil, nil, fmt.Errorf("PROVISIONER_BUDGETS names a key (%s) but PROVISIONER_PROJECT_BUCKET is not set", key)
	}
	load := s3.ObjectLoader(c.s3(sdk), bucket, key)
	return nil, func(ctx context.Context) ([]provisioner.Budget, error) {
		data, _, err := load(ctx, "")
		if err == nil {
			var b []provisioner.Budget
			if b, err = budgets.Parse(data); err == nil {
				log.Info("budgets", "object", "s3://"+bucket+"/"+key, "budgets", len(b))
				return b, nil
			}
			err = fmt.Errorf("s3://%s/%s: %v", bucket, key, err)
		}
		log.Error("PROVISIONER_BUDGETS cannot be read: what needs the budgets fails until it can", "err", err)
		return nil, fmt.Errorf("PROVISIONER_BUDGETS: %v", err)
	}, nil
}
