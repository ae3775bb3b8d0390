package dynamodb

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The table's key schema, index and TTL attribute (see the package doc).
// deploy/provisioner.yaml must declare the same.
const (
	PartitionKey      = attrPK     // S, HASH
	SortKey           = attrSK     // S, RANGE
	IndexName         = "gsi1"     // global secondary index, projection ALL
	IndexPartitionKey = attrGSI1PK // S, HASH of IndexName
	IndexSortKey      = attrGSI1SK // S, RANGE of IndexName
	TTLAttribute      = attrTTL    // N, epoch seconds
)

// TableSchema returns the CreateTable input of a store table named name:
// on-demand capacity, server-side encryption, the keys and the index of the
// package doc. TTL is a separate call (UpdateTimeToLive); CreateTable makes
// both.
func TableSchema(name string) *ddb.CreateTableInput {
	s := func(n string) types.AttributeDefinition {
		return types.AttributeDefinition{AttributeName: aws.String(n), AttributeType: types.ScalarAttributeTypeS}
	}
	k := func(n string, t types.KeyType) types.KeySchemaElement {
		return types.KeySchemaElement{AttributeName: aws.String(n), KeyType: t}
	}
	return &ddb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			s(PartitionKey), s(SortKey), s(IndexPartitionKey), s(IndexSortKey),
		},
		KeySchema: []types.KeySchemaElement{k(PartitionKey, types.KeyTypeHash), k(SortKey, types.KeyTypeRange)},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName:  aws.String(IndexName),
			KeySchema:  []types.KeySchemaElement{k(IndexPartitionKey, types.KeyTypeHash), k(IndexSortKey, types.KeyTypeRange)},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}},
		SSESpecification: &types.SSESpecification{Enabled: aws.Bool(true)},
	}
}

// CreateTable creates a store table named name, waits until it is active
// (at most two minutes) and turns TTL on. Tests use it; deployments declare
// the table in CloudFormation instead.
func CreateTable(ctx context.Context, client *ddb.Client, name string) error {
	if _, err := client.CreateTable(ctx, TableSchema(name)); err != nil {
		return storeError(ctx, err, "create table")
	}
	w := ddb.NewTableExistsWaiter(client, func(o *ddb.TableExistsWaiterOptions) {
		o.MinDelay = 100 * time.Millisecond
		o.MaxDelay = 5 * time.Second
	})
	if err := w.Wait(ctx, &ddb.DescribeTableInput{TableName: aws.String(name)}, 2*time.Minute); err != nil {
		return storeError(ctx, err, "wait for table")
	}
	_, err := client.UpdateTimeToLive(ctx, &ddb.UpdateTimeToLiveInput{
		TableName: aws.String(name),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(TTLAttribute), Enabled: aws.Bool(true),
		},
	})
	if err != nil {
		return storeError(ctx, err, "enable TTL")
	}
	return nil
}
